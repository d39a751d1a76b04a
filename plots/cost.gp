# cost.gp: figure (a): measured cost per sample of each strategy relative to strategy 0, over
# (patch side, keep ratio); one panel for online-compressed strategies, a second for
# both-compressed ones when the study has any. Data: cost_online.dat, cost_both.dat
# (xi yi P keep rel_cost). Strategy 0 sits in each panel at (P0, 1).

npanel = cost_nboth > 0 ? 2 : 1
figw = npanel == 2 ? 12 : 6.5
figh = 5.5
load scriptdir . '/common.gp'

set multiplot layout 1, npanel title sprintf('%s: measured cost of a training step per sample, relative to strategy 0 (uncompressed; its cell is P%d, r1.00)', study_name, cost_p0)
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')
if (cost_min == cost_min && cost_max > cost_min) { set cbrange [cost_min:cost_max] }
set cblabel 'cost per sample / cost of strategy 0 (ratio)'
mid = (cost_min == cost_min && cost_max > cost_min) ? (cost_min + cost_max) / 2 : 0
# Dark cells get white numbers, light ones black; a cell without a measurement stays blank
# (valid(), since an expression on a NaN field makes the whole label NaN).
textcolor(v) = v < mid ? 0xffffff : 0x000000

do for [p = 1:npanel] {
    file = datadir . (p == 1 ? '/cost_online.dat' : '/cost_both.dat')
    msg = p == 1 ? msg_cost_online : msg_cost_both
    set title (p == 1 ? 'online branch compressed (asymmetric)' : 'both branches compressed (symmetric)')
    if (msg ne '') {
        nodata_msg = msg
        load scriptdir . '/nodata.gp'
    } else {
        set xlabel 'patch side P (pixels)'
        set ylabel 'keep ratio r (fraction of patch tokens kept)'
        set xrange [-0.5:cost_nx - 0.5]
        set yrange [-0.5:cost_ny - 0.5]
        set grid noxtics noytics
        set tics scale 0
        plot file using 1:2:(0.5):(0.5):5:xtic(3):ytic(4) with boxxyerror fillstyle solid 1.0 noborder fillcolor palette, \
             '' using 1:2:(valid(5) ? sprintf('%.2f', $5) : 'not measured'):(valid(5) ? textcolor($5) : 0x808080) \
                with labels textcolor rgb variable
        set tics scale 1
        set grid
    }
}
unset multiplot
