package mutants

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/gauntlet-dev/gauntlet/reports"
)

func spec(text string, node types.NodeType, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{
		ContainerHierarchyTexts: []string{"suite"}, LeafNodeText: text, LeafNodeType: node,
		State: state, Failure: types.Failure{Message: msg},
	}
}

func writeRun(t *testing.T, specs []types.SpecReport, recs ...*reports.Record) string {
	t.Helper()
	dir := t.TempDir()
	data, err := json.Marshal([]types.Report{{SuiteDescription: "scenarios", SpecReports: specs}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 {
		rd := filepath.Join(dir, "records")
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(rd, r.FileName()), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func record(name, verdict string, as ...reports.Assertion) *reports.Record {
	return &reports.Record{Schema: 1, Scenario: name, Stack: "containers", Start: time.Unix(0, 0), End: time.Unix(1, 0),
		Verdict: verdict, Assertions: as}
}

func TestJudge(t *testing.T) {
	passed := spec("a passes", types.NodeTypeIt, types.SpecStatePassed, "")
	skipped := spec("filtered out", types.NodeTypeIt, types.SpecStateSkipped, "")
	failed := spec("splits by weight", types.NodeTypeIt, types.SpecStateFailed, "1 bound missed\nmore")

	t.Run("caught, named by the record's failed assertion", func(t *testing.T) {
		dir := writeRun(t, []types.SpecReport{passed, skipped, failed},
			record("weighted balancing", reports.VerdictFail,
				reports.Assertion{Name: "rr share mockbin1", Bound: "0.1 ± 0.02", Measured: 0.333, Pass: false},
				reports.Assertion{Name: "failures", Bound: "= 0", Measured: 0, Pass: true}),
			record("other", reports.VerdictPass))
		j := Judge(dir)
		if j.Outcome != reports.MutantCaught || j.Specs != 2 || j.Failed != 1 {
			t.Fatalf("Judge = %+v, want caught, 2 specs, 1 failed", j)
		}
		want := reports.MutantCatch{Scenario: "weighted balancing", Assertion: "rr share mockbin1: measured 0.333, bound 0.1 ± 0.02"}
		if len(j.Catches) != 1 || j.Catches[0] != want {
			t.Fatalf("catches = %+v, want [%+v]", j.Catches, want)
		}
	})
	t.Run("caught without a record: Ginkgo's message", func(t *testing.T) {
		j := Judge(writeRun(t, []types.SpecReport{failed}))
		if j.Outcome != reports.MutantCaught || len(j.Catches) != 1 || j.Catches[0].Assertion != "1 bound missed" ||
			!strings.Contains(j.Catches[0].Scenario, "splits by weight") {
			t.Fatalf("Judge = %+v", j)
		}
	})
	t.Run("missed", func(t *testing.T) {
		j := Judge(writeRun(t, []types.SpecReport{passed, skipped}, record("a", reports.VerdictPass)))
		if j.Outcome != reports.MutantMissed || j.Specs != 1 || len(j.Catches) != 0 {
			t.Fatalf("Judge = %+v, want missed with 1 spec", j)
		}
	})
	t.Run("inconclusive: neither caught nor missed", func(t *testing.T) {
		rec := record("slow upstream", reports.VerdictInconclusive,
			reports.Assertion{Name: "max latency", Bound: "≤ 600ms", Measured: 700, Pass: false, Inconclusive: true})
		rec.Failure = "load generator 340ms behind schedule at t=4.2 s\nmore"
		inconclusive := spec("slow", types.NodeTypeIt, types.SpecStateSkipped, "INCONCLUSIVE")
		j := Judge(writeRun(t, []types.SpecReport{passed, inconclusive}, rec, record("a", reports.VerdictPass)))
		if j.Outcome != reports.MutantError || len(j.Catches) != 0 ||
			j.Detail != "inconclusive: slow upstream: load generator 340ms behind schedule at t=4.2 s" {
			t.Fatalf("Judge = %+v, want an error naming the broken premise", j)
		}
	})
	t.Run("a failure beside an inconclusive scenario is a catch", func(t *testing.T) {
		rec := record("slow upstream", reports.VerdictInconclusive,
			reports.Assertion{Name: "max latency", Bound: "≤ 600ms", Measured: 700, Pass: false, Inconclusive: true})
		j := Judge(writeRun(t, []types.SpecReport{failed}, rec,
			record("weighted balancing", reports.VerdictFail, reports.Assertion{Name: "share", Bound: "= 0", Measured: 3})))
		if j.Outcome != reports.MutantCaught || len(j.Catches) != 1 || j.Catches[0].Scenario != "weighted balancing" {
			t.Fatalf("Judge = %+v, want caught by weighted balancing only", j)
		}
	})
	t.Run("nothing ran", func(t *testing.T) {
		j := Judge(writeRun(t, []types.SpecReport{skipped}))
		if j.Outcome != reports.MutantError || !strings.Contains(j.Detail, "no scenario ran") {
			t.Fatalf("Judge = %+v, want an error", j)
		}
	})
	t.Run("suite setup failed: not a catch", func(t *testing.T) {
		j := Judge(writeRun(t, []types.SpecReport{spec("", types.NodeTypeBeforeSuite, types.SpecStateFailed, "docker down"), failed}))
		if j.Outcome != reports.MutantError || !strings.Contains(j.Detail, "docker down") {
			t.Fatalf("Judge = %+v, want an error", j)
		}
	})
	t.Run("no report", func(t *testing.T) {
		if j := Judge(t.TempDir()); j.Outcome != reports.MutantError {
			t.Fatalf("Judge = %+v, want an error", j)
		}
	})
}
