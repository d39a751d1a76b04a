# gradstats.gp: figure (b): CA-MSE, bias² and cost-adjusted variance of every strategy at each
# measured stage, relative to |mean g0|², on log axes. Every strategy is a thin grey line;
# strategy 0 (black) and the strategies of least CA-MSE at some stage (colours) are drawn on
# top with their 95% intervals. Values <= 0 (debiased bias² below the noise) cannot sit on a
# log axis: they are NaN in the data, so their lines break there, and the key counts them.
# Data: gs_all.dat (a block per strategy), gs_hi.dat (an index per highlighted strategy).

figw = 12
figh = 9
load scriptdir . '/common.gp'

if (msg_gs ne '') {
    set title sprintf('%s: gradient-estimation error per strategy', study_name)
    nodata_msg = msg_gs
    load scriptdir . '/nodata.gp'
    exit
}

array qname[3] = ['CA-MSE = bias² + cost × variance', 'bias² (debiased)', 'cost-adjusted variance (cost × variance)']
array qmsg[3] = [msg_gs_camse, msg_gs_bias2, msg_gs_cvar]
array qlo[3] = [gs_ylo_camse, gs_ylo_bias2, gs_ylo_cvar]
array qhi[3] = [gs_yhi_camse, gs_yhi_bias2, gs_yhi_cvar]
array qneg[3] = [gs_nneg_camse, gs_nneg_bias2, gs_nneg_cvar]
hcolor(h) = h == 1 ? '#000000' : '#' . word('1f77b4 d62728 2ca02c ff7f0e 9467bd 8c564b e377c2', (h - 2) % 7 + 1)

set multiplot layout 2, 2 title sprintf('%s: gradient-estimation error of %d strategies at %d stages (relative to |mean g0|², 95%% intervals)', study_name, gs_nstrat, gs_nstage)
do for [q = 1:3] {
    set title qname[q]
    if (qmsg[q] ne '') {
        nodata_msg = qmsg[q]
        load scriptdir . '/nodata.gp'
    } else {
        set xlabel 'stage (% of the baseline run''s budget)'
        set ylabel sprintf('%s / |mean g0|² (ratio)', q == 1 ? 'CA-MSE' : q == 2 ? 'bias²' : 'cost × variance')
        set logscale y
        set format y '%.0e'
        set xrange [-4:104]
        set xtics 0, 25, 100
        set yrange [qlo[q]:qhi[q]]
        if (qneg[q] > 0) {
            set label 1 sprintf('%d value%s <= 0: not drawable on a log axis (gaps)', qneg[q], qneg[q] == 1 ? '' : 's') at graph 0.02, graph 0.04 tc rgb nodata_color
        }
        plot datadir . '/gs_all.dat' using 1:(column(q + 1)) with lines ls 100, \
             for [h = gs_nhi:1:-1] datadir . '/gs_hi.dat' index (h - 1) using 1:(column(3 * q - 1)):(column(3 * q)):(column(3 * q + 1)) \
                 with yerrorlines lw (h == 1 ? 2.5 : 1.8) lc rgb hcolor(h) pt 7 ps 0.6
        unset label 1
        unset logscale y
        set format y '% h'
    }
}

# The fourth panel is the key, shared by the three above.
set title 'strategies (#index: patch side, keep ratio, compressed branches)'
unset border
unset tics
unset grid
unset xlabel
unset ylabel
set xrange [0:1]
set yrange [0:1]
set key center center vertical reverse Left samplen 3 spacing 1.3 width 2
set label 2 "Values <= 0 (a debiased bias² below the noise of the means) cannot sit on a\nlog axis: their lines break there. An interval whose lower end is <= 0\nruns to the bottom of its panel." at graph 0.02, graph 0.12 left tc rgb nodata_color
plot NaN with lines ls 100 title sprintf('the other %d strategies', gs_nstrat - gs_nhi), \
     for [h = 1:gs_nhi] NaN with linespoints lw (h == 1 ? 2.5 : 1.8) lc rgb hcolor(h) pt 7 ps 0.6 title gs_label[h]
unset multiplot
