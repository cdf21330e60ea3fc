// Package scenariofile is gauntlet run's engine: a declarative scenario file
// (the stack, the gateway configuration, the load, a fault timeline and
// expectations in the harness's vocabulary) parsed strictly — every mistake
// is file:line and nothing starts — and run on the same harness as the Go
// scenarios, leaving the same records.
package scenariofile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// pluginSchemas validates plugin entries with the gateway's own schemas, as
// the gateway does when it loads the file.
type pluginSchemas struct{}

func (pluginSchemas) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	return plugins.Validate(name, cfg)
}

// MaxFileSize bounds a scenario file (and a kong.yml it names).
const MaxFileSize = 1 << 20

// File is one parsed, validated scenario.
type File struct {
	Path    string     `yaml:"-"`
	Name    string     `yaml:"name"`
	Stack   Stack      `yaml:"stack"`
	Gateway Gateway    `yaml:"gateway"`
	Load    Load       `yaml:"load"`
	Faults  []Fault    `yaml:"faults"`
	Expect  []Expect   `yaml:"expect"`
	root    *yaml.Node // the document, for error lines
	// Config is the gateway configuration, validated by the gateway's loader.
	Config *config.Config `yaml:"-"`
}

// Stack is what runs besides the gateway.
type Stack struct {
	Mockbins  int  `yaml:"mockbins"`
	Toxiproxy bool `yaml:"toxiproxy"`
	Redis     bool `yaml:"redis"`
}

// Gateway is the gateway's configuration: a kong.yml path (relative to the
// scenario file) or the declarative document inline.
type Gateway struct {
	Config yaml.Node `yaml:"config"`
}

// Load is the constant-rate load.
type Load struct {
	Rate     int           `yaml:"rate"`
	Duration time.Duration `yaml:"duration"`
	Timeout  time.Duration `yaml:"timeout"`
	Requests []Request     `yaml:"requests"`
}

// Request is one load target through the gateway's proxy.
type Request struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
}

// Fault is one step of the timeline.
type Fault struct {
	// Fault is the kind: see FaultKinds.
	Fault  string        `yaml:"fault"`
	Target string        `yaml:"target"`
	At     time.Duration `yaml:"at"`
	Hold   time.Duration `yaml:"hold"`
	// Toxic and mockbin parameters.
	Latency time.Duration `yaml:"latency"`
	Jitter  time.Duration `yaml:"jitter"`
	Timeout time.Duration `yaml:"timeout"`
	Rate    int64         `yaml:"rate"`
	Status  int           `yaml:"status"`
}

// Expect is one numeric check: measure over window, compared with exactly
// one of Equal, AtMost, AtLeast, for Reason.
type Expect struct {
	Measure string `yaml:"measure"`
	Window  string `yaml:"window"`
	// Offset starts the window this long after its start; Trim ends it this
	// long before its end (requests sent then may outlive the fault).
	Offset  string   `yaml:"offset"`
	Trim    string   `yaml:"trim"`
	Equal   *float64 `yaml:"equal"`
	AtMost  *float64 `yaml:"at_most"`
	AtLeast *float64 `yaml:"at_least"`
	Reason  string   `yaml:"reason"`
}

// FaultKinds are the fault names a file may use: process faults on a node
// (mockbinN, gateway, redis), Toxiproxy toxics on a mockbin's proxy, and
// mockbin's own fault mode.
var FaultKinds = []string{"kill", "stop", "restart", "pause", "partition", "latency", "timeout", "reset", "bandwidth", "mockbin"}

var toxicKinds = []string{"latency", "timeout", "reset", "bandwidth"}

// Measures are what an expectation can measure over its window's requests.
var Measures = []string{"requests", "failures", "success", "max-latency", "p50", "p99", "share-of-code N", "share-of-instance NAME"}

// Error is a mistake in a scenario file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Read reads and validates one scenario file.
func Read(path string) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		msg := err.Error()
		var pe *os.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, &Error{File: path, Msg: msg}
	}
	if st.IsDir() {
		return nil, &Error{File: path, Msg: "is a directory"}
	}
	if st.Size() > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("%d bytes is over the %d KiB limit", st.Size(), MaxFileSize>>10)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Parse(path, data)
}

// Parse validates data as a scenario file named path.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErr(path, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{File: path, Msg: "empty file, want a scenario mapping (name, stack, gateway, load, faults, expect)"}
	}
	if top := root.Content[0]; top.Kind != yaml.MappingNode {
		return nil, &Error{File: path, Line: top.Line, Msg: "the document is not a mapping (want name, stack, gateway, load, faults, expect)"}
	}
	f.root = root.Content[0]
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, yamlErr(path, err)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// yamlErr turns yaml.v3's "yaml: line 3: ..." into file:line.
func yamlErr(path string, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return &Error{File: path, Line: line, Msg: after}
			}
		}
	}
	return &Error{File: path, Msg: msg}
}

