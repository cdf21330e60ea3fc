package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	start := time.Date(2026, 11, 27, 1, 0, 0, 123456789, time.UTC)
	in := &Record{
		Scenario:      "Failover: kill one of two targets",
		Labels:        []string{"failover", "containers"},
		Stack:         StackContainers,
		GatewayConfig: []byte(`{"services":[{"name":"echo"}]}`),
		Start:         start,
		End:           start.Add(30 * time.Second),
		Faults: []Fault{{Name: "kill mockbin-b", Kind: "kill", Target: "mockbin-b",
			PlannedOffset: 10 * time.Second, Start: start.Add(10*time.Second + 3*time.Millisecond)}},
		Load:   Load{Rate: 200, Duration: 30 * time.Second, Timeout: 2 * time.Second, Connections: 64},
		Totals: Totals{Requests: 6000, Success: 0.998, StatusCodes: map[string]int{"200": 5988, "502": 12}},
		Series: []Interval{{Offset: 0, Width: time.Second, Requests: 200, Rate: 200, Success: 1,
			StatusCodes: map[string]int{"200": 200}, Targets: map[string]int{"a": 100, "b": 100}}},
		Assertions: []Assertion{{Name: "failed requests", Bound: "<= 20", Measured: 12, Pass: true}},
		Verdict:    VerdictPass,
	}
	dir := t.TempDir()
	if err := in.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	if in.Schema != SchemaVersion {
		t.Fatalf("schema = %d, want %d", in.Schema, SchemaVersion)
	}
	path := filepath.Join(dir, "failover-kill-one-of-two-targets.json")
	out, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// MarshalIndent re-indents the raw config; compare it compacted.
	var compact bytes.Buffer
	if err := json.Compact(&compact, out.GatewayConfig); err != nil {
		t.Fatal(err)
	}
	out.GatewayConfig = compact.Bytes()
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the record:\n in: %+v\nout: %+v", in, out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d files, want only the record (no temp file left)", len(entries))
	}
}

func TestReadFileRejects(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"newer schema", `{"schema":99,"scenario":"x","verdict":"pass"}`, "newer"},
		{"no schema", `{"scenario":"x","verdict":"pass"}`, "missing schema"},
		{"bad verdict", `{"schema":1,"scenario":"x","verdict":"ok"}`, "verdict"},
		{"not json", `{`, "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.json")
			if err := os.WriteFile(p, []byte(tt.json), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadFile(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Failover: kill one of two targets": "failover-kill-one-of-two-targets",
		"  504 within read_timeout ":        "504-within-read-timeout",
		"":                                  "scenario",
		"!!!":                               "scenario",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFmtFloat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 2: "2", 103.4: "103.4", 0.1 + 0.2: "0.3", 1014.288: "1014.29", 1234567: "1234567",
		-2.5: "-2.5", 0.000123456789: "0.000123457", 100: "100",
	} {
		if got := fmtFloat(v); got != want {
			t.Errorf("fmtFloat(%v) = %q, want %q", v, got, want)
		}
	}
}
