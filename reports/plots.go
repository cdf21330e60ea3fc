package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is one plot of a scenario as a standalone SVG document.
type Figure struct {
	// ID is stable and short: latency, errors, targets, status, distribution.
	ID    string
	Title string
	// Caption says how to read the plot.
	Caption string
	SVG     []byte
}

// Plot geometry. The legend sits in a strip right of the data area so it never
// covers a line.
const (
	figWidth     = 8 * vg.Inch
	figHeight    = 2.9 * vg.Inch
	legendStrip  = 1.7 * vg.Inch
	distribWidth = 8 * vg.Inch
)

var (
	// FaultColor shades fault windows; tests find the windows by it.
	FaultColor = color.NRGBA{R: 0xE0, G: 0x40, B: 0x30, A: 0x38}
	faultInk   = color.NRGBA{0x90, 0x20, 0x10, 0xFF}
	// WarmUpColor shades the start of a soak that its trend test leaves out.
	WarmUpColor = color.NRGBA{R: 0x80, G: 0x80, B: 0x88, A: 0x30}
	warmUpInk   = color.NRGBA{0x50, 0x50, 0x58, 0xFF}
	// gridColor draws the vertical grid lines at the time axis' major ticks.
	gridColor = color.NRGBA{R: 0xC8, G: 0xC8, B: 0xD0, A: 0xFF}
	// palette is Tableau 10: distinguishable and colour-blind tolerant.
	palette = []color.Color{
		color.NRGBA{0x4E, 0x79, 0xA7, 0xFF}, color.NRGBA{0xF2, 0x8E, 0x2B, 0xFF},
		color.NRGBA{0x59, 0xA1, 0x4F, 0xFF}, color.NRGBA{0xB0, 0x7A, 0xA1, 0xFF},
		color.NRGBA{0x76, 0xB7, 0xB2, 0xFF}, color.NRGBA{0xED, 0xC9, 0x48, 0xFF},
		color.NRGBA{0xFF, 0x9D, 0xA7, 0xFF}, color.NRGBA{0x9C, 0x75, 0x5F, 0xFF},
		color.NRGBA{0xBA, 0xB0, 0xAC, 0xFF}, color.NRGBA{0xE1, 0x57, 0x59, 0xFF},
	}
	sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

// Figures draws every plot of a record.
func Figures(r *Record) ([]Figure, error) {
	type maker struct {
		id, title, caption string
		make               func(*Record) (*plot.Plot, *plot.Legend, error)
	}
	makers := []maker{
		{"latency", "Latency over time", "p50 and p99 of the requests sent in each interval; shaded: fault windows.", latencyPlot},
		{"errors", "Error rate over time", "Share of requests without a 2xx/3xx answer in each interval; shaded: fault windows.", errorPlot},
		{"targets", "Traffic share per target", "Share of each interval's requests answered by each upstream (X-Mockbin-Instance); the gap to 100% got no upstream answer.", targetPlot},
		{"status", "Status codes over time", "Responses per second by status code (0: no response).", statusPlot},
		{"distribution", "Latency distribution", "Latency by percentile over the whole run (HDR-style: the tail is stretched on a log axis).", distributionPlot},
	}
	if r.Resources != nil && len(r.Resources.Samples) > 0 {
		makers = append(makers,
			maker{"rss", "Memory over time", "The gateway's resident set (RSS) and in-use heap at each sample; shaded: fault windows, grey: the warm-up the trend test leaves out.", rssPlot},
			maker{"goroutines", "Goroutines over time", "The gateway's goroutines at each sample (one or more per open connection); shaded: fault windows, grey: warm-up.", goroutinePlot},
			maker{"fds", "Open file descriptors over time", "The gateway's open fds at each sample: client and upstream sockets, files; shaded: fault windows, grey: warm-up.", fdPlot},
			maker{"window-latency", "Latency per sample window", "p50 and p99 of the requests sent in the window each sample closes; shaded: fault windows, grey: warm-up.", windowLatencyPlot},
		)
	}
	if r.Generator != nil && len(r.Series) > 0 {
		makers = append(makers, maker{"lag", "Load generator lag", "How far behind its constant-rate schedule the load generator sent each interval's requests (actual − planned send time), p99 and max; shaded: fault windows. Large lag means the machine, not the gateway, shaped the interval.", lagPlot})
	}
	if m := r.Machine; m != nil && len(m.Samples) > 0 {
		makers = append(makers, maker{"machine", "Machine CPU", "The host's CPU time not idle, stolen by a hypervisor, and the share of time some task waited for a CPU (pressure), read from /proc every interval; shaded: fault windows.", machinePlot})
	}
	figs := make([]Figure, 0, len(makers))
	for _, m := range makers {
		p, leg, err := m.make(r)
		if err != nil {
			return nil, fmt.Errorf("plot %s of %q: %w", m.id, r.Scenario, err)
		}
		svg, err := renderSVG(p, leg)
		if err != nil {
			return nil, fmt.Errorf("plot %s of %q: %w", m.id, r.Scenario, err)
		}
		figs = append(figs, Figure{ID: m.id, Title: m.title, Caption: m.caption, SVG: svg})
	}
	return figs, nil
}

// renderSVG draws the plot left of the legend strip.
func renderSVG(p *plot.Plot, leg *plot.Legend) (svg []byte, err error) {
	// gonum/plot panics on some degenerate inputs; a report must still be
	// written for the other scenarios.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("draw: %v", v)
		}
	}()
	c := vgsvg.New(figWidth, figHeight)
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -legendStrip, 0, 0))
	if leg != nil {
		lc := draw.Crop(dc, figWidth-legendStrip+8, 0, 0, -10)
		leg.Draw(lc)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func newPlot(ylabel string) (*plot.Plot, *plot.Legend) {
	p := plot.New()
	for _, ts := range []*font.Font{
		&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font,
	} {
		size := ts.Size
		*ts = sansFont
		ts.Size = size
	}
	p.X.Label.TextStyle.Font.Size = 10
	p.Y.Label.TextStyle.Font.Size = 10
	p.X.Tick.Label.Font.Size = 9
	p.Y.Tick.Label.Font.Size = 9
	p.Y.Label.Text = ylabel
	p.Y.Tick.Marker = plainTicks{}
	leg := plot.NewLegend()
	leg.TextStyle.Font = sansFont
	leg.TextStyle.Font.Size = 9
	leg.Top, leg.Left = true, true
	leg.ThumbnailWidth = 0.3 * vg.Inch
	leg.Padding = 2.5 // points between entries, or the swatches touch
	return p, &leg
}

// timePlot is a plot over the record's time axis, grid lines on the major
// ticks and the fault windows shaded under the data.
func timePlot(r *Record, ylabel string) (*plot.Plot, *plot.Legend) {
	p, leg := newPlot(ylabel)
	p.X.Label.Text = "time since start (s)"
	p.X.Min, p.X.Max = 0, math.Max(r.TimeAxis().Seconds(), 1)
	p.X.Tick.Marker = SecondsTicker{}
	grid := plotter.NewGrid()
	grid.Vertical.Color = gridColor
	grid.Horizontal.Color = color.NRGBA{0xEE, 0xEE, 0xEE, 0xFF}
	p.Add(grid)
	if rs := r.Resources; rs != nil && rs.WarmUp > 0 {
		// Unnamed on the plot: the faults' names take the top of the band.
		warm := bands{windows: []Window{{To: rs.WarmUp}}, fill: WarmUpColor, ink: warmUpInk}
		p.Add(warm)
		leg.Add("warm-up", warm)
	}
	faults := bands{windows: r.FaultWindows(), fill: FaultColor, ink: faultInk}
	p.Add(faults)
	if len(faults.windows) > 0 {
		leg.Add("fault", faults)
	}
	return p, leg
}

// mid is an interval's midpoint on the time axis in seconds.
func mid(iv Interval) float64 { return (iv.Offset + iv.Width/2).Seconds() }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func addLine(p *plot.Plot, leg *plot.Legend, name string, xys plotter.XYs, c color.Color, width vg.Length) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("line %s: %w", name, err)
	}
	l.Color = c
	l.Width = width
	p.Add(l)
	leg.Add(name, l)
	return nil
}

func latencyPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	p, leg := timePlot(r, "latency (ms)")
	var p50, p99 plotter.XYs
	for _, iv := range plotted(r) {
		if iv.Requests == 0 {
			continue
		}
		p50 = append(p50, plotter.XY{X: mid(iv), Y: ms(iv.P50)})
		p99 = append(p99, plotter.XY{X: mid(iv), Y: ms(iv.P99)})
	}
	return p, leg, latencyLines(p, leg, p50, p99)
}

// windowLatencyPlot draws a soak's latency per sample window, at the sample.
func windowLatencyPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	p, leg := timePlot(r, "latency (ms)")
	var p50, p99 plotter.XYs
	for _, s := range r.Resources.Samples {
		if s.Requests == 0 {
			continue
		}
		p50 = append(p50, plotter.XY{X: s.Offset.Seconds(), Y: ms(s.P50)})
		p99 = append(p99, plotter.XY{X: s.Offset.Seconds(), Y: ms(s.P99)})
	}
	return p, leg, latencyLines(p, leg, p50, p99)
}

// latencyLines draws p50 and p99 lines, on a log axis when they span more
// than a factor of 50.
func latencyLines(p *plot.Plot, leg *plot.Legend, p50, p99 plotter.XYs) error {
	var lo, hi float64 = math.Inf(1), 0
	for _, xys := range []plotter.XYs{p50, p99} {
		for _, xy := range xys {
			if xy.Y > 0 {
				lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
			}
		}
	}
	if hi > 0 && hi/lo > 50 {
		// A latency fault moves p99 by orders of magnitude; a linear axis
		// would flatten the healthy part to a line at zero.
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
		p50, p99 = positive(p50), positive(p99)
	} else {
		p.Y.Min = 0
	}
	if err := addLine(p, leg, "p50", p50, palette[0], 1.5); err != nil {
		return err
	}
	return addLine(p, leg, "p99", p99, palette[1], 1.5)
}

