package harness

import "github.com/gauntlet-dev/gauntlet/reports"

// SetResources puts the gateway's resource samples of a long run (a soak)
// into the record, for the report's resource plots.
func (s *Scenario) SetResources(r *reports.Resources) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Resources = r
}
