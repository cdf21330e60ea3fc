package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

const fixtures = "testdata/records"

func loadFixtures(t *testing.T) []*Record {
	t.Helper()
	recs, err := ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("read %d fixture records, want 3", len(recs))
	}
	return recs
}

func fixture(t *testing.T, slug string) *Record {
	t.Helper()
	r, err := ReadFile(filepath.Join(fixtures, slug+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The fixtures must be consistent in themselves, or the tests below compare
// against nonsense.
func TestFixturesAreConsistent(t *testing.T) {
	for _, r := range loadFixtures(t) {
		n, codes := 0, map[string]int{}
		for _, iv := range r.Series {
			n += iv.Requests
			for c, k := range iv.StatusCodes {
				codes[c] += k
			}
		}
		if uint64(n) != r.Totals.Requests {
			t.Errorf("%s: series sum to %d requests, totals say %d", r.Scenario, n, r.Totals.Requests)
		}
		for c, k := range r.Totals.StatusCodes {
			if codes[c] != k {
				t.Errorf("%s: series count %d × %s, totals %d", r.Scenario, codes[c], c, k)
			}
		}
	}
}

// durClose reports whether a printed duration reads back as d, allowing the
// rounding fmtDur does (it keeps at least three significant digits).
func durClose(t *testing.T, printed string, d time.Duration) bool {
	t.Helper()
	got, err := time.ParseDuration(printed)
	if err != nil {
		t.Errorf("cell %q is not a duration: %v", printed, err)
		return false
	}
	return math.Abs(float64(got-d)) <= float64(d)/200+50
}

func pctClose(t *testing.T, printed string, ratio float64) bool {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(printed, "%"), 64)
	if err != nil {
		t.Errorf("cell %q is not a percentage: %v", printed, err)
		return false
	}
	return math.Abs(v/100-ratio) <= 0.00005+1e-12
}

func rateClose(t *testing.T, printed string, rate float64) bool {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(printed, "/s"), 64)
	if err != nil {
		t.Errorf("cell %q is not a rate: %v", printed, err)
		return false
	}
	return math.Abs(v-rate) <= 0.005+1e-9
}

// checkTotals compares a rendered totals row (TotalsColumns order) with the
// record's numbers.
func checkTotals(t *testing.T, where string, cells []string, tot *Totals) {
	t.Helper()
	if len(cells) != len(TotalsColumns) {
		t.Fatalf("%s: totals row has %d cells, want %d: %q", where, len(cells), len(TotalsColumns), cells)
	}
	l := tot.Latencies
	durs := []time.Duration{l.Min, l.Mean, l.P50, l.P90, l.P95, l.P99, l.P999, l.Max}
	if cells[0] != fmt.Sprint(tot.Requests) {
		t.Errorf("%s: requests %q, record %d", where, cells[0], tot.Requests)
	}
	if !rateClose(t, cells[1], tot.Rate) || !rateClose(t, cells[2], tot.Throughput) {
		t.Errorf("%s: rate/throughput %q %q, record %.4f %.4f", where, cells[1], cells[2], tot.Rate, tot.Throughput)
	}
	if !pctClose(t, cells[3], tot.Success) {
		t.Errorf("%s: success %q, record %.6f", where, cells[3], tot.Success)
	}
	for i, d := range durs {
		if !durClose(t, cells[4+i], d) {
			t.Errorf("%s: %s %q, record %s", where, TotalsColumns[4+i], cells[4+i], d)
		}
	}
	if cells[12] != fmt.Sprint(tot.BytesIn) || cells[13] != fmt.Sprint(tot.BytesOut) {
		t.Errorf("%s: bytes %q %q, record %d %d", where, cells[12], cells[13], tot.BytesIn, tot.BytesOut)
	}
}

// checkSummary compares an overview row (SummaryColumns order) with the record.
func checkSummary(t *testing.T, cells []string, r *Record) {
	t.Helper()
	if len(cells) != len(SummaryColumns) {
		t.Fatalf("%s: summary row has %d cells: %q", r.Scenario, len(cells), cells)
	}
	if !strings.Contains(cells[1], r.Verdict) {
		t.Errorf("%s: verdict cell %q, record %s", r.Scenario, cells[1], r.Verdict)
	}
	if cells[2] != fmt.Sprint(r.Totals.Requests) {
		t.Errorf("%s: requests %q, record %d", r.Scenario, cells[2], r.Totals.Requests)
	}
	if !pctClose(t, cells[3], r.Totals.Success) {
		t.Errorf("%s: success %q, record %f", r.Scenario, cells[3], r.Totals.Success)
	}
	for i, d := range []time.Duration{r.Totals.Latencies.P50, r.Totals.Latencies.P99, r.Totals.Latencies.Max} {
		if !durClose(t, cells[4+i], d) {
			t.Errorf("%s: %s %q, record %s", r.Scenario, SummaryColumns[4+i], cells[4+i], d)
		}
	}
	failed := int(r.Totals.Requests) - r.Totals.StatusCodes["200"]
	if cells[7] != fmt.Sprint(failed) {
		t.Errorf("%s: failed %q, record %d", r.Scenario, cells[7], failed)
	}
}

// mdRows returns the cells of the table rows after the line matching head.
func mdRows(t *testing.T, md, head string) [][]string {
	t.Helper()
	i := strings.Index(md, head)
	if i < 0 {
		t.Fatalf("no table headed %q", head)
	}
	var rows [][]string
	for j, line := range strings.Split(md[i:], "\n") {
		if j < 2 {
			continue // header and separator
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), " | ") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	return rows
}

// sixDigits reports whether a printed measurement equals the record's to the
// six significant digits fmtFloat keeps.
func sixDigits(printed, recorded float64) bool {
	return math.Abs(printed-recorded) <= math.Abs(recorded)*5e-6
}

func verdictWord(pass bool) string {
	if pass {
		return VerdictPass
	}
	return VerdictFail
}

var mdLink = regexp.MustCompile(`^\[(.*)\]\(#([a-z0-9-]+)\)$`)

func TestMarkdownNumbersEqualRecord(t *testing.T) {
	recs := loadFixtures(t)
	var b strings.Builder
	if err := WriteMarkdown(&b, recs); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if !strings.Contains(md, "**❌ fail** — 3 scenarios: 2 passed, 1 failed, 0 errors") {
		t.Errorf("summary line missing tally:\n%s", md[:200])
	}
	rows := mdRows(t, md, "| "+strings.Join(SummaryColumns, " | "))
	if len(rows) != len(recs) {
		t.Fatalf("overview has %d rows, want %d", len(rows), len(recs))
	}
	// Failures come first.
	if m := mdLink.FindStringSubmatch(rows[0][0]); m == nil || m[2] != "rate-limit-admits-the-configured-rate" {
		t.Errorf("first row %q, want the failing rate-limit scenario", rows[0][0])
	}
	for _, row := range rows {
		m := mdLink.FindStringSubmatch(row[0])
		if m == nil {
			t.Fatalf("scenario cell %q is not a link to its section", row[0])
		}
		r := fixture(t, m[2])
		checkSummary(t, row, r)
		// The section the link points at holds the scenario's totals.
		sec := md[strings.Index(md, `<a id="`+m[2]+`">`):]
		if next := strings.Index(sec[1:], `<a id="`); next > 0 {
			sec = sec[:next+1]
		}
		tot := mdRows(t, sec, "| "+strings.Join(TotalsColumns, " | "))
		if len(tot) != 1 {
			t.Fatalf("%s: %d totals rows, want 1", r.Scenario, len(tot))
		}
		checkTotals(t, r.Scenario+" markdown", tot[0], &r.Totals)
		as := mdRows(t, sec, "| Assertion | Bound | Measured | Verdict |")
		if len(as) != len(r.Assertions) {
			t.Fatalf("%s: %d assertion rows, want %d", r.Scenario, len(as), len(r.Assertions))
		}
		for i, a := range r.Assertions {
			got, _ := strconv.ParseFloat(strings.Fields(as[i][2])[0], 64)
			if !sixDigits(got, a.Measured) || !strings.HasSuffix(as[i][3], verdictWord(a.Pass)) {
				t.Errorf("%s: assertion row %q, record %+v", r.Scenario, as[i], a)
			}
		}
	}
}

func TestMarkdownCapsErrorSet(t *testing.T) {
	r := fixture(t, "failover-kill-one-of-two-targets")
	r.Totals.Errors = nil
	for i := range 25 {
		r.Totals.Errors = append(r.Totals.Errors, fmt.Sprintf("read tcp 127.0.0.1:%d->127.0.0.1:8000: connection reset by peer", 40000+i))
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, []*Record{r}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "connection reset by peer"); n != 10 || !strings.Contains(b.String(), "- … and 15 more") {
		t.Errorf("summary lists %d errors:\n%s", n, b.String())
	}
}

func TestMarkdownEscapesCells(t *testing.T) {
	r := fixture(t, "failover-kill-one-of-two-targets")
	r.Scenario = "a | b <script>"
	var b strings.Builder
	if err := WriteMarkdown(&b, []*Record{r}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") || !strings.Contains(b.String(), `a \| b &lt;script&gt;`) {
		t.Errorf("scenario name not escaped:\n%s", b.String())
	}
}

func TestTextReportLikeVegeta(t *testing.T) {
	r := fixture(t, "failover-kill-one-of-two-targets")
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`Requests\s+\[total, rate, throughput\]\s+6000, 200\.03, 199\.95`,
		`Latencies\s+\[min, mean, 50, 90, 95, 99, 99\.9, max\]\s+` + regexp.QuoteMeta(strings.Join([]string{
			r.Totals.Latencies.Min.String(), r.Totals.Latencies.Mean.String(), r.Totals.Latencies.P50.String(),
			r.Totals.Latencies.P90.String(), r.Totals.Latencies.P95.String(), r.Totals.Latencies.P99.String(),
			r.Totals.Latencies.P999.String(), r.Totals.Latencies.Max.String()}, ", ")),
		`Success\s+\[ratio\]\s+99\.97%`,
		`Status Codes\s+\[code:count\]\s+200:5998  502:2`,
		`Fault\s+kill mockbin-b \(kill on mockbin-b\): planned at 10\.000s, started 10\.004s, ended 20\.412s`,
		`Error Set:\n502 Bad Gateway`,
	}
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(b.String()) {
			t.Errorf("text report lacks %s:\n%s", w, b.String())
		}
	}
}

