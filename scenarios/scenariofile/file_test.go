package scenariofile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `name: t
stack:
  mockbins: 2
  toxiproxy: true
gateway:
  config:
    _format_version: "3.0"
    services:
      - name: s
        url: http://up
        routes: [{name: r, paths: [/s]}]
    upstreams:
      - name: up
        targets: [{target: "mockbin1:8080"}, {target: "mockbin2:8080"}]
load:
  rate: 100
  duration: 5s
  requests:
    - path: /s/request
faults:
  - fault: latency
    target: mockbin1
    at: 1s
    hold: 2s
    latency: 1s
  - fault: kill
    target: mockbin2
    at: 2s
expect:
  - measure: failures
    window: after kill mockbin2
    offset: 1s
    at_most: 0
    reason: r
  - measure: share-of-code 504
    window: during latency mockbin1
    trim: 600ms
    equal: 1
    reason: r
`

func TestParseGood(t *testing.T) {
	f, err := Parse("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if f.Load.Requests[0].Method != "GET" || len(f.Config.Targets) != 2 || f.Faults[1].ID() != "kill mockbin2" {
		t.Errorf("parsed %+v", f)
	}
	if k, i, err := f.window("during latency mockbin1"); err != nil || k != "during" || i != 0 {
		t.Errorf("window %s %d %v", k, i, err)
	}
}

// Every mistake is file:line with what is wrong, before anything starts.
func TestParseErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		from, to string
		line     int
		want     string
	}{
		"fault typo":      {"fault: kill\n", "fault: kil\n", 26, `fault "kil": unknown fault`},
		"negative rate":   {"rate: 100", "rate: -5", 16, "load.rate -5"},
		"unknown measure": {"measure: failures", "measure: p98", 30, `measure "p98": unknown`},
		"unknown key":     {"  rate: 100", "  rate: 100\n  rtae: 3", 17, "field rtae not found"},
		"bad target":      {"target: mockbin2", "target: mockbin3", 27, `target "mockbin3"`},
		"fault past load": {"at: 2s", "at: 9s", 28, "faults[1].at 9s"},
		"window no fault": {"window: after kill mockbin2", "window: after kill mockbin1", 31, `no fault "kill mockbin1"`},
		"two bounds":      {"at_most: 0\n", "at_most: 0\n    at_least: 0\n", 30, "exactly one of"},
		"no reason":       {"    reason: r\n  - measure: share", "  - measure: share", 30, "want a reason"},
		"bad duration":    {"duration: 5s", "duration: five", 17, "five"},
		"toxic no proxy":  {"toxiproxy: true", "toxiproxy: false", 21, "set stack.toxiproxy: true"},
		"invalid config":  {"name: s\n", "name: s\n        retries: -1\n", 6, "retries"},
		"not a mapping":   {good, "- a\n- b\n", 1, "not a mapping"},
		"invalid YAML":    {"name: t\n", "name: [t\n", 1, ""},
		"empty":           {good, "", 0, "empty file"},
	} {
		t.Run(name, func(t *testing.T) {
			src := strings.Replace(good, tc.from, tc.to, 1)
			if src == good {
				t.Fatalf("replacement %q did not apply", tc.from)
			}
			_, err := Parse("s.yaml", []byte(src))
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want *Error", err)
			}
			if tc.line > 0 && fe.Line != tc.line || !strings.Contains(fe.Msg, tc.want) {
				t.Errorf("got %v, want line %d with %q", err, tc.line, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
		})
	}
}

func TestReadLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{big, dir, filepath.Join(dir, "missing.yaml")} {
		if _, err := Read(p); err == nil || !strings.HasPrefix(err.Error(), p+":") {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// The examples parse (they are run by make test-resilience).
func TestExamplesParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "scenarios", "*.yaml"))
	if len(files) < 3 {
		t.Fatalf("%d example scenarios, want at least 3", len(files))
	}
	for _, p := range files {
		if _, err := Read(p); err != nil {
			t.Error(err)
		}
	}
}
