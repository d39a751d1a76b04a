# schedule.gp: figure (e): the searched schedule over the budget: patch side (top) and keep
# ratio (bottom) as steps against the percentage of budget spent; each phase is labelled with
# the branches it compresses. Data: schedule.dat (start_pct P keep branches, closed at 100 %),
# schedule_mid.dat (mid_pct P keep name).

figw = 9
figh = 6.5
load scriptdir . '/common.gp'

if (msg_sched ne '') {
    set title sprintf('%s: the searched schedule', study_name)
    nodata_msg = msg_sched
    load scriptdir . '/nodata.gp'
    exit
}
set multiplot layout 2, 1 title sprintf('%s: the searched schedule (%d phases)', study_name, sched_n)
set xrange [0:100]
set xtics 10
set offsets 0, 0, 0.5, 0.5
set lmargin 12   # the two panels' x axes line up

set title 'patch side'
set xlabel 'budget spent (%)'
set ylabel 'patch side P (pixels)'
set ytics 1
plot datadir . '/schedule.dat' using 1:2 with steps lw 2.5 lc rgb '#1f77b4', \
     datadir . '/schedule_mid.dat' using 1:2:(sprintf('P%d', $2)) with labels offset 0, 0.8 tc rgb '#1f77b4'

set title 'keep ratio'
set ylabel 'keep ratio r (fraction of patch tokens kept)'
set yrange [0:1.15]
set ytics 0.25
set offsets 0, 0, 0, 0
plot datadir . '/schedule.dat' using 1:3 with steps lw 2.5 lc rgb '#d62728', \
     datadir . '/schedule_mid.dat' using 1:3:(sprintf('r%.2f, %s', $3, stringcolumn(4))) with labels offset 0, 0.8 tc rgb '#d62728'
unset multiplot