func TestTimeAxis(t *testing.T) {
	start := time.Unix(0, 0)
	series := []Interval{{Offset: 0, Width: time.Second}, {Offset: time.Second, Width: time.Second}}
	tests := []struct {
		name string
		rec  Record
		want time.Duration
	}{
		{"series end, not the teardown", Record{Start: start, End: start.Add(9 * time.Second), Series: series}, 2 * time.Second},
		{"fault reverted after the load", Record{Start: start, End: start.Add(9 * time.Second), Series: series,
			Faults: []Fault{{Start: start.Add(time.Second), End: start.Add(3 * time.Second)}}}, 3 * time.Second},
		{"no series", Record{Start: start, End: start.Add(4 * time.Second)}, 4 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.rec.TimeAxis(); got != tt.want {
			t.Errorf("%s: TimeAxis() = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestFailoverTime(t *testing.T) {
	start := time.Unix(0, 0)
	iv := func(sec int, success float64) Interval {
		return Interval{Offset: time.Duration(sec) * time.Second, Width: time.Second, Requests: 100, Success: success}
	}
	tests := []struct {
		name   string
		faults []Fault
		series []Interval
		want   time.Duration
		ok     bool
	}{
		{"no fault", nil, []Interval{iv(0, 0.5)}, 0, false},
		{"no failure after the fault", []Fault{{Start: start.Add(1500 * time.Millisecond)}},
			[]Interval{iv(0, 0.5), iv(1, 1), iv(2, 1)}, 0, true},
		{"failures up to the third second", []Fault{{Start: start.Add(1500 * time.Millisecond)}},
			[]Interval{iv(0, 1), iv(1, 0.9), iv(2, 0.5), iv(3, 1)}, 1500 * time.Millisecond, true},
		{"earliest of two faults", []Fault{{Start: start.Add(2 * time.Second)}, {Start: start.Add(time.Second)}},
			[]Interval{iv(0, 1), iv(1, 0.9), iv(2, 1), iv(3, 0.99), iv(4, 1)}, 3 * time.Second, true},
		{"fault never injected", []Fault{{Name: "x"}}, []Interval{iv(0, 0)}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Record{Start: start, Faults: tt.faults, Series: tt.series}
			got, ok := r.FailoverTime()
			if got != tt.want || ok != tt.ok {
				t.Errorf("FailoverTime() = %s, %v; want %s, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if d, _ := fixture(t, "failover-kill-one-of-two-targets").FailoverTime(); d != 996*time.Millisecond {
		t.Errorf("fixture failover time %s, want 996ms (fault at 10.004s, last failing interval ends at 11s)", d)
	}
}

// svgPath is a path element of a gonum SVG: its points and its style.
type svgPath struct {
	xs, ys []float64
	style  string
}

var (
	pathRE  = regexp.MustCompile(`<path d="([^"]*)" style="([^"]*)"`)
	pointRE = regexp.MustCompile(`[ML]([-0-9.e]+),([-0-9.e]+)`)
)

func svgPaths(t *testing.T, svg []byte) []svgPath {
	t.Helper()
	var out []svgPath
	for _, m := range pathRE.FindAllSubmatch(svg, -1) {
		var p svgPath
		p.style = string(m[2])
		for _, pt := range pointRE.FindAllSubmatch(m[1], -1) {
			x, err1 := strconv.ParseFloat(string(pt[1]), 64)
			y, err2 := strconv.ParseFloat(string(pt[2]), 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("bad point %q", pt[0])
			}
			p.xs, p.ys = append(p.xs, x), append(p.ys, y)
		}
		out = append(out, p)
	}
	return out
}

func hexColor(c interface{ RGBA() (r, g, b, a uint32) }) string {
	r, g, b, a := c.RGBA()
	if a == 0 {
		return "#000000"
	}
	// vgsvg writes the colour un-premultiplied.
	return fmt.Sprintf("#%02X%02X%02X", r*0xff/a, g*0xff/a, b*0xff/a)
}

// TestFaultWindowsAtRecordedTimes reads the shaded bands back out of the SVG
// and maps their edges to seconds through the grid lines, which sit at the
// time axis' major ticks: an independent ruler for the plot's x transform.
func TestFaultWindowsAtRecordedTimes(t *testing.T) {
	recs := []*Record{fixture(t, "failover-kill-one-of-two-targets"), fixture(t, "504-within-the-read-timeout"), soakRecord(t)}
	for _, r := range recs {
		slug := Slug(r.Scenario)
		figs, err := Figures(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range figs {
			if f.ID == "distribution" {
				continue
			}
			t.Run(slug+"/"+f.ID, func(t *testing.T) {
				ruler := timeRuler(t, r, f.SVG)
				ws := r.FaultWindows()
				checkBands(t, ruler, bandsOf(t, ruler, f.SVG, FaultColor), ws)
				if r.Resources != nil {
					checkBands(t, ruler, bandsOf(t, ruler, f.SVG, WarmUpColor), []Window{{Name: "warm-up", To: r.Resources.WarmUp}})
				}
			})
		}
	}
}

// ruler maps the time axis to SVG x: px = a + b·seconds.
type ruler struct{ a, b, right float64 }

func (r ruler) seconds(px float64) float64 { return (px - r.a) / r.b }

// timeRuler reads the x transform of a time plot from its vertical grid
// lines, which sit at the time axis' major ticks: an independent ruler.
func timeRuler(t *testing.T, r *Record, svg []byte) ruler {
	t.Helper()
	var ticks []float64
	for _, tk := range (SecondsTicker{}).Ticks(0, r.TimeAxis().Seconds()) {
		if tk.Label != "" {
			ticks = append(ticks, tk.Value)
		}
	}
	gridStyle := "stroke:" + hexColor(gridColor) + ";"
	var grid []float64
	for _, p := range svgPaths(t, svg) {
		if strings.Contains(p.style, gridStyle) && len(p.xs) == 2 && p.xs[0] == p.xs[1] {
			grid = append(grid, p.xs[0])
		}
	}
	if len(grid) != len(ticks) {
		t.Fatalf("%d vertical grid lines, want one per major tick %v", len(grid), ticks)
	}
	// px = a + b·seconds, from the outermost grid lines.
	b := (grid[len(grid)-1] - grid[0]) / (ticks[len(ticks)-1] - ticks[0])
	a := grid[0] - b*ticks[0]
	for i := range grid {
		if math.Abs(grid[i]-(a+b*ticks[i])) > 0.05 {
			t.Fatalf("grid line %d at %.3fpx, not linear in time (want %.3f)", i, grid[i], a+b*ticks[i])
		}
	}
	return ruler{a: a, b: b, right: grid[len(grid)-1]}
}

// bandsOf are the shaded rectangles of colour c inside the data area.
func bandsOf(t *testing.T, rl ruler, svg []byte, c color.Color) []svgPath {
	t.Helper()
	style := "fill:" + hexColor(c) + ";fill-opacity:"
	var out []svgPath
	for _, p := range svgPaths(t, svg) {
		// The legend's swatch sits in the strip right of the data area.
		if strings.HasPrefix(p.style, style) && len(p.xs) == 4 && p.xs[0] <= rl.right+1 {
			out = append(out, p)
		}
	}
	return out
}

func checkBands(t *testing.T, rl ruler, bands []svgPath, ws []Window) {
	t.Helper()
	if len(bands) != len(ws) {
		t.Fatalf("%d shaded bands, want %d", len(bands), len(ws))
	}
	for i, w := range ws {
		from := rl.seconds(math.Min(bands[i].xs[0], bands[i].xs[1]))
		to := rl.seconds(math.Max(bands[i].xs[0], bands[i].xs[1]))
		// 0.1 px of print precision is under 10 ms on these axes.
		tol := 0.1 / rl.b
		if math.Abs(from-w.From.Seconds()) > tol || math.Abs(to-w.To.Seconds()) > tol {
			t.Errorf("band %q spans %.4fs–%.4fs, recorded %.4fs–%.4fs (±%.4fs)",
				w.Name, from, to, w.From.Seconds(), w.To.Seconds(), tol)
		}
	}
}

func TestFaultLabelsDoNotOverlap(t *testing.T) {
	r := fixture(t, "failover-kill-one-of-two-targets")
	second := r.Faults[0]
	second.Name, second.Target = "kill mockbin-c", "mockbin-c"
	second.Start = second.Start.Add(50 * time.Millisecond)
	r.Faults = append(r.Faults, second)
	figs, err := Figures(r)
	if err != nil {
		t.Fatal(err)
	}
	label := regexp.MustCompile(`<text x="([-0-9.e]+)" y="([-0-9.e]+)"[^>]*>(kill mockbin-[bc])</text>`)
	ys := map[string]string{}
	for _, m := range label.FindAllSubmatch(figs[0].SVG, -1) {
		ys[string(m[3])] = string(m[2])
	}
	if len(ys) != 2 || ys["kill mockbin-b"] == ys["kill mockbin-c"] {
		t.Errorf("fault labels at y %v, want two different lines", ys)
	}
}

// A fault repeated on a schedule is named once, at its first window, or a
// soak's plot would be buried under its names.
func TestRepeatedFaultNamedOnce(t *testing.T) {
	r := fixture(t, "failover-kill-one-of-two-targets")
	f := r.Faults[0]
	r.Faults = nil
	for i := range 3 {
		g := f
		g.Start = r.Start.Add(time.Duration(2+8*i) * time.Second)
		g.End = g.Start.Add(2 * time.Second)
		r.Faults = append(r.Faults, g)
	}
	figs, err := Figures(r)
	if err != nil {
		t.Fatal(err)
	}
	svg := figs[0].SVG
	if n := strings.Count(string(svg), ">"+f.Name+"</text>"); n != 1 {
		t.Errorf("%q printed %d times, want once", f.Name, n)
	}
	rl := timeRuler(t, r, svg)
	checkBands(t, rl, bandsOf(t, rl, svg, FaultColor), r.FaultWindows())
}

func TestPlotsHaveData(t *testing.T) {
	r := fixture(t, "failover-kill-one-of-two-targets")
	figs, err := Figures(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 5 {
		t.Fatalf("%d figures, want 5", len(figs))
	}
	for _, f := range figs {
		// A data line is a path with one point per interval (or quantile).
		longest := 0
		for _, p := range svgPaths(t, f.SVG) {
			if strings.Contains(p.style, "fill:none") {
				longest = max(longest, len(p.xs))
			}
		}
		want := len(r.Series)
		if f.ID == "distribution" {
			want = len(r.Totals.Distribution) - 1 // the maximum has no place on a 1/(1-q) axis
		}
		if longest != want {
			t.Errorf("%s: longest line has %d points, want %d", f.ID, longest, want)
		}
	}
}

func TestDistributionFallsBackToLatencies(t *testing.T) {
	r := fixture(t, "failover-kill-one-of-two-targets")
	r.Totals.Distribution = nil
	p, _, err := distributionPlot(r)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := renderSVG(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	longest := 0
	for _, path := range svgPaths(t, svg) {
		if strings.Contains(path.style, "fill:none") {
			longest = max(longest, len(path.xs))
		}
	}
	// min, p50, p90, p95, p99, p99.9; the max has no place on the axis.
	if longest != 6 {
		t.Errorf("distribution line has %d points, want 6", longest)
	}
}

func TestSendSpanAndRunt(t *testing.T) {
	// 300 req/s in 250ms buckets.
	r := &Record{Totals: Totals{Requests: 2400, Rate: 300}}
	for i := range 32 {
		r.Series = append(r.Series, Interval{Offset: time.Duration(i) * 250 * time.Millisecond, Width: 250 * time.Millisecond, Requests: 75})
	}
	tests := []struct {
		n    int
		last bool
		want time.Duration
	}{
		{75, false, 250 * time.Millisecond},
		{75, true, 250 * time.Millisecond},
		{30, true, 100 * time.Millisecond},
		{30, false, 250 * time.Millisecond},
		{1, true, 3333333 * time.Nanosecond},
	}
	for _, tt := range tests {
		got := sendSpan(r, Interval{Width: 250 * time.Millisecond, Requests: tt.n}, tt.last)
		if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("sendSpan(%d requests, last %v) = %s, want %s", tt.n, tt.last, got, tt.want)
		}
	}
	if got := len(plotted(r)); got != 32 {
		t.Errorf("full series: %d plotted, want 32", got)
	}
	r.Series = append(r.Series, Interval{Offset: 8 * time.Second, Width: 250 * time.Millisecond, Requests: 1})
	if got := len(plotted(r)); got != 32 {
		t.Errorf("a one-request trailing bucket is drawn: %d plotted, want 32", got)
	}
	r.Series[32].Requests = 30
	if got := len(plotted(r)); got != 33 {
		t.Errorf("a short last bucket is dropped: %d plotted, want 33", got)
	}
}

func TestPlotsSurviveEmptyRecord(t *testing.T) {
	r := &Record{Schema: 1, Scenario: "setup failed", Verdict: VerdictError, Start: time.Unix(0, 0),
		Series: []Interval{{Width: time.Second, StatusCodes: map[string]int{"": 1}}}}
	figs, err := Figures(r)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteScenarioHTML(&b, r, figs); err != nil {
		t.Fatal(err)
	}
}

// htmlTable returns the rows of the first table whose header row equals head.
func htmlTable(t *testing.T, doc *html.Node, head []string) [][]string {
	t.Helper()
	var tables [][][]string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "table" {
			var rows [][]string
			var rowWalk func(*html.Node)
			rowWalk = func(m *html.Node) {
				if m.Type == html.ElementNode && m.Data == "tr" {
					var cells []string
					for c := m.FirstChild; c != nil; c = c.NextSibling {
						if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
							cells = append(cells, strings.TrimSpace(textOf(c)))
						}
					}
					rows = append(rows, cells)
					return
				}
				for c := m.FirstChild; c != nil; c = c.NextSibling {
					rowWalk(c)
				}
			}
			rowWalk(n)
			tables = append(tables, rows)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, rows := range tables {
		if len(rows) > 0 && strings.Join(rows[0], "|") == strings.Join(head, "|") {
			return rows[1:]
		}
	}
	t.Fatalf("no table headed %q", head)
	return nil
}

func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(textOf(c))
	}
	return b.String()
}

func renderFixtures(t *testing.T) (string, *Rendered) {
	t.Helper()
	dir := t.TempDir()
	recDir := filepath.Join(dir, RecordsDir)
	for _, r := range loadFixtures(t) {
		if err := r.WriteFile(recDir); err != nil {
			t.Fatal(err)
		}
	}
	// A page left from an earlier run with another scenario must go.
	stale := filepath.Join(dir, ScenariosDir, "dropped-scenario.html")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale page survived the render: %v", err)
	}
	return dir, out
}

func parseHTML(t *testing.T, path string) *html.Node {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestHTMLNumbersEqualRecord(t *testing.T) {
	dir, out := renderFixtures(t)
	if len(out.Pages) != 3 || out.Counts != (Counts{Pass: 2, Fail: 1}) {
		t.Fatalf("rendered %d pages, counts %+v", len(out.Pages), out.Counts)
	}
	index := parseHTML(t, out.Index)
	rows := htmlTable(t, index, SummaryColumns)
	if len(rows) != 3 {
		t.Fatalf("index table has %d rows, want 3", len(rows))
	}
	for _, row := range rows {
		r := fixture(t, Slug(row[0]))
		checkSummary(t, row, r)
		page := parseHTML(t, filepath.Join(dir, ScenariosDir, Slug(r.Scenario)+".html"))
		tot := htmlTable(t, page, TotalsColumns)
		if len(tot) != 1 {
			t.Fatalf("%s: %d totals rows", r.Scenario, len(tot))
		}
		checkTotals(t, r.Scenario+" html", tot[0], &r.Totals)
		as := htmlTable(t, page, []string{"Assertion", "Bound", "Measured", "Verdict"})
		for i, a := range r.Assertions {
			got, _ := strconv.ParseFloat(strings.Fields(as[i][2])[0], 64)
			if as[i][0] != a.Name || !sixDigits(got, a.Measured) || as[i][3] != verdictWord(a.Pass) {
				t.Errorf("%s: assertion row %q, record %+v", r.Scenario, as[i], a)
			}
		}
		if len(r.Faults) == 0 {
			continue
		}
		faults := htmlTable(t, page, FaultColumns)
		if len(faults) != len(r.Faults) {
			t.Fatalf("%s: %d fault rows, want %d", r.Scenario, len(faults), len(r.Faults))
		}
		for i, f := range r.Faults {
			started, _ := time.ParseDuration(faults[i][4])
			if faults[i][0] != f.Name || math.Abs(float64(started-f.Start.Sub(r.Start))) > float64(time.Millisecond)/2 {
				t.Errorf("%s: fault row %q, record started %s", r.Scenario, faults[i], f.Start.Sub(r.Start))
			}
		}
	}
}

// externalRef reports a reference that would make the browser fetch
// something: any attribute or inline CSS/JS naming a scheme or a
// protocol-relative address, and any element that loads a resource.
func externalRefs(doc *html.Node) []string {
	var bad []string
	loaders := map[string]bool{"link": true, "img": true, "iframe": true, "object": true, "embed": true, "video": true, "audio": true, "source": true, "image": true, "use": true, "base": true}
	urlish := regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*:)?//|url\(|@import`)
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if loaders[n.Data] {
				bad = append(bad, "<"+n.Data+">")
			}
			for _, a := range n.Attr {
				if urlish.MatchString(a.Val) || strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
					bad = append(bad, fmt.Sprintf("<%s %s=%q>", n.Data, a.Key, a.Val))
				}
			}
			if n.Data == "script" || n.Data == "style" {
				if txt := textOf(n); urlish.MatchString(txt) || strings.Contains(txt, "fetch(") || strings.Contains(txt, "XMLHttpRequest") {
					bad = append(bad, "<"+n.Data+"> with a URL")
				}
				for _, a := range n.Attr {
					if a.Key == "src" {
						bad = append(bad, "<"+n.Data+" src>")
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return bad
}

func TestPagesHaveNoExternalURL(t *testing.T) {
	// The detector itself must catch what it is for.
	for _, page := range []string{
		`<img src="https://cdn.example/x.png">`, `<a href="//cdn.example/">x</a>`,
		`<style>body{background:url(x.png)}</style>`, `<script src="app.js"></script>`,
		`<svg><use href="http://x/y#z"></use></svg>`, `<div style="background:url('a')"></div>`,
	} {
		doc, _ := html.Parse(strings.NewReader(page))
		if len(externalRefs(doc)) == 0 {
			t.Errorf("detector missed %s", page)
		}
	}
	_, out := renderFixtures(t)
	pages := append([]string{out.Index}, out.Pages...)
	for _, p := range pages {
		doc := parseHTML(t, p)
		if bad := externalRefs(doc); len(bad) > 0 {
			t.Errorf("%s references: %q", p, bad)
		}
		// Every link stays inside the output directory and resolves.
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "a" {
				for _, a := range n.Attr {
					if a.Key == "href" && !strings.HasPrefix(a.Val, "#") {
						target := filepath.Join(filepath.Dir(p), a.Val)
						if _, err := os.Stat(target); err != nil {
							t.Errorf("%s links to %s: %v", p, a.Val, err)
						}
					}
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(raw, []byte("<svg")); (p == out.Index && n != 3) || (p != out.Index && n != 5) {
			t.Errorf("%s has %d inline plots", p, n)
		}
	}
}

func TestSecondsTicker(t *testing.T) {
	tests := []struct {
		hi           float64
		majors       string
		minorsPerGap int
	}{
		{30, "0 5 10 15 20 25 30", 5},
		{20, "0 2 4 6 8 10 12 14 16 18 20", 2},
		{45, "0 5 10 15 20 25 30 35 40 45", 5},
		{90, "0 10 20 30 40 50 60 70 80 90", 5},
		{600, "0 60 120 180 240 300 360 420 480 540 600", 5},
		{3.3, "0 0.5 1 1.5 2 2.5 3", 5},
	}
	for _, tt := range tests {
		var majors []string
		n := 0
		for _, tk := range (SecondsTicker{}).Ticks(0, tt.hi) {
			n++
			if tk.Label != "" {
				majors = append(majors, tk.Label)
			}
		}
		if got := strings.Join(majors, " "); got != tt.majors {
			t.Errorf("Ticks(0, %g) majors %q, want %q", tt.hi, got, tt.majors)
		}
		if want := (len(majors)-1)*tt.minorsPerGap + 1; n < want {
			t.Errorf("Ticks(0, %g): %d ticks, want at least %d", tt.hi, n, want)
		}
	}
}

// BenchmarkFigures is the cost of drawing one scenario's five plots (30
// one-second intervals), the bulk of a render.
func BenchmarkFigures(b *testing.B) {
	r, err := ReadFile(filepath.Join(fixtures, "failover-kill-one-of-two-targets.json"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Figures(r); err != nil {
			b.Fatal(err)
		}
	}
}
