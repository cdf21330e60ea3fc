package harness

import (
	"log/slog"
	"time"

	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Adopt is Begin for a stack the caller started itself (gauntlet check brings
// up the user's own topology with stack.Docker.StartUser): the same checks,
// attacks, record and teardown. outDir "" means OutDir().
func Adopt(st *stack.Stack, log *slog.Logger, name string, labels []string, outDir string) *Scenario {
	if outDir == "" {
		outDir = OutDir()
	}
	s := &Scenario{
		Name: name, Labels: labels, Log: log.With("scenario", name), Stack: st,
		outDir: outDir,
		rec: reports.Record{
			Schema: reports.SchemaVersion, Scenario: name, Labels: labels,
			Stack: st.Kind, Start: time.Now(), Gateway: st.Gateway.Image,
		},
	}
	return s
}

// SetOutDir sends the scenario's record and results to dir instead of
// OutDir() (gauntlet run --out).
func (s *Scenario) SetOutDir(dir string) {
	if dir != "" {
		s.outDir = dir
	}
}
