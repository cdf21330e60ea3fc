// Package reports turns scenario records into what a run leaves behind: a
// Markdown summary, self-contained HTML pages with SVG plots, a plain-text
// report like `vegeta report`, and comparisons between two runs.
//
// The Record is the single source of truth: the harness fills one per scenario
// and writes it as JSON; everything else is rendered from those files, so a
// report can be re-rendered (`make report`) without rerunning anything. The
// package imports nothing from scenarios/ or chaos/ and no vegeta types: data
// flows scenario → record → reports.
package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SchemaVersion is the version of the record's JSON layout. It grows when a
// field changes meaning or is removed; adding an optional field keeps it.
const SchemaVersion = 1

// Stack names how the system under test ran.
const (
	StackContainers = "containers"
	StackProcesses  = "processes"
)

// Verdicts of a scenario.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
	// VerdictError means the scenario could not be judged (setup failed, the
	// load never ran): neither the gateway's pass nor its fail.
	VerdictError = "error"
	// VerdictInconclusive means a premise of the run broke (the load
	// generator fell behind its schedule, a fault started late, a window held
	// too few requests): the machine, not the gateway, decided the numbers,
	// so they prove nothing either way. Never a pass, never a gateway failure.
	VerdictInconclusive = "inconclusive"
)

// DistributionQuantiles are the quantiles the harness is asked to record in
// Totals.Distribution: dense towards the tail, as an HDR histogram plot shows
// them on a log axis of 1/(1-q).
var DistributionQuantiles = []float64{
	0, 0.1, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995,
	0.999, 0.9995, 0.9999, 0.99999, 1,
}

// Record is everything known about one scenario run.
//
// Durations (time.Duration) are JSON integers in nanoseconds; times are RFC
// 3339 with nanoseconds. Offsets in Faults and Series are relative to Start.
type Record struct {
	Schema   int      `json:"schema"`
	Scenario string   `json:"scenario"`
	Labels   []string `json:"labels,omitempty"`
	// Stack is StackContainers or StackProcesses.
	Stack string `json:"stack"`
	// Gateway names the gateway under test (image or binary), e.g.
	// "gauntlet/gateway:dev" or "kong:3.9".
	Gateway string `json:"gateway,omitempty"`
	// GatewayConfig is the configuration the scenario applied, as the JSON
	// the harness had at hand (a kong.yml converted to JSON, or the Admin API
	// entities). Rendered verbatim, never interpreted.
	GatewayConfig json.RawMessage `json:"gateway_config,omitempty"`

	Start time.Time `json:"start"`
	End   time.Time `json:"end"`

	Faults     []Fault     `json:"faults"`
	Load       Load        `json:"load"`
	Totals     Totals      `json:"totals"`
	Series     []Interval  `json:"series"`
	Assertions []Assertion `json:"assertions"`
	Logs       []Log       `json:"logs,omitempty"`

	// Resources are the gateway's resources sampled through a long run (a
	// soak); nil for the short scenarios, and absent from their JSON.
	Resources *Resources `json:"resources,omitempty"`

	// Premises are what the run had to go as planned for its assertions to
	// mean anything; Generator and Machine are how the harness watched itself.
	Premises  []Premise  `json:"premises,omitempty"`
	Generator *Generator `json:"generator,omitempty"`
	Machine   *Machine   `json:"machine,omitempty"`

	Verdict string `json:"verdict"`
	// Failure is the first failure message when Verdict is not pass; for an
	// inconclusive verdict, the broken premise in one line.
	Failure string `json:"failure,omitempty"`
	// Attempt is which attempt this record is (1 when absent); Earlier are
	// the attempts before it (an inconclusive scenario is run once more).
	Attempt int       `json:"attempt,omitempty"`
	Earlier []Attempt `json:"earlier,omitempty"`
}

// Attempt is the outcome of an earlier attempt of the same scenario.
type Attempt struct {
	Verdict string    `json:"verdict"`
	Reason  string    `json:"reason,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// Premise is a condition on the run itself (not on the gateway) that some
// assertions depend on. A broken premise makes those assertions, and so the
// scenario, inconclusive.
type Premise struct {
	Name string `json:"name"`
	// Bound is the premise as text, e.g. "lag ≤ 50ms in t=0–5s".
	Bound    string  `json:"bound"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit,omitempty"`
	Held     bool    `json:"held"`
	// Reason is the one-line cause when it broke ("load generator 340 ms
	// behind schedule at t=4.2 s").
	Reason string `json:"reason,omitempty"`
}

// Generator is how well the load generator kept its schedule over the main
// attack: each request's lag is its actual send time minus the time the
// constant-rate pacer planned for it.
type Generator struct {
	// Planned requests (rate × duration) and those actually sent; the rest
	// were planned but never sent (the generator ran out of time).
	Planned int           `json:"planned"`
	Sent    int           `json:"sent"`
	Unsent  int           `json:"unsent"`
	LagP99  time.Duration `json:"lag_p99"`
	LagMax  time.Duration `json:"lag_max"`
	// LagMaxAt is when (after Record.Start, planned time) the worst lag hit.
	LagMaxAt time.Duration `json:"lag_max_at"`
}

