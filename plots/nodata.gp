# nodata.gp: one empty panel carrying the message nodata_msg (set by the caller) in its middle,
# so that a panel without finite data says so inside the image. Restores what it changes.
set xrange [0:1]
set yrange [0:1]
unset logscale
unset xtics
unset ytics
unset grid
unset key
set border 15 lc rgb '#b0b0b0'
set label 99 nodata_msg at graph 0.5, 0.5 center front tc rgb nodata_color font ',12'
plot NaN notitle
unset label 99
set xtics
set ytics
set grid
set border 3 back lc rgb 'black'
set xrange [*:*]
set yrange [*:*]
