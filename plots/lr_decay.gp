# lr_decay.gp: figure (d): cosine against polynomial learning-rate decay: the learning rate of
# each run with lr_decay cosine or poly over its budget (left), and their kNN top-1 against
# budget (right); cosine runs blue, polynomial runs red. When only one kind is present, both
# panels say so. Data: lr_curve.dat (budget_pct lr), lr_knn.dat (budget knn_pct).

figw = 13
figh = 5.5
load scriptdir . '/common.gp'

dcolor(d) = d eq 'cosine' ? '#1f77b4' : '#d62728'
# dt (...) would read as a custom dash pattern: the dash type goes through a function.
run_dt(i) = (i - 1) % 4 + 1
set multiplot layout 1, 2 title sprintf('%s: cosine against polynomial learning-rate decay', study_name)

set title 'learning rate over the budget'
if (msg_lr_curve ne '') {
    nodata_msg = msg_lr_curve
    load scriptdir . '/nodata.gp'
} else {
    set xlabel 'budget spent (% of the run''s budget)'
    set ylabel 'learning rate (per step)'
    set xrange [0:100]
    set format y '%.1e'
    set key top right
    if (lr_note ne '') {
        set label 1 lr_note at graph 0.5, graph 1.02 center tc rgb nodata_color
    }
    plot for [i = 1:lr_ncurve] datadir . '/lr_curve.dat' index (i - 1) using 1:2 with lines lw 2 \
         lc rgb dcolor(lrc_decay[i]) dt run_dt(i) title sprintf('%s (%s)', lrc_label[i], lrc_decay[i])
    unset label 1
    set format y '% h'
    set xrange [*:*]
}

set title 'kNN top-1 against budget'
if (msg_lr_knn ne '') {
    nodata_msg = msg_lr_knn
    load scriptdir . '/nodata.gp'
} else {
    set xlabel 'budget spent (units: uncompressed forward passes of one sample)'
    set ylabel 'kNN top-1 accuracy (%)'
    set format x '%.1s%c'
    set key bottom right
    set offsets 0, 0, 1, 1
    if (lr_note ne '') {
        set label 1 lr_note at graph 0.5, graph 1.02 center tc rgb nodata_color
    }
    plot for [i = 1:lr_nknn] datadir . '/lr_knn.dat' index (i - 1) using 1:2 with linespoints lw 2 \
         lc rgb dcolor(lrk_decay[i]) dt run_dt(i) pt 7 ps 0.6 title sprintf('%s (%s)', lrk_label[i], lrk_decay[i])
}
unset multiplot