// Machine is the host's CPU saturation during the run, read from /proc.
type Machine struct {
	CPUs int `json:"cpus"`
	// BusyMean and BusyMax are the share of CPU time not idle (0..1), over
	// the run and in the worst sample; StealMax the worst share stolen by a
	// hypervisor; RunQueueMax the most runnable tasks seen; PressureMax the
	// worst share of wall time some task waited for a CPU
	// (/proc/pressure/cpu "some"; absent without PSI).
	BusyMean    float64         `json:"busy_mean"`
	BusyMax     float64         `json:"busy_max"`
	StealMax    float64         `json:"steal_max"`
	RunQueueMax int             `json:"run_queue_max"`
	PressureMax float64         `json:"pressure_max,omitempty"`
	Samples     []MachineSample `json:"samples"`
}

// MachineSample covers (Offset − Width, Offset] after Record.Start.
type MachineSample struct {
	Offset   time.Duration `json:"offset"`
	Width    time.Duration `json:"width"`
	Busy     float64       `json:"busy"`
	Steal    float64       `json:"steal"`
	RunQueue int           `json:"run_queue"`
	Pressure float64       `json:"pressure,omitempty"`
}

// Fault is one entry of the fault timeline: planned when to start, and when it
// actually started and was reverted.
type Fault struct {
	Name string `json:"name"`
	// Kind is the fault family: kill, stop, pause, disconnect, latency,
	// timeout, reset, bandwidth, slow, fail, flap, ...
	Kind string `json:"kind"`
	// Target is what the fault hit: a container, process or proxy name.
	Target string `json:"target"`
	// PlannedOffset is when, after Record.Start, the fault was due;
	// PlannedDuration how long it was meant to last (0: until the end).
	PlannedOffset   time.Duration `json:"planned_offset"`
	PlannedDuration time.Duration `json:"planned_duration,omitempty"`
	// Start and End are the actual wall-clock times. A zero End means the
	// fault was never reverted; it is drawn up to Record.End.
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// Error is set when injecting or reverting the fault failed.
	Error string `json:"error,omitempty"`
}

// Load is what the load generator was asked to do.
type Load struct {
	// Rate is the requested rate in requests per second (0: as fast as possible).
	Rate        float64       `json:"rate"`
	Duration    time.Duration `json:"duration"`
	Timeout     time.Duration `json:"timeout"`
	Connections int           `json:"connections"`
	Workers     int           `json:"workers,omitempty"`
	// Targets describes the requests, e.g. "GET http://127.0.0.1:8000/echo".
	Targets []string `json:"targets,omitempty"`
}

// Latencies are the latency statistics over a set of requests.
type Latencies struct {
	Min  time.Duration `json:"min"`
	Mean time.Duration `json:"mean"`
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P95  time.Duration `json:"p95"`
	P99  time.Duration `json:"p99"`
	P999 time.Duration `json:"p999"`
	Max  time.Duration `json:"max"`
}

// Quantile is one point of a latency distribution.
type Quantile struct {
	Q       float64       `json:"q"`
	Latency time.Duration `json:"latency"`
}

// Totals are the load metrics over the whole attack (vegeta's Metrics, in
// plain types).
type Totals struct {
	Requests uint64 `json:"requests"`
	// Rate is the achieved request rate (requests / attack duration);
	// Throughput the successful responses per second (successes / (attack +
	// wait)), as vegeta defines them.
	Rate       float64 `json:"rate"`
	Throughput float64 `json:"throughput"`
	// Duration is the attack's length; Wait the time from the last request
	// sent to its response.
	Duration time.Duration `json:"duration"`
	Wait     time.Duration `json:"wait"`
	// Success is the ratio of requests answered with a 2xx/3xx, in [0, 1].
	Success   float64   `json:"success"`
	Latencies Latencies `json:"latencies"`
	// Distribution is the latency at DistributionQuantiles (optional; the
	// percentile plot falls back to Latencies when it is empty).
	Distribution []Quantile `json:"distribution,omitempty"`
	// StatusCodes counts responses by status code as text; "0" counts
	// requests that got no response (connection error, client timeout).
	StatusCodes map[string]int `json:"status_codes"`
	// Errors is the set of distinct error texts.
	Errors   []string `json:"errors,omitempty"`
	BytesIn  uint64   `json:"bytes_in"`
	BytesOut uint64   `json:"bytes_out"`
}

