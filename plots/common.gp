# common.gp: terminal, output and styles shared by every figure of `hasten plot`.
# The caller sets: term ('png', 'pdf' or 'svg'), out (the output path), figw and figh (the
# figure's size in inches); vars.gp (written by hasten plot) is loaded before the script.
#
# Missing values are written as NaN. gnuplot 5.4 treats NaN as an invalid point and breaks a
# line there, which is what we want; `set datafile missing NaN` would instead make NaN
# "missing" and draw the line straight across the gap, so it is deliberately not set here.

if (term eq 'png') {
    if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
        set terminal pngcairo size figw * 100, figh * 100 font 'sans,10' noenhanced
    } else {
        set terminal png size figw * 100, figh * 100 noenhanced
    }
} else {
    if (term eq 'pdf') {
        if (strstrt(GPVAL_TERMINALS, 'pdfcairo') == 0) {
            exit error 'this gnuplot has no pdfcairo terminal: use --format svg'
        }
        set terminal pdfcairo size figw, figh font 'sans,7' noenhanced
    } else {
        set terminal svg size figw * 100, figh * 100 font 'sans,10' noenhanced background '#ffffff'
    }
}
set output out

set style line 100 lc rgb '#d0d0d0' lw 1       # the crowd: every other strategy
set grid back lc rgb '#e8e8e8' lw 1
set border 3 back
set tics nomirror out
set key noautotitle
nodata_color = '#b00000'
