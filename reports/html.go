package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// The pages are self-contained: CSS and the render check are inline, plots are
// inline SVG, and nothing is fetched, so a report opens from a CI artifact
// with no network.

const pageCSS = `
:root{--pass:#2e7d32;--fail:#c62828;--err:#ef6c00;--inc:#6a5acd;--ink:#1d1d1f;--mute:#5f6368;--line:#dadce0;--bg:#f7f7f9}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","Liberation Sans",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:16px 28px}
header h1{margin:0 0 4px;font-size:22px}
main{padding:18px 28px;max-width:1280px}
a{color:#1a5fb4}
.sub{color:var(--mute)}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px;text-transform:uppercase;letter-spacing:.03em}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.error{background:var(--err)}.badge.inconclusive{background:var(--inc)}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:130px}
.card .k{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 18px;margin:14px 0}
section h2{margin:4px 0 10px;font-size:17px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:5px 10px;text-align:left;vertical-align:top}
th{background:#fafafa;font-weight:600;font-size:13px}
td.num{text-align:right}
tr.fail td{background:#fdecea}
tr.inconclusive td{background:#efedfb}
figure{margin:8px 0 18px}
figcaption{color:var(--mute);font-size:13px}
svg.plot{width:100%;max-width:1100px;height:auto;display:block}
figure.overview svg.plot{max-width:760px}
pre{background:#f4f4f6;border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto;font-size:12.5px;max-height:420px}
details summary{cursor:pointer;font-weight:600}
.failure{color:var(--fail);font-weight:600}
`

// renderCheck is the page's own proof that the plots rendered: it counts the
// SVG plots that laid out with a non-empty box and drawn content, and writes
// the counts on <html>, where the headless-browser check reads them from the
// dumped DOM.
const renderCheck = `
window.addEventListener("load", function () {
  var plots = document.querySelectorAll("svg.plot"), ok = 0;
  for (var i = 0; i < plots.length; i++) {
    var b = plots[i].getBBox();
    if (b.width > 0 && b.height > 0 && plots[i].querySelectorAll("path,text").length > 10) ok++;
  }
  document.documentElement.setAttribute("data-plots", String(plots.length));
  document.documentElement.setAttribute("data-plots-rendered", String(ok));
});
`

var funcs = template.FuncMap{
	"dur":    fmtDur,
	"pct":    fmtPct,
	"rate":   fmtRate,
	"offset": fmtOffset,
	"codes":  fmtCodes,
	"svg":    inlineFigure,
	"utc":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 MST") },
	"pf": func(ok bool) string {
		if ok {
			return VerdictPass
		}
		return VerdictFail
	},
	"measured":    measured,
	"av":          assertionVerdict,
	"premiseRow":  premiseRow,
	"selfLines":   selfLines,
	"load":        loadText,
	"faultRow":    faultRow,
	"resourceRow": resourceRow,
	"share": func(n, of int) string {
		if of == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
	},
}

var tmpl = template.Must(template.New("pages").Funcs(funcs).Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}}</title><style>` + pageCSS + `</style><script>` + renderCheck + `</script></head>{{end}}

{{define "index"}}{{template "head" "Gauntlet resilience report"}}
<body><header><h1>Gauntlet resilience report <span class="badge {{.Counts.Verdict}}">{{.Counts.Verdict}}</span></h1>
<div class="sub">{{.Counts}}{{if .Generated}} · runs {{.Generated}}{{end}}</div></header>
<main>
<section><h2>Scenarios</h2>
<table><thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Scenarios}}<tr class="{{.Record.Verdict}}">
<td><a href="{{$.Dir}}/{{.Slug}}.html">{{.Record.Scenario}}</a></td><td><span class="badge {{.Record.Verdict}}">{{.Record.Verdict}}</span></td>{{range slice .Row 2}}<td>{{.}}</td>{{end}}
</tr>{{end}}
</tbody></table></section>
{{range .Scenarios}}
<section id="{{.Slug}}"><h2><a href="{{$.Dir}}/{{.Slug}}.html">{{.Record.Scenario}}</a> <span class="badge {{.Record.Verdict}}">{{.Record.Verdict}}</span></h2>
{{with .Record.Failure}}<p class="failure">{{.}}</p>{{end}}
{{range .Index}}<figure class="overview">{{svg .}}<figcaption>{{.Title}}: {{.Caption}}</figcaption></figure>{{end}}
</section>
{{end}}
</main></body></html>
{{end}}

