# knn.gp: figure (c): kNN top-1 accuracy against the budget spent, one line per run in /runs;
# the baseline is thick and dashed, and a horizontal line marks its final kNN accuracy.
# A NaN in a run's kNN column (no evaluation there) breaks its line.
# Data: runs_knn.dat (an index per run: budget knn_pct), labels and kinds in vars.gp.

figw = 9
figh = 6
load scriptdir . '/common.gp'

set title sprintf('%s: kNN top-1 accuracy against budget', study_name)
if (msg_knn ne '') {
    nodata_msg = msg_knn
    load scriptdir . '/nodata.gp'
    exit
}
set xlabel 'budget spent (units: forward passes of one sample through the uncompressed model)'
set ylabel 'kNN top-1 accuracy (%)'
set format x '%.1s%c'
set key bottom right opaque box lc rgb '#c0c0c0' spacing 1.2
set offsets 0, 0, 1, 1
is_base(i) = run_kind[i] eq 'baseline'
# dt (...) would read as a custom dash pattern: the dash type goes through a function.
base_dt(i) = is_base(i) ? 2 : 1
if (knn_note ne '') {
    set label 1 knn_note at graph 0.02, graph 0.96 tc rgb nodata_color
}
if (base_knn == base_knn) {
    plot for [i = 1:runs_n] datadir . '/runs_knn.dat' index (i - 1) using 1:2 \
             with linespoints lw (is_base(i) ? 3 : 1.5) dt base_dt(i) \
             lc (is_base(i) ? -1 : i) pt 7 ps 0.6 title run_label[i], \
         base_knn with lines lw 1 dt 3 lc rgb '#555555' \
             title sprintf('%s: final kNN %.1f%%', base_label, base_knn)
} else {
    plot for [i = 1:runs_n] datadir . '/runs_knn.dat' index (i - 1) using 1:2 \
             with linespoints lw (is_base(i) ? 3 : 1.5) dt base_dt(i) \
             lc (is_base(i) ? -1 : i) pt 7 ps 0.6 title run_label[i]
}
