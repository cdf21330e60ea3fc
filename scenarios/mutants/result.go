package mutants

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/gauntlet-dev/gauntlet/reports"
)

// Judgement is what one mutant's scenario run says.
type Judgement struct {
	Outcome string // reports.MutantCaught, MutantMissed or MutantError
	Catches []reports.MutantCatch
	Detail  string
	Specs   int
	Failed  int
}

// Judge reads a run's Ginkgo JSON report (report.json) and scenario records
// (records/*.json) in out. A mutant is caught when at least one spec of its
// labels failed; missed when every spec that ran passed; an error when no
// spec ran or the suite itself (BeforeSuite, …) failed, since then no
// scenario judged the mutant.
func Judge(out string) Judgement {
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		return Judgement{Outcome: reports.MutantError, Detail: fmt.Sprintf("no Ginkgo report: %v", err)}
	}
	var suites []types.Report
	if err := json.Unmarshal(data, &suites); err != nil {
		return Judgement{Outcome: reports.MutantError, Detail: fmt.Sprintf("parse Ginkgo report: %v", err)}
	}
	recs, inconclusive := failedAssertions(filepath.Join(out, "records"))
	var j Judgement
	var suiteFail []string
	var specFail []reports.MutantCatch
	for _, s := range suites {
		for _, sp := range s.SpecReports {
			if sp.LeafNodeType != types.NodeTypeIt {
				if sp.State.Is(types.SpecStateFailureStates) {
					suiteFail = append(suiteFail, fmt.Sprintf("%s failed: %s", sp.LeafNodeType, firstLine(sp.Failure.Message)))
				}
				continue
			}
			if sp.State.Is(types.SpecStateSkipped | types.SpecStatePending) {
				continue
			}
			j.Specs++
			if !sp.State.Is(types.SpecStateFailureStates) {
				continue
			}
			j.Failed++
			specFail = append(specFail, reports.MutantCatch{Scenario: sp.FullText(), Assertion: firstLine(sp.Failure.Message)})
		}
	}
	// The scenario records name the assertion that missed its bound; a spec
	// that failed without a failed record (a setup error inside the spec)
	// is named by Ginkgo's failure message.
	for _, r := range recs {
		failed := r.failed
		if len(failed) > 3 {
			failed = append(failed[:3:3], fmt.Sprintf("and %d more", len(r.failed)-3))
		}
		what := strings.Join(failed, "; ")
		if what == "" {
			what = r.failure
		}
		j.Catches = append(j.Catches, reports.MutantCatch{Scenario: r.scenario, Assertion: what})
	}
	if len(j.Catches) < j.Failed {
		j.Catches = append(j.Catches, specFail...)
	}
	switch {
	case len(suiteFail) > 0:
		j.Outcome = reports.MutantError
		j.Detail = strings.Join(suiteFail, "; ")
	case j.Failed > 0:
		j.Outcome = reports.MutantCaught
	case len(inconclusive) > 0:
		// A premise of the run broke (twice: the suite re-runs an
		// inconclusive scenario once, then skips it), so that scenario said
		// nothing about this mutant: neither caught nor missed.
		j.Outcome = reports.MutantError
		j.Detail = "inconclusive: " + strings.Join(inconclusive, "; ")
	case j.Specs == 0:
		j.Outcome = reports.MutantError
		j.Detail = "no scenario ran: the labels match nothing"
	default:
		j.Outcome = reports.MutantMissed
		j.Detail = strconv.Itoa(j.Specs) + " scenario(s) ran and passed"
	}
	return j
}

// recordFailures are one scenario record's failed assertions.
type recordFailures struct {
	scenario string
	failed   []string
	failure  string
}

// failedAssertions reads the scenario records in dir: the failed ones with
// their missed assertions, and, apart, the inconclusive ones with their
// reasons (a broken premise is no catch, and its assertions count for
// nothing).
func failedAssertions(dir string) (failed []recordFailures, inconclusive []string) {
	recs, err := reports.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	for _, r := range recs {
		switch r.Verdict {
		case reports.VerdictPass:
			continue
		case reports.VerdictInconclusive:
			inconclusive = append(inconclusive, r.Scenario+": "+firstLine(r.Failure))
			continue
		}
		rf := recordFailures{scenario: r.Scenario, failure: firstLine(r.Failure)}
		for _, a := range r.Assertions {
			if !a.Pass && !a.Inconclusive {
				rf.failed = append(rf.failed, fmt.Sprintf("%s: measured %s, bound %s", a.Name, fmtNum(a.Measured, a.Unit), a.Bound))
			}
		}
		failed = append(failed, rf)
	}
	return failed, inconclusive
}

func fmtNum(v float64, unit string) string {
	s := strconv.FormatFloat(v, 'g', 6, 64)
	if unit != "" {
		s += " " + unit
	}
	return s
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}
