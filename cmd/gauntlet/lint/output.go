package lint

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"
)

// Formats lists the output formats, the first being the default.
var Formats = []string{"text", "json", "junit", "sarif"}

// Write renders res in format.
func Write(w io.Writer, format string, res *Result) error {
	switch format {
	case "", "text":
		return writeText(w, res)
	case "json":
		return writeJSON(w, res)
	case "junit":
		return writeJUnit(w, res)
	case "sarif":
		return writeSARIF(w, res)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

func (f Finding) where() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

// writeText writes one line per finding, compiler style, then a count.
func writeText(w io.Writer, res *Result) error {
	counts := map[Severity]int{}
	for _, f := range res.Findings {
		counts[f.Severity]++
		if _, err := fmt.Fprintf(w, "%s: %s %s %s: %s (fix: %s)\n", f.where(), f.Severity, f.Rule, f.Entity, f.Message, f.Fix); err != nil {
			return err
		}
	}
	note := ""
	if len(res.SettingsFiles) == 0 {
		note = " (no --conf or --env-file: node settings judged at Kong's defaults)"
	}
	_, err := fmt.Fprintf(w, "%s: %d error(s), %d warning(s), %d info%s\n", res.File, counts[Error], counts[Warning], counts[Info], note)
	return err
}

type jsonReport struct {
	File     string         `json:"file"`
	Settings []string       `json:"settings"` // files read; [] means Kong's defaults
	Errors   int            `json:"errors"`
	Warnings int            `json:"warnings"`
	Infos    int            `json:"infos"`
	Findings []Finding      `json:"findings"`
	Rules    []jsonRuleInfo `json:"rules"`
}

type jsonRuleInfo struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
	Fix      string   `json:"fix"`
	Ref      string   `json:"ref"`
}

func writeJSON(w io.Writer, res *Result) error {
	rep := jsonReport{File: res.File, Settings: res.SettingsFiles, Findings: res.Findings}
	if rep.Settings == nil {
		rep.Settings = []string{}
	}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	for _, f := range res.Findings {
		switch f.Severity {
		case Error:
			rep.Errors++
		case Warning:
			rep.Warnings++
		default:
			rep.Infos++
		}
	}
	for _, r := range res.Rules {
		rep.Rules = append(rep.Rules, jsonRuleInfo{r.ID, r.Severity, r.Summary, r.Fix, r.Ref})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// JUnit: one testsuite, one testcase per rule × entity found; errors and
// warnings are failures (type = severity), info stays a passing case with the
// message in system-out. A rule with no finding is one passing testcase.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(w io.Writer, res *Result) error {
	suite := junitSuite{Name: "gauntlet lint " + res.File}
	seen := map[string]bool{}
	for _, f := range res.Findings {
		seen[f.Rule] = true
		c := junitCase{Name: f.Rule + " " + f.Entity, Classname: "gauntlet.lint." + f.Rule, File: f.File, Line: f.Line}
		text := fmt.Sprintf("%s: %s: %s\nfix: %s", f.where(), f.Path, f.Message, f.Fix)
		if f.Severity == Info {
			c.SystemOut = text
		} else {
			c.Failure = &junitFailure{Message: f.Message, Type: string(f.Severity), Text: text}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, r := range res.Rules {
		if !seen[r.ID] {
			suite.Cases = append(suite.Cases, junitCase{Name: r.ID, Classname: "gauntlet.lint." + r.ID})
		}
	}
	suite.Tests = len(suite.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// sarifLevel maps severities onto SARIF's levels (info is "note").
func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

// writeSARIF writes SARIF 2.1.0 as GitHub code scanning reads it: the rules
// under tool.driver.rules, one result per finding with a physical location.
// URIs are relative slash paths, as code scanning matches them to the repo.
func writeSARIF(w io.Writer, res *Result) error {
	rep, err := sarif.New(sarif.Version210)
	if err != nil {
		return err
	}
	run := sarif.NewRunWithInformationURI("gauntlet", "https://github.com/gauntlet-dev/gauntlet/blob/main/docs/gauntlet.md")
	for _, r := range res.Rules {
		run.AddRule(r.ID).
			WithName(ruleName(r.ID)).
			WithShortDescription(sarif.NewMultiformatMessageString(r.Summary)).
			WithFullDescription(sarif.NewMultiformatMessageString(r.Why)).
			WithHelpURI(r.Ref).
			WithHelp(sarif.NewMultiformatMessageString(r.Why + " Fix: " + r.Fix + ". See " + r.Ref).
				WithMarkdown(fmt.Sprintf("%s\n\n**Fix:** %s.\n\nSee [%s](%s).", r.Why, r.Fix, r.Ref, r.Ref))).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(r.Severity)))
	}
	for _, f := range res.Findings {
		line := f.Line
		if line < 1 {
			line = 1 // SARIF regions start at line 1; a default setting has no line of its own
		}
		loc := sarif.NewPhysicalLocation().
			WithArtifactLocation(sarif.NewSimpleArtifactLocation(filepath.ToSlash(f.File))).
			WithRegion(sarif.NewRegion().WithStartLine(line))
		run.AddResult(sarif.NewRuleResult(f.Rule).
			WithLevel(sarifLevel(f.Severity)).
			WithMessage(sarif.NewTextMessage(fmt.Sprintf("%s (%s): %s. Fix: %s", f.Entity, f.Path, f.Message, f.Fix))).
			WithLocations([]*sarif.Location{sarif.NewLocationWithPhysicalLocation(loc)}))
	}
	rep.AddRun(run)
	return rep.PrettyWrite(w)
}

// ruleName is the rule id in PascalCase, SARIF's convention for rule names.
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
