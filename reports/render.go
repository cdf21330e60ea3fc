package reports

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Layout of an output directory (reports/out):
//
//	records/<slug>.json    the records (written by the harness)
//	index.html             overview, links to the pages
//	summary.md             Markdown summary for a CI job page
//	scenarios/<slug>.html  one self-contained page per scenario
//	scenarios/<slug>.txt   the plain-text report
//	scenarios/<slug>-<plot>.svg  each plot as a standalone file
const (
	RecordsDir   = "records"
	ScenariosDir = "scenarios"
	IndexFile    = "index.html"
	SummaryFile  = "summary.md"
)

// Rendered lists what Render wrote.
type Rendered struct {
	Index   string
	Summary string
	// Pages are the scenario pages, in scenario order.
	Pages  []string
	Counts Counts
}

// Render reads dir/records/*.json and writes the index, the summary and one
// page, text report and set of SVG plots per scenario into dir. It re-renders
// from the records alone, so it can run again without rerunning the load.
func Render(dir string) (*Rendered, error) {
	recs, err := ReadDir(filepath.Join(dir, RecordsDir))
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("render %s: no records in %s", dir, filepath.Join(dir, RecordsDir))
	}
	pages := filepath.Join(dir, ScenariosDir)
	// scenarios/ holds nothing but rendered files: start it afresh, so a
	// scenario dropped since the last run leaves no stale page behind.
	if err := os.RemoveAll(pages); err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	if err := os.MkdirAll(pages, 0o755); err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	out := &Rendered{Counts: Tally(recs)}
	figs := map[string][]Figure{}
	for _, r := range recs {
		slug := Slug(r.Scenario)
		fs, err := Figures(r)
		if err != nil {
			return nil, err
		}
		figs[slug] = fs
		for _, f := range fs {
			if err := writeFile(filepath.Join(pages, slug+"-"+f.ID+".svg"), f.SVG); err != nil {
				return nil, err
			}
		}
		var page, text bytes.Buffer
		if err := WriteScenarioHTML(&page, r, fs); err != nil {
			return nil, err
		}
		if err := WriteText(&text, r); err != nil {
			return nil, err
		}
		path := filepath.Join(pages, slug+".html")
		if err := writeFile(path, page.Bytes()); err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(pages, slug+".txt"), text.Bytes()); err != nil {
			return nil, err
		}
		out.Pages = append(out.Pages, path)
		slog.Debug("rendered scenario", "scenario", r.Scenario, "page", path)
	}
	var index, summary bytes.Buffer
	if err := WriteIndexHTML(&index, recs, figs, ScenariosDir); err != nil {
		return nil, err
	}
	if err := WriteMarkdown(&summary, recs); err != nil {
		return nil, err
	}
	out.Index = filepath.Join(dir, IndexFile)
	out.Summary = filepath.Join(dir, SummaryFile)
	if err := writeFile(out.Index, index.Bytes()); err != nil {
		return nil, err
	}
	if err := writeFile(out.Summary, summary.Bytes()); err != nil {
		return nil, err
	}
	return out, nil
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
