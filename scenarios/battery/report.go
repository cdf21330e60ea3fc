package battery

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WriteTable writes the verdict table: one row per service, one column per
// property, each cell the verdict; then the key number of every cell.
func WriteTable(w io.Writer, rs []Result) {
	cell := map[string]Result{}
	for _, r := range rs {
		cell[r.Service+"\x00"+r.Property] = r
	}
	services := Services(rs)
	width := len("service")
	for _, s := range services {
		width = max(width, len(s))
	}
	fmt.Fprintf(w, "%-*s", width, "service")
	for _, p := range Properties {
		fmt.Fprintf(w, "  %-15s", p)
	}
	fmt.Fprintln(w)
	for _, s := range services {
		fmt.Fprintf(w, "%-*s", width, s)
		for _, p := range Properties {
			v := "-"
			if r, ok := cell[s+"\x00"+p]; ok {
				v = r.Verdict
			}
			fmt.Fprintf(w, "  %-15s", v)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	for _, s := range services {
		for _, p := range Properties {
			r, ok := cell[s+"\x00"+p]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "%s / %s: %s — %s\n", s, p, r.Verdict, r.Key)
			for _, m := range r.Misses {
				fmt.Fprintf(w, "    missed: %s\n", m)
			}
		}
	}
	sum := Summary(rs)
	fmt.Fprintf(w, "\n%d holds, %d fails, %d n/a, %d error\n", sum[Holds], sum[Fails], sum[NA], sum[Error])
}

// WriteMarkdown writes the same table for a CI job page.
func WriteMarkdown(w io.Writer, file string, rs []Result) {
	fmt.Fprintf(w, "# gauntlet check %s\n\n| service |", file)
	for _, p := range Properties {
		fmt.Fprintf(w, " %s |", p)
	}
	fmt.Fprint(w, "\n|---|")
	for range Properties {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	cell := map[string]Result{}
	for _, r := range rs {
		cell[r.Service+"\x00"+r.Property] = r
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, s := range Services(rs) {
		fmt.Fprintf(w, "| %s |", esc(s))
		for _, p := range Properties {
			r := cell[s+"\x00"+p]
			fmt.Fprintf(w, " **%s**<br>%s |", r.Verdict, esc(r.Key))
		}
		fmt.Fprintln(w)
	}
}

type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Output    string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes one test case per service × property: fails are
// failures, errors errors, n/a skipped.
func WriteJUnit(w io.Writer, file string, rs []Result) error {
	s := junitSuite{Name: "gauntlet check " + file, Tests: len(rs)}
	var total time.Duration
	for _, r := range rs {
		total += r.Took
		c := junitCase{Name: r.Property, Classname: r.Service, Time: fmt.Sprintf("%.3f", r.Took.Seconds()), Output: r.Key}
		switch r.Verdict {
		case Fails:
			s.Failures++
			c.Failure = &junitMessage{Message: r.Key, Body: strings.Join(r.Misses, "\n")}
		case Error:
			s.Errors++
			c.Error = &junitMessage{Message: r.Key}
		case NA:
			s.Skipped++
			c.Skipped = &junitMessage{Message: r.Key}
		}
		s.Cases = append(s.Cases, c)
	}
	s.Time = fmt.Sprintf("%.3f", total.Seconds())
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// WriteFiles writes check.json, check.md and junit.xml into dir, beside the
// records the properties left there.
func WriteFiles(dir, file string, rs []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]any{"file": file, "results": rs, "summary": Summary(rs)}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "check.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	WriteMarkdown(&md, file, rs)
	if err := os.WriteFile(filepath.Join(dir, "check.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "junit.xml"))
	if err != nil {
		return err
	}
	if err := WriteJUnit(f, file, rs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