// Interval is one bucket of the per-interval series.
type Interval struct {
	// Offset is the bucket's start after Record.Start; Width its length.
	Offset time.Duration `json:"offset"`
	Width  time.Duration `json:"width"`
	// Requests sent in the bucket (by send time) and their rate per second.
	Requests int     `json:"requests"`
	Rate     float64 `json:"rate"`
	// Success is the ratio of 2xx/3xx responses in the bucket; 0 when empty.
	Success float64       `json:"success"`
	P50     time.Duration `json:"p50"`
	P99     time.Duration `json:"p99"`
	// StatusCodes counts the bucket's responses by status code ("0": none).
	StatusCodes map[string]int `json:"status_codes"`
	// LagP99 and LagMax are the load generator's lag (actual minus planned
	// send time) over the bucket's requests; 0 when not measured.
	LagP99 time.Duration `json:"lag_p99,omitempty"`
	LagMax time.Duration `json:"lag_max,omitempty"`
	// Targets counts the bucket's responses by their X-Mockbin-Instance
	// header (which upstream target answered); share = n / Requests.
	Targets map[string]int `json:"targets,omitempty"`
}

// Resources are periodic readings of what the gateway process holds, each with
// the load metrics of the window it closes: the series a soak judges for
// leaks.
type Resources struct {
	// Every is the sampling period.
	Every time.Duration `json:"every"`
	// WarmUp is the start of the run (after Record.Start) that the trend test
	// leaves out: pools filling, the heap growing to its working size.
	WarmUp  time.Duration    `json:"warm_up"`
	Samples []ResourceSample `json:"samples"`
}

// ResourceSample is one reading. The gauges are the gateway's own
// (process_resident_memory_bytes, go_memstats_heap_inuse_bytes,
// process_open_fds, go_goroutines); the load fields cover the requests sent
// in (Offset − Every, Offset].
type ResourceSample struct {
	// Offset is when the reading was taken, after Record.Start.
	Offset     time.Duration `json:"offset"`
	RSSBytes   float64       `json:"rss_bytes"`
	HeapBytes  float64       `json:"heap_bytes"`
	OpenFDs    float64       `json:"open_fds"`
	Goroutines float64       `json:"goroutines"`
	Requests   int           `json:"requests"`
	// Failures are the window's requests answered otherwise than the
	// scenario expects (a 429 from a rate-limited route can be expected).
	Failures int           `json:"failures"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
}

// Assertion is one resilience property checked with a number.
type Assertion struct {
	Name string `json:"name"`
	// Bound is the property as text, e.g. "<= 5 failed requests" or
	// "p99 < 250ms".
	Bound    string  `json:"bound"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit,omitempty"`
	Pass     bool    `json:"pass"`
	// Premises name the premises the assertion depends on; when one broke
	// the assertion is Inconclusive, whatever Pass says.
	Premises     []string `json:"premises,omitempty"`
	Inconclusive bool     `json:"inconclusive,omitempty"`
}

// Log is the tail of one container's (or process's) output.
type Log struct {
	Container string `json:"container"`
	Tail      string `json:"tail"`
}

// Slug is the scenario name as a file name: lower case letters, digits and
// dashes.
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		return "scenario"
	}
	return s
}

// FileName is the record's file name inside a records directory.
func (r *Record) FileName() string { return Slug(r.Scenario) + ".json" }

// Validate reports the first problem that would make the record unrenderable.
func (r *Record) Validate() error {
	switch {
	case r.Schema > SchemaVersion:
		return fmt.Errorf("record %q: schema %d is newer than this reader's %d", r.Scenario, r.Schema, SchemaVersion)
	case r.Schema < 1:
		return fmt.Errorf("record %q: missing schema version", r.Scenario)
	case r.Scenario == "":
		return errors.New("record: missing scenario name")
	case r.Verdict != VerdictPass && r.Verdict != VerdictFail && r.Verdict != VerdictError && r.Verdict != VerdictInconclusive:
		return fmt.Errorf("record %q: verdict %q is not pass, fail, inconclusive or error", r.Scenario, r.Verdict)
	}
	return nil
}

// WriteFile writes the record as indented JSON to dir/FileName(), creating dir
// if needed. The file is written to a temporary name and renamed, so a reader
// never sees half a record. A zero Schema is set to SchemaVersion.
func (r *Record) WriteFile(dir string) error {
	if r.Schema == 0 {
		r.Schema = SchemaVersion
	}
	if err := r.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record %q: %w", r.Scenario, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write record %q: %w", r.Scenario, err)
	}
	tmp, err := os.CreateTemp(dir, ".record-*.json")
	if err != nil {
		return fmt.Errorf("write record %q: %w", r.Scenario, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write record %q: %w", r.Scenario, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write record %q: %w", r.Scenario, err)
	}
	path := filepath.Join(dir, r.FileName())
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write record %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write record %s: %w", path, err)
	}
	return nil
}

// ReadFile reads and validates one record.
func ReadFile(path string) (*Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read record %s: %w", path, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("read record %s: %w", path, err)
	}
	return &r, nil
}

// ReadDir reads every *.json record in dir, ordered by scenario name.
func ReadDir(dir string) ([]*Record, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("read records in %s: %w", dir, err)
	}
	recs := make([]*Record, 0, len(paths))
	for _, p := range paths {
		r, err := ReadFile(p)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	sortRecords(recs)
	return recs, nil
}

func sortRecords(recs []*Record) {
	slices.SortStableFunc(recs, func(a, b *Record) int { return strings.Compare(a.Scenario, b.Scenario) })
}
