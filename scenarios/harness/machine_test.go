package harness

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const stat1 = `cpu  100 0 100 700 100 0 0 0 0 0
cpu0 50 0 50 350 50 0 0 0 0 0
intr 1
procs_running 3
procs_blocked 0
`

// 250 ticks later: 150 busy (user+system), 50 idle+iowait, 50 steal.
const stat2 = `cpu  200 0 150 740 110 0 0 50 7 0
procs_running 9
`

func TestMachineSampleShares(t *testing.T) {
	a, err := parseStat(stat1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseStat(stat2)
	if err != nil {
		t.Fatal(err)
	}
	// total 1000 → 1250; idle 800 → 850; steal 0 → 50.
	if a.total != 1000 || a.idle != 800 || a.running != 3 || b.total != 1250 || b.steal != 50 || b.running != 9 {
		t.Fatalf("parsed %+v, %+v", a, b)
	}
	a.at, b.at = origin, origin.Add(250*time.Millisecond)
	p1, ok := parsePressure("some avg10=85.01 avg60=60.21 avg300=22.69 total=92406010\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	if !ok || p1 != 92406010 {
		t.Fatalf("pressure: %d %v", p1, ok)
	}
	a.someUs, a.pressure = p1, true
	b.someUs, b.pressure = p1+125000, true // 125 ms of 250 ms waited
	s := machineSample(a, b, origin)
	// busy = 1 − 50/250 = 0.8 (steal counts as busy: the CPU was not ours);
	// steal = 50/250.
	if s.Busy != 0.8 || s.Steal != 0.2 || s.RunQueue != 9 || s.Pressure != 0.5 || s.Offset != 250*time.Millisecond {
		t.Fatalf("sample %+v", s)
	}
	if _, err := parseStat("intr 1\n"); err == nil {
		t.Fatal("a /proc/stat without a cpu line parsed")
	}
}

// The watcher reads a /proc-like directory; stopped, it summarises what it saw.
func TestWatchMachineSummary(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat1), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w := watchMachine(dir, time.Hour) // one snapshot now, one at Stop
	m := w.Stop(start.Add(-time.Second), time.Time{})
	if m == nil || len(m.Samples) != 1 || m.Samples[0].Busy != 0 || m.RunQueueMax != 3 || m.CPUs < 1 {
		t.Fatalf("machine %+v", m)
	}
	if m := watchMachine(filepath.Join(dir, "absent"), time.Hour).Stop(start, time.Time{}); m != nil {
		t.Fatalf("no /proc: %+v", m)
	}
}