{{define "scenario"}}{{$r := .Record}}{{template "head" $r.Scenario}}
<body><header><div class="sub"><a href="../index.html">← all scenarios</a></div>
<h1>{{$r.Scenario}} <span class="badge {{$r.Verdict}}">{{$r.Verdict}}</span></h1>
<div class="sub">stack: {{$r.Stack}}{{with $r.Gateway}} · gateway: {{.}}{{end}}{{with $r.Labels}} · labels: {{range $i, $l := .}}{{if $i}}, {{end}}{{$l}}{{end}}{{end}} · {{utc $r.Start}} → {{utc $r.End}}</div>
{{with $r.Failure}}<p class="failure">{{.}}</p>{{end}}
</header>
<main>
<div class="cards">
<div class="card"><div class="k">Requests</div><div class="v">{{$r.Totals.Requests}}</div></div>
<div class="card"><div class="k">Success</div><div class="v">{{pct $r.Totals.Success}}</div></div>
<div class="card"><div class="k">Failed</div><div class="v">{{$r.Totals.Failed}}</div></div>
<div class="card"><div class="k">p99</div><div class="v">{{dur $r.Totals.Latencies.P99}}</div></div>
<div class="card"><div class="k">Throughput</div><div class="v">{{rate $r.Totals.Throughput}}</div></div>
{{with .Failover}}<div class="card"><div class="k">Failover time</div><div class="v">{{.}}</div></div>{{end}}
</div>

<section><h2>Assertions</h2>
{{if $r.Assertions}}<table><thead><tr><th>Assertion</th><th>Bound</th><th>Measured</th><th>Verdict</th></tr></thead><tbody>
{{range $r.Assertions}}<tr class="{{av .}}"><td>{{.Name}}</td><td>{{.Bound}}</td><td class="num">{{measured .}}</td><td><span class="badge {{av .}}">{{av .}}</span></td></tr>
{{end}}</tbody></table>{{else}}<p class="sub">No assertions recorded.</p>{{end}}
</section>