const mib = 1 << 20

// gaugePlot draws gauges read at each resource sample, on an axis from 0 so
// growth reads against the level it grows from.
func gaugePlot(r *Record, ylabel string, lines []gaugeLine) (*plot.Plot, *plot.Legend, error) {
	p, leg := timePlot(r, ylabel)
	peak := 0.0
	for i, g := range lines {
		var xys plotter.XYs
		for _, s := range r.Resources.Samples {
			v := g.value(s)
			peak = math.Max(peak, v)
			xys = append(xys, plotter.XY{X: s.Offset.Seconds(), Y: v})
		}
		if err := addLine(p, leg, g.name, xys, palette[i%len(palette)], 1.5); err != nil {
			return nil, nil, err
		}
	}
	p.Y.Min, p.Y.Max = 0, math.Max(1, peak*1.15)
	return p, leg, nil
}

type gaugeLine struct {
	name  string
	value func(ResourceSample) float64
}

func rssPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	return gaugePlot(r, "memory (MiB)", []gaugeLine{
		{"RSS", func(s ResourceSample) float64 { return s.RSSBytes / mib }},
		{"heap in use", func(s ResourceSample) float64 { return s.HeapBytes / mib }},
	})
}

func goroutinePlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	return gaugePlot(r, "goroutines", []gaugeLine{{"goroutines", func(s ResourceSample) float64 { return s.Goroutines }}})
}

func fdPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	return gaugePlot(r, "open fds", []gaugeLine{{"open fds", func(s ResourceSample) float64 { return s.OpenFDs }}})
}

func positive(xys plotter.XYs) plotter.XYs {
	out := xys[:0:0]
	for _, xy := range xys {
		if xy.Y > 0 {
			out = append(out, xy)
		}
	}
	return out
}

func lagPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	p, leg := timePlot(r, "lag (ms)")
	var p99, mx plotter.XYs
	peak := 0.0
	for _, iv := range plotted(r) {
		if iv.Requests == 0 {
			continue
		}
		p99 = append(p99, plotter.XY{X: mid(iv), Y: ms(iv.LagP99)})
		mx = append(mx, plotter.XY{X: mid(iv), Y: ms(iv.LagMax)})
		peak = math.Max(peak, ms(iv.LagMax))
	}
	p.Y.Min, p.Y.Max = 0, math.Max(1, peak*1.15)
	if err := addLine(p, leg, "lag p99", p99, palette[0], 1.5); err != nil {
		return nil, nil, err
	}
	if err := addLine(p, leg, "lag max", mx, palette[1], 1.5); err != nil {
		return nil, nil, err
	}
	return p, leg, nil
}

func machinePlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	p, leg := timePlot(r, "CPU (% of time)")
	p.Y.Min, p.Y.Max = 0, 105
	var busy, steal, pressure plotter.XYs
	for _, s := range r.Machine.Samples {
		x := (s.Offset - s.Width/2).Seconds()
		busy = append(busy, plotter.XY{X: x, Y: 100 * s.Busy})
		steal = append(steal, plotter.XY{X: x, Y: 100 * s.Steal})
		pressure = append(pressure, plotter.XY{X: x, Y: 100 * s.Pressure})
	}
	if err := addLine(p, leg, "busy", busy, palette[0], 1.5); err != nil {
		return nil, nil, err
	}
	if err := addLine(p, leg, "steal", steal, palette[3], 1.5); err != nil {
		return nil, nil, err
	}
	if r.Machine.PressureMax > 0 {
		if err := addLine(p, leg, "pressure", pressure, palette[9], 1.5); err != nil {
			return nil, nil, err
		}
	}
	return p, leg, nil
}

func errorPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	p, leg := timePlot(r, "errors (% of requests)")
	var xys plotter.XYs
	peak := 0.0
	for _, iv := range plotted(r) {
		if iv.Requests == 0 {
			continue
		}
		e := 100 * (1 - iv.Success)
		peak = math.Max(peak, e)
		xys = append(xys, plotter.XY{X: mid(iv), Y: e})
	}
	p.Y.Min, p.Y.Max = 0, math.Min(100, math.Max(1, peak*1.15))
	if err := addLine(p, leg, "error rate", xys, palette[9], 1.5); err != nil {
		return nil, nil, err
	}
	return p, leg, nil
}

func targetPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	p, leg := timePlot(r, "share of requests (%)")
	p.Y.Min, p.Y.Max = 0, 105
	seen := map[string]bool{}
	for _, iv := range plotted(r) {
		for t := range iv.Targets {
			seen[t] = true
		}
	}
	targets := make([]string, 0, len(seen))
	for t := range seen {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	for i, t := range targets {
		var xys plotter.XYs
		for _, iv := range plotted(r) {
			if iv.Requests == 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: mid(iv), Y: 100 * float64(iv.Targets[t]) / float64(iv.Requests)})
		}
		if err := addLine(p, leg, t, xys, palette[i%len(palette)], 1.5); err != nil {
			return nil, nil, err
		}
	}
	return p, leg, nil
}

// codeColor keeps a status class recognisable across plots and scenarios:
// 2xx blue-green, 4xx orange-yellow, 5xx red, no response grey.
func codeColor(code string, nth int) color.Color {
	v, _ := strconv.Atoi(code)
	switch {
	case v == 0:
		return color.NRGBA{0x70, 0x70, 0x70, 0xFF}
	case v < 300:
		return []color.Color{palette[0], palette[2], palette[4]}[nth%3]
	case v < 400:
		return palette[3]
	case v < 500:
		return []color.Color{palette[1], palette[5], palette[7]}[nth%3]
	default:
		return []color.Color{palette[9], palette[6], palette[3]}[nth%3]
	}
}

func statusPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	p, leg := timePlot(r, "responses per second")
	p.Y.Min = 0
	all := map[string]int{}
	for _, iv := range plotted(r) {
		for c, n := range iv.StatusCodes {
			all[c] += n
		}
	}
	class := map[string]int{}
	for _, code := range sortedCodes(all) {
		var xys plotter.XYs
		series := plotted(r)
		for i, iv := range series {
			if iv.Width <= 0 {
				continue
			}
			span := sendSpan(r, iv, i == len(series)-1)
			xys = append(xys, plotter.XY{X: mid(iv), Y: float64(iv.StatusCodes[code]) / span.Seconds()})
		}
		cls := "" // an empty code would be a harness bug; still draw it
		if code != "" {
			cls = code[:1]
		}
		c := codeColor(code, class[cls])
		class[cls]++
		if err := addLine(p, leg, code, xys, c, 1.5); err != nil {
			return nil, nil, err
		}
	}
	return p, leg, nil
}

// plotted is the series the time plots draw: all of it but a trailing runt.
// The harness buckets by send time from the attack's start, so the last
// request or two can land alone in one more bucket; its p99 and target share
// would be one request's, and would read as a sudden change at the end.
func plotted(r *Record) []Interval {
	s := r.Series
	n := len(s)
	if n < 3 {
		return s
	}
	total := 0
	for _, iv := range s[:n-1] {
		total += iv.Requests
	}
	if mean := float64(total) / float64(n-1); float64(s[n-1].Requests) < 0.1*mean {
		return s[:n-1]
	}
	return s
}

// sendSpan is the part of an interval during which requests were sent: all of
// it but for the last, which the attack's end cuts short. Dividing the last
// bucket's count by its full width would draw a drop in traffic that never
// happened; its count at the run's achieved rate says how long it lasted.
func sendSpan(r *Record, iv Interval, last bool) time.Duration {
	if !last || r.Totals.Rate <= 0 || iv.Requests == 0 {
		return iv.Width
	}
	span := time.Duration(float64(iv.Requests) / r.Totals.Rate * float64(time.Second))
	return min(max(span, time.Millisecond), iv.Width)
}

// percentileTicks label the 1/(1-q) axis of the distribution plot in
// percentiles.
var percentileTicks = []plot.Tick{
	{Value: 1, Label: "0%"}, {Value: 2, Label: "50%"}, {Value: 10, Label: "90%"},
	{Value: 100, Label: "99%"}, {Value: 1e3, Label: "99.9%"}, {Value: 1e4, Label: "99.99%"},
	{Value: 1e5, Label: "99.999%"}, {Value: 1e6, Label: "99.9999%"},
}

// distribution is the latency by quantile, from Totals.Distribution or, when
// the harness left it empty, from the fixed percentiles.
func distribution(t *Totals) []Quantile {
	if len(t.Distribution) > 0 {
		return t.Distribution
	}
	l := t.Latencies
	return []Quantile{{0, l.Min}, {0.5, l.P50}, {0.9, l.P90}, {0.95, l.P95}, {0.99, l.P99}, {0.999, l.P999}, {1, l.Max}}
}

