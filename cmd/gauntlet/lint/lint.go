// Package lint holds gauntlet's static rules over a Kong declarative
// configuration (kong.yml, as the gateway loads it) and the node's settings
// (kong.conf or KONG_* environment). A rule is a small value: an id, a
// severity, its documentation and a check; adding one is adding a value to
// Rules.
package lint

import (
	"fmt"
	"sort"
)

// Severity orders findings; only errors fail the lint.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// Rule is one well-known mistake.
type Rule struct {
	ID       string
	Severity Severity
	// Summary is one line: what is wrong (SARIF shortDescription).
	Summary string
	// Why is the rationale; Fix the remedy; Ref a Kong document or issue.
	Why, Fix, Ref string
	Check         func(*Input) []Finding
}

// Input is what every rule sees: the configuration exactly as the gateway
// loaded it, where its entities are written, and the node's settings.
type Input struct {
	*Parsed
	Settings *Settings
}

// Finding is one rule's verdict on one entity.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Entity names what is wrong: `service "mockbin-service"`, `setting database`.
	Entity string `json:"entity"`
	// Path is the entity's place in its file: services[0].routes[1], or the
	// setting's name.
	Path     string `json:"path"`
	Location `json:"location"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

// Result is a lint run's outcome.
type Result struct {
	File     string
	Findings []Finding
	Rules    []Rule // the rules that ran, for reports that list them
	// SettingsFiles are the node settings read; none means the node rules
	// judged Kong's defaults.
	SettingsFiles []string
}

// Failed reports whether any finding is an error.
func (r *Result) Failed() bool {
	for _, f := range r.Findings {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

// Run applies rules to in and sorts findings by file, line, severity, rule.
func Run(in *Input, rules []Rule) *Result {
	res := &Result{File: in.File, Rules: rules, SettingsFiles: in.Settings.Files}
	for _, r := range rules {
		for _, f := range r.Check(in) {
			f.Rule = r.ID
			if f.Severity == "" {
				f.Severity = r.Severity
			}
			if f.Fix == "" {
				f.Fix = r.Fix
			}
			res.Findings = append(res.Findings, f)
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.File != b.File {
			return a.File == in.File // the kong.yml first, then settings files
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Severity != b.Severity {
			return a.Severity.rank() < b.Severity.rank()
		}
		return a.Rule < b.Rule
	})
	return res
}

// Lint parses a kong.yml and runs every rule on it with the given settings.
func Lint(file string, data []byte, s *Settings) (*Result, error) {
	if s == nil {
		s = NewSettings()
	}
	p, err := parse(file, data, customPlugins(s))
	if err != nil {
		return nil, err
	}
	return Run(&Input{Parsed: p, Settings: s}, Rules), nil
}

// entity locates a loaded entity: its display name, path and line, and the
// line of key within it when the file sets that key.
func (in *Input) entity(kind, id string, name *string, key string) (string, string, Location) {
	disp := kind + " " + id
	if name != nil && *name != "" {
		disp = fmt.Sprintf("%s %q", kind, *name)
	}
	pos := in.pos[id]
	if pos == nil {
		return disp, "", Location{File: in.File}
	}
	line := pos.line
	if l, ok := pos.keys[key]; ok && key != "" {
		line = l
	}
	return disp, pos.path, Location{File: in.File, Line: line}
}

// setting locates a node setting: its file and line, or, for a default, the
// kong.yml as a whole (there is no line to point at).
func (in *Input) setting(key string) Location {
	if l, ok := in.Settings.Where(key); ok {
		return Location{File: l.File, Line: l.Line}
	}
	return Location{File: in.File}
}