{{if or $r.Premises $r.Generator $r.Machine}}<section id="premises"><h2>Premises and the run itself</h2>
{{if $r.Premises}}<table><thead><tr>{{range .PremiseColumns}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range $r.Premises}}<tr{{if not .Held}} class="inconclusive"{{end}}>{{range premiseRow .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>{{end}}
<ul>{{range selfLines $r}}<li>{{.}}</li>{{end}}</ul>
{{range $r.Earlier}}<p class="sub">Earlier attempt: <span class="badge {{.Verdict}}">{{.Verdict}}</span> {{.Reason}}</p>{{end}}
</section>{{end}}

<section><h2>Fault timeline</h2>
{{if $r.Faults}}<table><thead><tr>{{range .FaultColumns}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range $r.Faults}}<tr>{{range faultRow $r .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>{{else}}<p class="sub">No faults: a baseline under load.</p>{{end}}
<p class="sub">Load: {{load $r.Load}}</p>
</section>

<section><h2>Plots</h2>
{{range .Figures}}<figure id="plot-{{.ID}}">{{svg .}}<figcaption><b>{{.Title}}.</b> {{.Caption}}</figcaption></figure>
{{end}}</section>

{{with $r.Resources}}<section id="resources"><h2>Resource samples</h2>
<p class="sub">The gateway's own gauges every {{dur .Every}}, with the requests sent in the window each sample closes; the first {{dur .WarmUp}} are warm-up, left out of the trend test.</p>
<details><summary>{{len .Samples}} samples</summary>
<table><thead><tr>{{range $.ResourceColumns}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Samples}}<tr{{if .Failures}} class="fail"{{end}}>{{range resourceRow .}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</tbody></table></details>
</section>{{end}}

<section><h2>Totals</h2>
<table><thead><tr>{{range .TotalsColumns}}<th>{{.}}</th>{{end}}</tr></thead><tbody><tr>{{range .Totals}}<td class="num">{{.}}</td>{{end}}</tr></tbody></table>
<p>Status codes: {{codes $r.Totals.StatusCodes}}</p>
{{with $r.Totals.Errors}}<details{{if le (len .) 5}} open{{end}}><summary>{{len .}} distinct errors</summary><ul>{{range .}}<li><code>{{.}}</code></li>{{end}}</ul></details>{{end}}
<details><summary>vegeta-style text report</summary><pre>{{.Text}}</pre></details>
</section>

<section><h2>Per interval</h2>
<details><summary>{{len $r.Series}} intervals</summary>
<table><thead><tr><th>Offset</th><th>Requests</th><th>Rate</th><th>Success</th><th>p50</th><th>p99</th><th>Lag p99</th><th>Lag max</th><th>Status codes</th><th>Targets</th></tr></thead><tbody>
{{range $r.Series}}<tr{{if lt .Success 1.0}} class="fail"{{end}}><td class="num">{{offset .Offset}}</td><td class="num">{{.Requests}}</td><td class="num">{{rate .Rate}}</td><td class="num">{{pct .Success}}</td><td class="num">{{dur .P50}}</td><td class="num">{{dur .P99}}</td><td class="num">{{dur .LagP99}}</td><td class="num">{{dur .LagMax}}</td><td>{{codes .StatusCodes}}</td><td>{{$iv := .}}{{range $t, $n := .Targets}}{{$t}}: {{share $n $iv.Requests}} {{end}}</td></tr>
{{end}}</tbody></table></details>
</section>

<section><h2>Gateway configuration</h2>
{{if .Config}}<details><summary>as applied</summary><pre>{{.Config}}</pre></details>{{else}}<p class="sub">Not recorded.</p>{{end}}
</section>

<section><h2>Logs</h2>
{{range $r.Logs}}<details><summary>{{.Container}}</summary><pre>{{.Tail}}</pre></details>
{{else}}<p class="sub">No logs recorded.</p>{{end}}
</section>
</main></body></html>
{{end}}
`))

// inlineFigure is a figure's SVG for inlining, labelled for screen readers.
// The SVG is our own gonum output, whose text vgsvg escapes, so it is safe
// to mark as HTML.
func inlineFigure(f Figure) template.HTML {
	svg := inlineSVG(f.SVG)
	label := ` role="img" aria-label="` + template.HTMLEscapeString(f.Title) + `"`
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		svg = append(svg[:i+4:i+4], append([]byte(label), svg[i+4:]...)...)
	}
	return template.HTML(svg)
}

// scenarioPage is the data of one scenario's page.
type scenarioPage struct {
	Record          *Record
	Figures         []Figure
	Failover        string
	FaultColumns    []string
	PremiseColumns  []string
	TotalsColumns   []string
	ResourceColumns []string
	Totals          []string
	Text            string
	Config          string
}

// WriteScenarioHTML writes the self-contained page of one scenario.
func WriteScenarioHTML(w io.Writer, r *Record, figs []Figure) error {
	var text strings.Builder
	if err := WriteText(&text, r); err != nil {
		return err
	}
	page := scenarioPage{
		Record: r, Figures: figs, FaultColumns: FaultColumns, PremiseColumns: PremiseColumns, TotalsColumns: TotalsColumns, ResourceColumns: ResourceColumns,
		Totals: totalsRow(&r.Totals), Text: text.String(), Config: prettyJSON(r.GatewayConfig),
	}
	if d, ok := r.FailoverTime(); ok {
		page.Failover = fmtDur(d)
	}
	if err := tmpl.ExecuteTemplate(w, "scenario", page); err != nil {
		return fmt.Errorf("render page of %q: %w", r.Scenario, err)
	}
	return nil
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// indexEntry is one scenario on the index page.
type indexEntry struct {
	Record *Record
	Slug   string
	// Row is the overview row (SummaryColumns); the template draws the
	// first two cells itself, as a link and a badge.
	Row []string
	// Index are the figures shown on the index: the error rate, where a
	// fault's effect shows first.
	Index []Figure
}

type indexPage struct {
	Counts    Counts
	Generated string
	Columns   []string
	Dir       string
	Scenarios []indexEntry
}

// WriteIndexHTML writes the index over all scenarios; scenario pages are
// linked as pagesDir/<slug>.html. figs holds each record's figures by slug.
func WriteIndexHTML(w io.Writer, recs []*Record, figs map[string][]Figure, pagesDir string) error {
	page := indexPage{Counts: Tally(recs), Columns: SummaryColumns, Dir: pagesDir}
	var first, last time.Time
	for _, r := range ByVerdict(recs) {
		e := indexEntry{Record: r, Slug: Slug(r.Scenario), Row: summaryRow(r)}
		for _, f := range figs[e.Slug] {
			if f.ID == "errors" {
				e.Index = append(e.Index, f)
			}
		}
		page.Scenarios = append(page.Scenarios, e)
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		if r.End.After(last) {
			last = r.End
		}
	}
	if !first.IsZero() {
		page.Generated = first.UTC().Format("2006-01-02 15:04 UTC") + " → " + last.UTC().Format("15:04 UTC")
	}
	if err := tmpl.ExecuteTemplate(w, "index", page); err != nil {
		return fmt.Errorf("render index: %w", err)
	}
	return nil
}