func distributionPlot(r *Record) (*plot.Plot, *plot.Legend, error) {
	p, leg := newPlot("latency (ms)")
	p.X.Label.Text = "percentile"
	p.X.Scale = plot.LogScale{}
	var xys plotter.XYs
	lo, hi := math.Inf(1), 0.0
	for _, q := range distribution(&r.Totals) {
		if q.Q >= 1 || q.Latency <= 0 {
			continue // 1/(1-q) is infinite at the maximum; the tables show it
		}
		v := ms(q.Latency)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		xys = append(xys, plotter.XY{X: 1 / (1 - q.Q), Y: v})
	}
	maxX := 10.0
	if len(xys) > 0 {
		maxX = math.Max(maxX, xys[len(xys)-1].X)
	}
	p.X.Min, p.X.Max = 1, math.Pow(10, math.Ceil(math.Log10(maxX)-1e-9))
	var ticks []plot.Tick
	for _, t := range percentileTicks {
		if t.Value <= p.X.Max {
			ticks = append(ticks, t)
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if hi > 0 && hi/lo > 50 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
	} else {
		p.Y.Min = 0
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = gridColor
	grid.Horizontal.Color = color.NRGBA{0xEE, 0xEE, 0xEE, 0xFF}
	p.Add(grid)
	if err := addLine(p, leg, "latency", xys, palette[0], 1.5); err != nil {
		return nil, nil, err
	}
	if len(xys) > 0 {
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, nil, fmt.Errorf("distribution points: %w", err)
		}
		s.Color = palette[0]
		s.Radius = 2
		p.Add(s)
	}
	return p, leg, nil
}

// bands shades windows of the time axis (faults, a soak's warm-up) over the
// full height of the data area and names each at its top. gonum/plot has no
// span plotter; this is the only hand-drawn part of the plots.
type bands struct {
	windows   []Window
	fill, ink color.Color
}

func (b bands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := draw.TextStyle{Color: b.ink, Font: font.From(sansFont, 8), Handler: p.TextHandler}
	// Faults injected close together would print their names on top of
	// each other: each name takes the first line down where it fits. A
	// fault repeated on a schedule (a soak's cycle) is named at its first
	// window only; its later ones are in the fault table.
	var lineEnds []vg.Length
	named := map[string]bool{}
	for _, w := range b.windows {
		x0 := max(trX(w.From.Seconds()), c.Min.X)
		x1 := min(trX(w.To.Seconds()), c.Max.X)
		if x1 <= x0 {
			continue
		}
		c.FillPolygon(b.fill, []vg.Point{
			{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y},
		})
		if w.Name == "" || named[w.Name] {
			continue // named in the legend, or at its first window
		}
		named[w.Name] = true
		line := 0
		for line < len(lineEnds) && lineEnds[line] > x0 {
			line++
		}
		end := x0 + 2 + sty.Width(w.Name) + 4
		if line == len(lineEnds) {
			lineEnds = append(lineEnds, end)
		} else {
			lineEnds[line] = end
		}
		c.FillText(sty, vg.Point{X: x0 + 2, Y: c.Max.Y - 10 - vg.Length(line)*10}, w.Name)
	}
}

// Thumbnail draws the legend swatch.
func (b bands) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(b.fill, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y},
	})
}

// plainTicks are gonum's default ticks labelled without trailing zeros
// ("75", not "75.00").
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(math.Round(ticks[i].Value*1e9)/1e9, 'f', -1, 64)
		}
	}
	return ticks
}

// SecondsTicker puts major ticks on a round step of seconds (about five to
// ten of them) and minor ticks between.
type SecondsTicker struct{}

// Ticks implements plot.Ticker.
func (SecondsTicker) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for _, s := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		step = s
		if span/s <= 10 {
			break
		}
	}
	// Minor ticks on round sub-steps: 2s → 1s, 15s → 5s, 120s → 30s.
	minor := step / 5
	switch step {
	case 0.2, 2:
		minor = step / 2
	case 15, 30, 900, 1800:
		minor = step / 3
	case 120:
		minor = step / 4
	}
	var ticks []plot.Tick
	for i := math.Ceil(lo / minor); i*minor <= hi+1e-9; i++ {
		v := i * minor
		if r := math.Remainder(v, step); math.Abs(r) < 1e-9 {
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		} else {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

var svgProlog = regexp.MustCompile(`(?s)^.*?(<svg\b)`)
var svgNamespaces = regexp.MustCompile(`\s+xmlns(:xlink)?="[^"]*"`)

// inlineSVG makes a standalone SVG document fit for inlining into HTML: no
// XML prolog, and no namespace attributes (the HTML parser puts <svg> in the
// SVG namespace itself), so the page carries no URL at all.
func inlineSVG(svg []byte) []byte {
	out := svgProlog.ReplaceAll(svg, []byte("$1"))
	end := bytes.IndexByte(out, '>')
	if end < 0 {
		return out
	}
	head := svgNamespaces.ReplaceAll(out[:end], nil)
	// Let the page scale the plot to its column; the viewBox keeps the aspect.
	head = regexp.MustCompile(`\s+width="[^"]*"\s+height="[^"]*"`).ReplaceAll(head, []byte(` class="plot"`))
	return append(head, out[end:]...)
}
