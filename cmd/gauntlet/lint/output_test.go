package lint

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
)

// sample has an error in a settings file, warnings and an info in kong.yml.
func sample(t *testing.T) *Result {
	t.Helper()
	yml := edit(t, "retries: 2", "retries: 5", "read_timeout: 5000", "read_timeout: 60000")
	return lintString(t, yml, "KONG_DATABASE=off\n", 0)
}

func render(t *testing.T, format string, res *Result) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, format, res); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTextFormat(t *testing.T) {
	res := sample(t)
	out := string(render(t, "text", res))
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(res.Findings)+1 {
		t.Fatalf("%d lines for %d findings:\n%s", len(lines), len(res.Findings), out)
	}
	line := regexp.MustCompile(`^[^:]+:\d+: (error|warning|info) [a-z0-9-]+ .+: .+ \(fix: .+\)$`)
	for _, l := range lines[:len(lines)-1] {
		if !line.MatchString(l) {
			t.Errorf("not file:line: severity rule entity: message (fix: ...): %q", l)
		}
	}
	want := []string{
		`kong.yml:6: warning service-default-timeouts service "s": read_timeout at Kong's default`,
		`kong.yml:8: info retries-exceed-targets service "s": retries=5`,
		`test.env:1: error config-in-memory setting database: `,
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	if last := lines[len(lines)-1]; last != "kong.yml: 1 error(s), 1 warning(s), 1 info" {
		t.Errorf("summary %q", last)
	}
	// Without settings files the summary says the node rules saw Kong's defaults.
	clean, err := Lint("kong.yml", []byte(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(render(t, "text", clean)); got != "kong.yml: 0 error(s), 0 warning(s), 0 info (no --conf or --env-file: node settings judged at Kong's defaults)\n" {
		t.Errorf("clean summary %q", got)
	}
}

func TestJSONFormat(t *testing.T) {
	res := sample(t)
	var rep struct {
		File     string
		Settings []string
		Errors   int
		Warnings int
		Infos    int
		Findings []struct {
			Rule, Severity, Entity, Path, Message, Fix string
			Location                                   struct {
				File string
				Line int
			}
		}
		Rules []struct{ ID, Severity, Summary, Fix, Ref string }
	}
	if err := json.Unmarshal(render(t, "json", res), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Settings) != 1 || rep.Settings[0] != "test.env" {
		t.Errorf("settings %v", rep.Settings)
	}
	if rep.File != "kong.yml" || rep.Errors != 1 || rep.Warnings != 1 || rep.Infos != 1 || len(rep.Findings) != 3 {
		t.Fatalf("report %+v", rep)
	}
	f := rep.Findings[0]
	if f.Rule != "service-default-timeouts" || f.Severity != "warning" || f.Entity != `service "s"` || f.Path != "services[0]" ||
		f.Location.File != "kong.yml" || f.Location.Line != 6 || f.Fix == "" {
		t.Errorf("finding %+v", f)
	}
	if len(rep.Rules) != len(Rules) || rep.Rules[0].ID != Rules[0].ID || rep.Rules[0].Ref == "" {
		t.Errorf("rules %+v", rep.Rules)
	}
	// No findings is an empty list, not null.
	clean := lintString(t, good, "", 0)
	if !bytes.Contains(render(t, "json", clean), []byte(`"findings": []`)) {
		t.Error("clean report lacks an empty findings list")
	}
}

func TestJUnitFormat(t *testing.T) {
	res := sample(t)
	var doc struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
				} `xml:"failure"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(render(t, "junit", res), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites", len(doc.Suites))
	}
	s := doc.Suites[0]
	// Three findings (one info, not a failure) plus one passing case per other rule.
	if s.Failures != 2 || s.Tests != 3+len(Rules)-3 || len(s.Cases) != s.Tests {
		t.Errorf("tests %d failures %d cases %d", s.Tests, s.Failures, len(s.Cases))
	}
	byName := map[string]int{}
	for i, c := range s.Cases {
		byName[c.Name] = i
	}
	c := s.Cases[byName["config-in-memory setting database"]]
	if c.Failure == nil || c.Failure.Type != "error" || c.Classname != "gauntlet.lint.config-in-memory" {
		t.Errorf("error case %+v", c)
	}
	if c := s.Cases[byName[`retries-exceed-targets service "s"`]]; c.Failure != nil || !strings.Contains(c.SystemOut, "retries=5") {
		t.Errorf("info case %+v", c)
	}
	if i, ok := byName["admin-api-exposed"]; !ok || s.Cases[i].Failure != nil {
		t.Error("a rule with no finding is one passing test case")
	}
}

// TestSARIFFormat checks the members SARIF 2.1.0's schema requires and those
// GitHub code scanning reads.
func TestSARIFFormat(t *testing.T) {
	res := sample(t)
	var doc map[string]any
	if err := json.Unmarshal(render(t, "sarif", res), &doc); err != nil {
		t.Fatal(err)
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				a, _ := v.([]any)
				if k >= len(a) {
					return nil
				}
				v = a[k]
			}
		}
		return v
	}
	if doc["version"] != "2.1.0" || !strings.Contains(get(doc, "$schema").(string), "sarif-schema-2.1.0") {
		t.Errorf("version %v schema %v", doc["version"], doc["$schema"])
	}
	runs, _ := doc["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("runs %v", doc["runs"])
	}
	run := runs[0]
	if get(run, "tool", "driver", "name") != "gauntlet" {
		t.Errorf("driver %v", get(run, "tool", "driver"))
	}
	rules, _ := get(run, "tool", "driver", "rules").([]any)
	if len(rules) != len(Rules) {
		t.Fatalf("%d rules", len(rules))
	}
	ids := map[string]bool{}
	for i, r := range rules {
		id, _ := get(r, "id").(string)
		ids[id] = true
		if id != Rules[i].ID || get(r, "shortDescription", "text") == nil || get(r, "help", "text") == nil ||
			get(r, "helpUri") == nil || get(r, "defaultConfiguration", "level") == nil {
			t.Errorf("rule %d: %v", i, r)
		}
	}
	results, _ := get(run, "results").([]any)
	if len(results) != len(res.Findings) {
		t.Fatalf("%d results for %d findings", len(results), len(res.Findings))
	}
	levels := map[string]string{}
	for _, r := range results {
		id, _ := get(r, "ruleId").(string)
		if !ids[id] {
			t.Errorf("result for unknown rule %q", id)
		}
		levels[id], _ = get(r, "level").(string)
		if text, _ := get(r, "message", "text").(string); text == "" {
			t.Errorf("result %s without message text", id)
		}
		uri, _ := get(r, "locations", 0, "physicalLocation", "artifactLocation", "uri").(string)
		line, _ := get(r, "locations", 0, "physicalLocation", "region", "startLine").(float64)
		if uri == "" || line < 1 {
			t.Errorf("result %s at %q:%v", id, uri, line)
		}
		if id == "config-in-memory" && (uri != "test.env" || line != 1) {
			t.Errorf("config-in-memory at %s:%v, want test.env:1", uri, line)
		}
	}
	if levels["config-in-memory"] != "error" || levels["service-default-timeouts"] != "warning" || levels["retries-exceed-targets"] != "note" {
		t.Errorf("levels %v", levels)
	}
}

// A finding about a default setting has no line; SARIF still gets line 1.
func TestSARIFDefaultSettingLine(t *testing.T) {
	res := &Result{File: "kong.yml", Rules: Rules, Findings: []Finding{{Rule: "admin-api-exposed", Severity: Error,
		Entity: "setting admin_listen", Location: Location{File: "kong.yml"}, Message: "m", Fix: "f"}}}
	if !bytes.Contains(render(t, "sarif", res), []byte(`"startLine": 1`)) {
		t.Error("no startLine 1")
	}
	if got := string(render(t, "text", res)); !strings.HasPrefix(got, "kong.yml: error admin-api-exposed") {
		t.Errorf("text without a line: %q", got)
	}
}
