package lint

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestPositions(t *testing.T) {
	yml := `_format_version: "3.0"
services:
  - name: a
    host: up
    routes:
      - name: a1
        paths: [/x]
      - name: a2
        paths: [/x]
upstreams:
  - name: up
    targets:
      - target: t:80
routes:
  - name: top
    service: a
    paths: [/y]
`
	p, err := Parse("kong.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		path string
		line int
	}{
		"a":   {"services[0]", 3},
		"a1":  {"services[0].routes[0]", 6},
		"a2":  {"services[0].routes[1]", 8},
		"top": {"routes[0]", 15},
		"up":  {"upstreams[0]", 11},
	}
	in := &Input{Parsed: p, Settings: NewSettings()}
	for _, r := range p.Config.Routes {
		w := want[*r.Name]
		_, path, l := in.entity("route", r.ID, r.Name, "")
		if path != w.path || l.Line != w.line {
			t.Errorf("route %s at %s:%d, want %s:%d", *r.Name, path, l.Line, w.path, w.line)
		}
	}
	for _, s := range p.Config.Services {
		_, path, l := in.service(s, "host")
		if path != "services[0]" || l.Line != 4 {
			t.Errorf("service host at %s:%d, want services[0]:4", path, l.Line)
		}
	}
	if tg := p.Config.Targets[0]; p.pos[tg.ID] == nil || p.pos[tg.ID].path != "upstreams[0].targets[0]" || p.pos[tg.ID].line != 13 {
		t.Errorf("target position %+v", p.pos[tg.ID])
	}
	// The duplicate route is reported at its own path and line.
	res := Run(in, Rules)
	dup := findingsOf(res, "route-shadowed")
	if len(dup) != 1 || dup[0].Path != "services[0].routes[1]" || dup[0].Line != 9 || !strings.Contains(dup[0].Message, "services[0].routes[0]") {
		t.Errorf("route-shadowed: %+v", dup)
	}
}

// TestBadInput: every kind of bad input is one line on stderr and exit 2.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yml", good)
	big := filepath.Join(dir, "big.yml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil { // sparse: no 50 MB written
		t.Fatal(err)
	}
	f.Close()
	cases := []struct {
		name string
		args []string
		want string // in the one line
	}{
		{"missing file", []string{filepath.Join(dir, "nope.yml")}, "no such file"},
		{"directory", []string{dir}, "is a directory"},
		{"invalid YAML", []string{write("inv.yml", "a: [\n")}, "invalid YAML"},
		{"a list", []string{write("list.yml", "- a\n- b\n")}, "want a mapping"},
		{"a scalar", []string{write("scalar.yml", "hello\n")}, "want a mapping"},
		{"empty", []string{write("empty.yml", "")}, "empty file"},
		{"does not validate", []string{write("bad.yml", "_format_version: \"3.0\"\nservices:\n  - name: s\n    port: 99999\n")}, "services[0]"},
		{"unknown plugin", []string{write("plug.yml", "_format_version: \"3.0\"\nplugins:\n  - name: nope\n")}, "plugin 'nope' not enabled"},
		{"no format version", []string{write("nofmt.yml", "services: []\n")}, "_format_version: required field missing"},
		{"over the size bound", []string{big}, "over the 50 MB limit"},
		{"no file", nil, "want exactly one kong.yml"},
		{"two files", []string{good, good}, "want exactly one kong.yml"},
		{"unknown flag", []string{good, "--nope"}, "flag provided but not defined"},
		{"unknown format", []string{good, "--format", "xml"}, "unknown --format"},
		{"missing env file", []string{good, "--env-file", filepath.Join(dir, "nope.env")}, "no such file"},
		{"bad env file", []string{good, "--env-file", write("bad.env", "NOEQUALS\n")}, "bad.env:1"},
		{"bad kong.conf", []string{good, "--conf", write("bad.conf", "words only\n")}, "bad.conf:1"},
		{"negative nodes", []string{good, "--nodes", "-1"}, "--nodes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Command(c.args, &stdout, &stderr)
			if code != ExitBadInput {
				t.Errorf("exit %d, want 2", code)
			}
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "gauntlet lint: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q, want one line containing %q", stderr.String(), c.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kong.yml")
	if err := os.WriteFile(file, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, "k.env")
	if err := os.WriteFile(env, []byte("KONG_ADMIN_LISTEN=0.0.0.0:8001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Command([]string{file}, &out, &errb); code != ExitOK || errb.Len() != 0 {
		t.Errorf("clean file: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	// Flags before and after the file both work.
	for _, args := range [][]string{{file, "--env-file", env}, {"--env-file", env, file}} {
		out.Reset()
		if code := Command(args, &out, &errb); code != ExitFindings || !strings.Contains(out.String(), "admin-api-exposed") {
			t.Errorf("%v: exit %d, output %q", args, code, out.String())
		}
	}
	// A kong.conf is read too, and the environment file wins over it.
	conf := filepath.Join(dir, "kong.conf")
	if err := os.WriteFile(conf, []byte("database = off # DB-less\nadmin_listen = 127.0.0.1:8001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := Command([]string{file, "--conf", conf}, &out, &errb); code != ExitFindings || !strings.Contains(out.String(), "kong.conf:1: error config-in-memory") {
		t.Errorf("--conf: exit %d, output %q", code, out.String())
	}
	out.Reset()
	if code := Command([]string{file, "--conf", conf, "--env-file", env}, &out, &errb); code != ExitFindings || !strings.Contains(out.String(), "k.env:1: error admin-api-exposed") {
		t.Errorf("--conf and --env-file: exit %d, output %q", code, out.String())
	}
	// --output writes the report to the file, nothing to stdout.
	report := filepath.Join(dir, "report.json")
	out.Reset()
	if code := Command([]string{file, "--env-file", env, "--format", "json", "--output", report}, &out, &errb); code != ExitFindings || out.Len() != 0 {
		t.Errorf("--output: exit %d, stdout %q", code, out.String())
	}
	if b, err := os.ReadFile(report); err != nil || !bytes.Contains(b, []byte(`"admin-api-exposed"`)) {
		t.Errorf("report file: %v %s", err, b)
	}
}

// TestOverLimitRefusedBeforeParse: a document past config.MaxDeclarativeValues
// (1.1M values, about 10 MiB) gets the loader's one line, and before yaml.v3
// builds its node tree: that tree is over 200 MB (a yaml.Node of about 200
// bytes a value), the scan that refuses it allocates a few KB, so 1 MiB is a
// bound only the early refusal meets.
func TestOverLimitRefusedBeforeParse(t *testing.T) {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	for i := 0; i < 160_000; i++ {
		fmt.Fprintf(&b, "- name: s%d\n  url: http://u%d.example:8080/p\n  retries: 5\n", i, i%97)
	}
	data := []byte(b.String())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Parse("big.yml", data)
	runtime.ReadMemStats(&after)
	const want = "big.yml: invalid declarative configuration: failed parsing declarative configuration: more than 1000000 values"
	if _, ok := err.(*InputError); !ok || err.Error() != want {
		t.Fatalf("got %T %v, want %q", err, err, want)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("refusing allocated %d bytes, want under 1 MiB: the document was parsed", n)
	}
}