// line is the line of the value at path (keys and list indexes) in the
// document, or of the deepest part of it that exists.
func (f *File) line(path ...any) int {
	n := f.root
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						line = n.Content[i].Line
						next = n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func (f *File) errAt(msg string, path ...any) error {
	return &Error{File: f.Path, Line: f.line(path...), Msg: msg}
}

func (f *File) validate() error {
	if strings.TrimSpace(f.Name) == "" {
		return f.errAt("name: want the scenario's name", "name")
	}
	if f.Stack.Mockbins == 0 {
		f.Stack.Mockbins = 2
	}
	if f.Stack.Mockbins < 1 || f.Stack.Mockbins > 8 {
		return f.errAt(fmt.Sprintf("stack.mockbins %d: want 1 to 8", f.Stack.Mockbins), "stack", "mockbins")
	}
	if err := f.validateLoad(); err != nil {
		return err
	}
	for i, ft := range f.Faults {
		if err := f.validateFault(i, ft); err != nil {
			return err
		}
	}
	if len(f.Expect) == 0 {
		return f.errAt("expect: want at least one expectation", "expect")
	}
	for i, e := range f.Expect {
		if err := f.validateExpect(i, e); err != nil {
			return err
		}
	}
	return f.loadConfig()
}

func (f *File) validateLoad() error {
	l := &f.Load
	if l.Rate <= 0 || l.Rate > 2000 {
		return f.errAt(fmt.Sprintf("load.rate %d: want 1 to 2000 requests per second", l.Rate), "load", "rate")
	}
	if l.Duration <= 0 || l.Duration > 2*time.Minute {
		return f.errAt(fmt.Sprintf("load.duration %v: want more than 0 and at most 2m", l.Duration), "load", "duration")
	}
	if l.Timeout < 0 || l.Timeout > time.Minute {
		return f.errAt(fmt.Sprintf("load.timeout %v: want at most 1m (0: 5s)", l.Timeout), "load", "timeout")
	}
	if len(l.Requests) == 0 {
		return f.errAt("load.requests: want at least one request (path, method)", "load", "requests")
	}
	for i := range l.Requests {
		r := &l.Requests[i]
		if r.Method == "" {
			r.Method = "GET"
		}
		r.Method = strings.ToUpper(r.Method)
		if !strings.HasPrefix(r.Path, "/") {
			return f.errAt(fmt.Sprintf("load.requests[%d].path %q: want a path starting with /", i, r.Path), "load", "requests", i, "path")
		}
	}
	return nil
}

func (f *File) validateFault(i int, ft Fault) error {
	if !slices.Contains(FaultKinds, ft.Fault) {
		return f.errAt(fmt.Sprintf("faults[%d].fault %q: unknown fault (want one of %s)", i, ft.Fault, strings.Join(FaultKinds, ", ")), "faults", i, "fault")
	}
	targets := []string{"gateway"}
	if f.Stack.Redis {
		targets = append(targets, "redis")
	}
	for n := 1; n <= f.Stack.Mockbins; n++ {
		targets = append(targets, fmt.Sprintf("mockbin%d", n))
	}
	if slices.Contains(toxicKinds, ft.Fault) || ft.Fault == "mockbin" {
		targets = targets[len(targets)-f.Stack.Mockbins:]
	}
	if !slices.Contains(targets, ft.Target) {
		return f.errAt(fmt.Sprintf("faults[%d].target %q: want one of %s", i, ft.Target, strings.Join(targets, ", ")), "faults", i, "target")
	}
	if slices.Contains(toxicKinds, ft.Fault) && !f.Stack.Toxiproxy {
		return f.errAt(fmt.Sprintf("faults[%d]: %s is a Toxiproxy toxic: set stack.toxiproxy: true", i, ft.Fault), "faults", i, "fault")
	}
	if ft.At < 0 || ft.At >= f.Load.Duration {
		return f.errAt(fmt.Sprintf("faults[%d].at %v: want within the load (0 to %v)", i, ft.At, f.Load.Duration), "faults", i, "at")
	}
	if ft.Hold < 0 {
		return f.errAt(fmt.Sprintf("faults[%d].hold %v: want 0 (until the end) or more", i, ft.Hold), "faults", i, "hold")
	}
	switch ft.Fault {
	case "latency":
		if ft.Latency <= 0 {
			return f.errAt(fmt.Sprintf("faults[%d]: latency wants latency > 0", i), "faults", i)
		}
	case "bandwidth":
		if ft.Rate <= 0 {
			return f.errAt(fmt.Sprintf("faults[%d]: bandwidth wants rate (KB/s) > 0", i), "faults", i)
		}
	case "mockbin":
		if ft.Status == 0 && ft.Latency == 0 {
			return f.errAt(fmt.Sprintf("faults[%d]: mockbin wants status or latency", i), "faults", i)
		}
		if ft.Status != 0 && (ft.Status < 200 || ft.Status > 999) {
			return f.errAt(fmt.Sprintf("faults[%d].status %d: want 200-999", i, ft.Status), "faults", i, "status")
		}
	}
	for j := range i {
		if f.Faults[j].ID() == ft.ID() {
			return f.errAt(fmt.Sprintf("faults[%d]: %q twice; a fault may run once per scenario", i, ft.ID()), "faults", i)
		}
	}
	return nil
}

// ID names a fault in windows: "kill mockbin1", "latency mockbin1".
func (ft Fault) ID() string { return ft.Fault + " " + ft.Target }

// window parses "all", "before ID", "during ID", "after ID".
func (f *File) window(w string) (kind string, fault int, err error) {
	w = strings.TrimSpace(w)
	if w == "" || w == "all" {
		return "all", -1, nil
	}
	kind, id, ok := strings.Cut(w, " ")
	if !ok || !slices.Contains([]string{"before", "during", "after"}, kind) {
		return "", 0, fmt.Errorf("window %q: want all, before FAULT, during FAULT or after FAULT", w)
	}
	for i, ft := range f.Faults {
		if ft.ID() == strings.TrimSpace(id) {
			return kind, i, nil
		}
	}
	var ids []string
	for _, ft := range f.Faults {
		ids = append(ids, fmt.Sprintf("%q", ft.ID()))
	}
	return "", 0, fmt.Errorf("window %q: no fault %q in faults (have %s)", w, strings.TrimSpace(id), strings.Join(ids, ", "))
}

// measure parses a measure and its argument.
func measure(m string) (name, arg string, err error) {
	name, arg, _ = strings.Cut(strings.TrimSpace(m), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "requests", "failures", "success", "max-latency", "p50", "p99":
		if arg == "" {
			return name, "", nil
		}
	case "share-of-code":
		if c, err := strconv.Atoi(arg); err == nil && c >= 0 && c <= 999 {
			return name, arg, nil
		}
	case "share-of-instance":
		if arg != "" {
			return name, arg, nil
		}
	}
	return "", "", fmt.Errorf("measure %q: unknown (want one of %s)", m, strings.Join(Measures, ", "))
}

func (f *File) validateExpect(i int, e Expect) error {
	if _, _, err := measure(e.Measure); err != nil {
		return f.errAt(fmt.Sprintf("expect[%d].%s", i, err), "expect", i, "measure")
	}
	if _, _, err := f.window(e.Window); err != nil {
		return f.errAt(fmt.Sprintf("expect[%d].%s", i, err), "expect", i, "window")
	}
	if e.Offset != "" {
		if d, err := time.ParseDuration(e.Offset); err != nil || d < 0 {
			return f.errAt(fmt.Sprintf("expect[%d].offset %q: want a duration ≥ 0 (how long after the window's start to begin)", i, e.Offset), "expect", i, "offset")
		}
	}
	if e.Trim != "" {
		if d, err := time.ParseDuration(e.Trim); err != nil || d < 0 {
			return f.errAt(fmt.Sprintf("expect[%d].trim %q: want a duration ≥ 0 (how long before the window's end to stop)", i, e.Trim), "expect", i, "trim")
		}
	}
	n := 0
	for _, v := range []*float64{e.Equal, e.AtMost, e.AtLeast} {
		if v != nil {
			n++
		}
	}
	if n != 1 {
		return f.errAt(fmt.Sprintf("expect[%d]: want exactly one of equal, at_most, at_least", i), "expect", i)
	}
	if strings.TrimSpace(e.Reason) == "" {
		return f.errAt(fmt.Sprintf("expect[%d]: want a reason (why the bound holds)", i), "expect", i)
	}
	return nil
}

// loadConfig reads gateway.config (a path or an inline document) and
// validates it with the gateway's own loader.
func (f *File) loadConfig() error {
	n := &f.Gateway.Config
	line := f.line("gateway", "config")
	var data []byte
	src := f.Path
	switch n.Kind {
	case yaml.ScalarNode:
		p := n.Value
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(f.Path), p)
		}
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Size() > MaxFileSize {
			return &Error{File: f.Path, Line: line, Msg: fmt.Sprintf("gateway.config %q: want a kong.yml file of at most %d KiB", n.Value, MaxFileSize>>10)}
		}
		if data, err = os.ReadFile(p); err != nil {
			return &Error{File: f.Path, Line: line, Msg: err.Error()}
		}
		src = p
	case yaml.MappingNode:
		var err error
		if data, err = yaml.Marshal(n); err != nil {
			return &Error{File: f.Path, Line: line, Msg: err.Error()}
		}
	default:
		return &Error{File: f.Path, Line: line, Msg: "gateway.config: want a kong.yml path or the declarative document inline"}
	}
	c, err := config.LoadDeclarativeWith(data, config.DeclarativeOptions{Plugins: pluginSchemas{}})
	if err != nil {
		return &Error{File: f.Path, Line: line, Msg: fmt.Sprintf("gateway.config (%s): %s", src, strings.Join(strings.Fields(err.Error()), " "))}
	}
	f.Config = c
	return nil
}
