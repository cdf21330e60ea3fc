package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/reports"
)

// procSnapshot is one reading of the host's CPU counters from /proc.
type procSnapshot struct {
	at time.Time
	// total, idle (idle + iowait) and steal are the "cpu" line of /proc/stat
	// in clock ticks, summed over CPUs.
	total, idle, steal uint64
	// running is procs_running: tasks runnable right now (the reader
	// included), the run queue.
	running int
	// someUs is /proc/pressure/cpu "some ... total=": µs during which at
	// least one task waited for a CPU; pressure false without PSI.
	someUs   uint64
	pressure bool
}

// parseStat reads the aggregate CPU counters and the run queue out of
// /proc/stat's text.
func parseStat(text string) (procSnapshot, error) {
	var s procSnapshot
	seenCPU := false
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "cpu":
			// user nice system idle iowait irq softirq steal [guest guest_nice]:
			// guest time is already inside user and nice, so 8 columns are all.
			if len(f) < 9 {
				return s, fmt.Errorf("/proc/stat: short cpu line %q", line)
			}
			var v [8]uint64
			for i := range v {
				n, err := strconv.ParseUint(f[i+1], 10, 64)
				if err != nil {
					return s, fmt.Errorf("/proc/stat: cpu column %d: %w", i+1, err)
				}
				v[i] = n
				s.total += n
			}
			s.idle, s.steal = v[3]+v[4], v[7]
			seenCPU = true
		case "procs_running":
			if len(f) == 2 {
				s.running, _ = strconv.Atoi(f[1])
			}
		}
	}
	if !seenCPU {
		return s, fmt.Errorf("/proc/stat: no cpu line")
	}
	return s, nil
}

// parsePressure reads the "some" total (µs) out of /proc/pressure/cpu.
func parsePressure(text string) (uint64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "some ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

func readProc(dir string) (procSnapshot, error) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procSnapshot{}, err
	}
	s, err := parseStat(string(b))
	if err != nil {
		return s, err
	}
	s.at = time.Now()
	if p, err := os.ReadFile(filepath.Join(dir, "pressure", "cpu")); err == nil {
		s.someUs, s.pressure = parsePressure(string(p))
	}
	return s, nil
}

// machineSample is what happened between two snapshots, as shares of the
// interval.
func machineSample(prev, cur procSnapshot, origin time.Time) reports.MachineSample {
	m := reports.MachineSample{
		Offset: cur.at.Sub(origin), Width: cur.at.Sub(prev.at),
		RunQueue: cur.running,
	}
	if dt := cur.total - prev.total; cur.total > prev.total {
		m.Busy = 1 - float64(cur.idle-prev.idle)/float64(dt)
		m.Steal = float64(cur.steal-prev.steal) / float64(dt)
	}
	if cur.pressure && prev.pressure && m.Width > 0 && cur.someUs >= prev.someUs {
		m.Pressure = min(float64(cur.someUs-prev.someUs)/float64(m.Width.Microseconds()), 1)
	}
	return m
}

// machineWatch samples /proc every period until stopped.
type machineWatch struct {
	dir  string
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	snaps   []procSnapshot
	lastErr error
}

// watchMachine starts sampling the host's CPU from dir (normally /proc);
// without a readable /proc/stat it records nothing and Stop returns nil.
func watchMachine(dir string, every time.Duration) *machineWatch {
	w := &machineWatch{dir: dir, stop: make(chan struct{}), done: make(chan struct{})}
	w.take()
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				w.take()
				return
			case <-t.C:
				w.take()
			}
		}
	}()
	return w
}

func (w *machineWatch) take() {
	s, err := readProc(w.dir)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.lastErr = err
		return
	}
	w.snaps = append(w.snaps, s)
}

// Stop ends the sampling and summarises it with offsets after origin, keeping
// the samples that end inside [origin, end] (a sample straddling origin
// included).
func (w *machineWatch) Stop(origin, end time.Time) *reports.Machine {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.snaps) < 2 {
		return nil
	}
	m := &reports.Machine{CPUs: runtime.NumCPU()}
	var busy, width float64
	for i := 1; i < len(w.snaps); i++ {
		if w.snaps[i].at.Before(origin) || (!end.IsZero() && w.snaps[i-1].at.After(end)) {
			continue
		}
		s := machineSample(w.snaps[i-1], w.snaps[i], origin)
		m.Samples = append(m.Samples, s)
		busy += s.Busy * s.Width.Seconds()
		width += s.Width.Seconds()
		m.BusyMax = max(m.BusyMax, s.Busy)
		m.StealMax = max(m.StealMax, s.Steal)
		m.RunQueueMax = max(m.RunQueueMax, s.RunQueue)
		m.PressureMax = max(m.PressureMax, s.Pressure)
	}
	if width > 0 {
		m.BusyMean = busy / width
	}
	return m
}
