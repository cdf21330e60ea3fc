package reports

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakRecord is the failover fixture with a soak's resource series: a
// sample a second with a warm-up of 6 s, the last sample just after the
// load's last interval (so the time axis must stretch to it), no requests
// in the first window, failures in the fault's.
func soakRecord(t *testing.T) *Record {
	t.Helper()
	r := fixture(t, "failover-kill-one-of-two-targets")
	r.Scenario = "soak under mixed load"
	rs := &Resources{Every: time.Second, WarmUp: 6 * time.Second}
	for i := range 31 {
		s := ResourceSample{
			Offset:     time.Duration(i)*time.Second + 3*time.Millisecond,
			RSSBytes:   40*mib + float64(i)*0.3*mib + 2*mib*math.Sin(float64(i)),
			HeapBytes:  12*mib + float64(i%4)*mib,
			Goroutines: float64(20 + (i%7)*3),
			OpenFDs:    float64(12 + i%5),
		}
		if i > 0 {
			s.Requests = 200
			s.P50 = time.Duration(1000+37*i) * time.Microsecond
			s.P99 = time.Duration(5000+410*(i%9)) * time.Microsecond
		}
		if i == 11 {
			s.Failures = 2
		}
		rs.Samples = append(rs.Samples, s)
	}
	r.Resources = rs
	return r
}

var soakLines = map[string][]struct {
	color color.Color
	value func(ResourceSample) float64
}{
	"rss": {
		{palette[0], func(s ResourceSample) float64 { return s.RSSBytes }},
		{palette[1], func(s ResourceSample) float64 { return s.HeapBytes }},
	},
	"goroutines":     {{palette[0], func(s ResourceSample) float64 { return s.Goroutines }}},
	"fds":            {{palette[0], func(s ResourceSample) float64 { return s.OpenFDs }}},
	"window-latency": {{palette[0], func(s ResourceSample) float64 { return ms(s.P50) }}, {palette[1], func(s ResourceSample) float64 { return ms(s.P99) }}},
}

// Each soak plot draws one point per sample at the sample's time (read with
// the grid's ruler) and at a height linear in the recorded value.
func TestSoakPlotsDrawTheSamples(t *testing.T) {
	r := soakRecord(t)
	if got, want := r.TimeAxis(), r.Resources.Samples[30].Offset; got != want {
		t.Errorf("time axis %s, want the last sample's %s", got, want)
	}
	figs, err := Figures(r)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range figs {
		ids = append(ids, f.ID)
	}
	if got := strings.Join(ids, " "); got != "latency errors targets status distribution rss goroutines fds window-latency" {
		t.Fatalf("figures %q", got)
	}
	for _, f := range figs[5:] {
		t.Run(f.ID, func(t *testing.T) {
			rl := timeRuler(t, r, f.SVG)
			for _, line := range soakLines[f.ID] {
				var samples []ResourceSample
				for _, s := range r.Resources.Samples {
					if f.ID != "window-latency" || s.Requests > 0 {
						samples = append(samples, s)
					}
				}
				var path *svgPath
				for _, p := range svgPaths(t, f.SVG) {
					if strings.Contains(p.style, "fill:none") && strings.Contains(p.style, "stroke:"+hexColor(line.color)+";") && len(p.xs) > 2 {
						path = &p
						break
					}
				}
				if path == nil || len(path.xs) != len(samples) {
					t.Fatalf("no line of %d points in %s", len(samples), hexColor(line.color))
				}
				// y px = c + d·value, from the lowest and highest sample.
				lo, hi := 0, 0
				for i, s := range samples {
					if line.value(s) < line.value(samples[lo]) {
						lo = i
					}
					if line.value(s) > line.value(samples[hi]) {
						hi = i
					}
				}
				d := (path.ys[hi] - path.ys[lo]) / (line.value(samples[hi]) - line.value(samples[lo]))
				c := path.ys[lo] - d*line.value(samples[lo])
				// vgsvg draws under a y-flipping transform: up is +y.
				if d <= 0 {
					t.Fatalf("higher values drawn lower (d = %g)", d)
				}
				for i, s := range samples {
					if sec := rl.seconds(path.xs[i]); math.Abs(sec-s.Offset.Seconds()) > 0.1/rl.b {
						t.Errorf("point %d at %.4fs, sampled at %.4fs", i, sec, s.Offset.Seconds())
					}
					if want := c + d*line.value(s); math.Abs(path.ys[i]-want) > 0.05 {
						t.Errorf("point %d at y %.3fpx, want %.3fpx for %g", i, path.ys[i], want, line.value(s))
					}
				}
			}
		})
	}
}

func TestSoakPageListsTheSamples(t *testing.T) {
	dir := t.TempDir()
	r := soakRecord(t)
	r.Schema = SchemaVersion
	if err := r.WriteFile(filepath.Join(dir, RecordsDir)); err != nil {
		t.Fatal(err)
	}
	out, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	page := parseHTML(t, out.Pages[0])
	if bad := externalRefs(page); len(bad) > 0 {
		t.Errorf("soak page references %q", bad)
	}
	rows := htmlTable(t, page, ResourceColumns)
	if len(rows) != len(r.Resources.Samples) {
		t.Fatalf("%d sample rows, want %d", len(rows), len(r.Resources.Samples))
	}
	mibOf := func(cell string) float64 {
		v, err := strconv.ParseFloat(strings.TrimSuffix(cell, " MiB"), 64)
		if err != nil {
			t.Fatalf("cell %q is not MiB: %v", cell, err)
		}
		return v * mib
	}
	for i, s := range r.Resources.Samples {
		row := rows[i]
		off, _ := time.ParseDuration(row[0])
		if math.Abs(float64(off-s.Offset)) > float64(time.Millisecond)/2 ||
			math.Abs(mibOf(row[1])-s.RSSBytes) > 0.05*mib || math.Abs(mibOf(row[2])-s.HeapBytes) > 0.05*mib ||
			row[3] != fmt.Sprint(s.Goroutines) || row[4] != fmt.Sprint(s.OpenFDs) ||
			row[5] != fmt.Sprint(s.Requests) || row[6] != fmt.Sprint(s.Failures) ||
			!durClose(t, row[7], s.P50) || !durClose(t, row[8], s.P99) {
			t.Errorf("sample row %q, record %+v", row, s)
		}
	}
	figs, _ := Figures(r)
	var html strings.Builder
	if err := WriteScenarioHTML(&html, r, figs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(html.String(), "<svg"); n != 9 {
		t.Errorf("soak page has %d inline plots, want 9", n)
	}
}

// A record without resources keeps its JSON as before (no "resources" key)
// and reads back with none; one with them round-trips.
func TestResourcesAreOptional(t *testing.T) {
	plain := fixture(t, "failover-kill-one-of-two-targets")
	if plain.Resources != nil {
		t.Fatal("a fixture written before soaks has resources")
	}
	b, err := json.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"resources"`) {
		t.Error("a record without resources writes a resources key")
	}
	soak := soakRecord(t)
	dir := t.TempDir()
	if err := soak.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(filepath.Join(dir, soak.FileName()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Resources == nil || len(back.Resources.Samples) != 31 || back.Resources.Samples[11] != soak.Resources.Samples[11] ||
		back.Resources.WarmUp != soak.Resources.WarmUp || back.Resources.Every != soak.Resources.Every {
		t.Errorf("resources did not round-trip: %+v", back.Resources)
	}
}
