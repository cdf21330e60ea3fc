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
	. "github.com/onsi/gomega"

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

// begin starts the scenario's fresh stack and registers its teardown: faults
// reverted, stack removed, record written with the spec's verdict.
func begin(ctx context.Context, name string, opts stack.Options) *harness.Scenario {
	sc, err := harness.Begin(ctx, provider, logger, name, CurrentSpecReport().Labels(), opts)
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
		fmt.Fprintf(os.Stdout, "\nscenario: %s\n", sc.Headline())
		Expect(err).To(Succeed())
	}, NodeTimeout(time.Minute))
	if err != nil {
		Fail("start the stack: " + err.Error())
	}
	return sc
}

// verify fails the spec with every missed bound, one per line.
func verify(sc *harness.Scenario) {
	if m := sc.Misses(); len(m) > 0 {
		Fail(strings.Join(m, "\n"))
	}
}
