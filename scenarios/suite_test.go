//go:build resilience

package scenarios_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

var (
	provider stack.Provider
	logger   *slog.Logger
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Gauntlet resilience scenarios")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	logger = slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelInfo}))
	binDir := os.Getenv("GAUNTLET_BIN_DIR")
	if binDir == "" {
		binDir = GinkgoT().TempDir()
	}
	var err error
	provider, err = stack.Detect(ctx, logger, binDir)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("stack", provider.Kind())
	GinkgoWriter.Printf("stack: %s\n", provider.Kind())
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func(ctx SpecContext) {
	if provider != nil {
		Expect(provider.Close(ctx)).To(Succeed())
	}
}, NodeTimeout(time.Minute))

// attempts are how each spec's attempts ended, by its full text. An
// inconclusive scenario is run once more: scripts/test-resilience.sh runs
// Ginkgo with --flake-attempts 2, and verify fails an inconclusive first
// attempt so that Ginkgo retries it. A real failure is never re-run: the
// guard below ends its second attempt at once with the first one's message.
var attempts = map[string][]reports.Attempt{}

const rerunning = " (re-running once)"

var _ = BeforeEach(func() {
	r := CurrentSpecReport()
	prev := attempts[r.FullText()]
	if r.NumAttempts < 2 || len(prev) == 0 {
		return
	}
	if last := prev[len(prev)-1]; last.Verdict != reports.VerdictInconclusive {
		Fail(fmt.Sprintf("not re-run: attempt %d %sed (only an inconclusive scenario is re-run): %s", len(prev), last.Verdict, last.Reason))
	}
})

var _ = AfterEach(func() {
	r := CurrentSpecReport()
	a := reports.Attempt{Verdict: reports.VerdictPass, Start: r.StartTime, End: time.Now()}
	switch msg := r.FailureMessage(); {
	case r.State == types.SpecStateSkipped && harness.IsInconclusive(msg),
		r.Failed() && harness.IsInconclusive(msg):
		a.Verdict, a.Reason = reports.VerdictInconclusive, strings.TrimSuffix(strings.TrimPrefix(msg, harness.InconclusivePrefix), rerunning)
	case r.Failed():
		a.Verdict, a.Reason = reports.VerdictFail, msg
	}
	attempts[r.FullText()] = append(attempts[r.FullText()], a)
})

// begin starts the scenario's fresh stack and registers its teardown: faults
// reverted, stack removed, record written with the spec's verdict.
func begin(ctx context.Context, name string, opts stack.Options) *harness.Scenario {
	sc, err := harness.Begin(ctx, provider, logger, name, CurrentSpecReport().Labels(), opts)
	if r := CurrentSpecReport(); r.NumAttempts > 1 {
		sc.SetAttempt(r.NumAttempts, attempts[r.FullText()])
	}
	DeferCleanup(func(ctx SpecContext) {
		failure := ""
		if r := CurrentSpecReport(); r.Failed() {
			failure = r.FailureMessage()
			if failure == "" {
				failure = r.State.String()
			}
		}
		err := sc.Finish(ctx, failure)
		// Straight to stdout, not GinkgoWriter: a CI log shows one line per
		// finished scenario whether it passed or failed.
		line := sc.Headline()
		if r := CurrentSpecReport(); sc.Outcome().Verdict == reports.VerdictInconclusive && r.NumAttempts < r.MaxFlakeAttempts {
			line += rerunning
		}
		fmt.Fprintf(os.Stdout, "\nscenario: %s\n", line)
		Expect(err).To(Succeed())
	}, NodeTimeout(time.Minute))
	if err != nil {
		Fail("start the stack: " + err.Error())
	}
	return sc
}

// verify fails the spec with every missed bound, one per line. With no miss
// but a broken premise the scenario is inconclusive: a first attempt fails
// with the reason so that Ginkgo runs it once more; the last one is skipped
// with the reason (JUnit: <skipped message="skipped - INCONCLUSIVE: …">),
// neither a pass nor a gateway failure, and scripts/test-resilience.sh fails
// the run on its record.
func verify(sc *harness.Scenario) {
	if m := sc.Misses(); len(m) > 0 {
		Fail(strings.Join(m, "\n"))
	}
	if reason := sc.Inconclusive(); reason != "" {
		if r := CurrentSpecReport(); r.NumAttempts < r.MaxFlakeAttempts {
			Fail(harness.InconclusivePrefix + reason + rerunning)
		}
		Skip(harness.InconclusivePrefix + reason)
	}
}
