# plot.gp - the bench plots, as SVG, from the numbers bench/bench.py leaves
# in DIR/plotdata/.
#
#	gnuplot -e "dir='results/DATE-HOST'" bench/plot.gp
#
# DIR/plotdata/vars.gp (written by bench.py) names what exists:
#	targets		models (and "redis") with a throughput curve
#	labels		runs: c1 c10 ... k0-c10
#	lat_I		targets with a latency curve for the I-th label
#	connlabels	the runs shown in connect.svg
#	conn_I		targets with a connect curve for its I-th run
#	floor		1 if bin/pingpong's figures are there
#	lfloor		1 if the loadgen floor (pingpong --serve) curve is
# Data files:
#	tput-T.dat		sessions  requests/s  min  max	(persistent runs:
#				the median round, the slowest and fastest)
#	floor.dat		1  round trips/s	(bin/pingpong)
#	lat-T-L.dat		us  percentile  1/(1-p)
#	conn-T-L.dat		the same for connect()
#	lat-pingpong-c1.dat	the floor's RTT curve
#	lat-pingpong-server-c1.dat  loadgen against pingpong --serve

if (!exists("dir")) dir = "."
pd = dir . "/plotdata/"
load pd . "vars.gp"

set terminal svg size 900,560 dynamic enhanced font "sans,13" background "white"
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key outside right top noenhanced
set border 3
set tics nomirror

# One line type per target, the same in every plot (its place in
# targets); redis-server black and dashed.
colors = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf"
set for [i=1:10] linetype i lc rgb word(colors, i) dashtype solid \
	linewidth 2 pointtype (i - 1) % 8 + 4
set for [i=11:19] linetype i lc rgb word(colors, i - 10) dashtype 3 \
	linewidth 2 pointtype (i - 1) % 8 + 4
set linetype 20 lc rgb "black" dashtype 2 linewidth 2 pointtype 6
pad(s) = " " . s . " "
ci(t) = (t eq "redis") ? 20 : \
	words(substr(pad(targets), 1, strstrt(pad(targets), pad(t)))) + 1
title_of(t) = (t eq "redis") ? "redis-server (reference)" : t

# --- throughput against sessions ----------------------------------------
set output dir . "/throughput.svg"
set title "Throughput against concurrent persistent sessions (closed loop)" noenhanced
set logscale x 10
set xlabel "concurrent sessions"
set ylabel "requests / s"
set yrange [0:*]
set format y "%.0s%c"
set xrange [0.7:*]
# Error bars: the slowest and the fastest round.
set bars small
if (floor) {
	plot for [t in targets] pd . "tput-" . t . ".dat" using 1:2:3:4 \
		with yerrorlines lt ci(t) title title_of(t), \
	     pd . "floor.dat" using 1:2 with points pt 7 ps 1.6 \
		lc rgb "black" title "pingpong floor (1 session)"
} else {
	plot for [t in targets] pd . "tput-" . t . ".dat" using 1:2:3:4 \
		with yerrorlines lt ci(t) title title_of(t)
}

# --- latency percentile curves, one plot per run --------------------------
unset logscale
set logscale xy 10
set xrange [1:100000]
set yrange [*:*]
set format y "%g"
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, \
	"99.99%%" 10000, "99.999%%" 100000)
set xlabel "percentile"
set ylabel "latency (µs)"
do for [i=1:words(labels)] {
	lab = word(labels, i)
	set output dir . "/latency-" . lab . ".svg"
	set title "Request latency by percentile, run " . lab . \
		" (" . (lab[1:2] eq "k0" ? "connection per request" : \
		"persistent sessions") . ")" noenhanced
	lt_list = value(sprintf("lat_%d", i))
	if (words(lt_list) == 0) {
		set label 1 "no completed requests in this run" at graph 0.5, 0.5 center
		plot NaN notitle
		unset label 1
	} else { if (floor && lfloor && lab eq "c1") {
		plot for [t in lt_list] pd . "lat-" . t . "-" . lab . ".dat" \
			using 3:1 with steps lt ci(t) title title_of(t), \
		     pd . "lat-pingpong-c1.dat" using 3:1 with lines \
			lc rgb "black" dashtype 3 lw 2 title "pingpong floor", \
		     pd . "lat-pingpong-server-c1.dat" using 3:1 with steps \
			lc rgb "#555555" dashtype 2 lw 2 \
			title "loadgen floor (pingpong --serve)"
	} else { if (floor && lab eq "c1") {
		plot for [t in lt_list] pd . "lat-" . t . "-" . lab . ".dat" \
			using 3:1 with steps lt ci(t) title title_of(t), \
		     pd . "lat-pingpong-c1.dat" using 3:1 with lines \
			lc rgb "black" dashtype 3 lw 2 title "pingpong floor"
	} else {
		plot for [t in lt_list] pd . "lat-" . t . "-" . lab . ".dat" \
			using 3:1 with steps lt ci(t) title title_of(t)
	} } }
}

# --- connect-time distribution -----------------------------------------
set output dir . "/connect.svg"
set terminal svg size 1150,520 dynamic enhanced font "sans,13" background "white"
set multiplot layout 1, words(connlabels) title "connect() time: cumulative distribution" noenhanced
unset logscale
set logscale x 10
set xrange [*:*]
set yrange [0:100]
set xtics auto
set format x "%g"
set xlabel "connect time (µs)"
set ylabel "% of connects done"
do for [i=1:words(connlabels)] {
	lab = word(connlabels, i)
	# One key, beside the last panel, for all of them.
	if (i < words(connlabels)) { unset key } else { set key outside right top }
	set title "run " . lab noenhanced
	cl = value(sprintf("conn_%d", i))
	if (words(cl) == 0) {
		plot NaN notitle
	} else {
		plot for [t in cl] pd . "conn-" . t . "-" . lab . ".dat" \
			using 1:2 with steps lt ci(t) title title_of(t)
	}
}
unset multiplot
