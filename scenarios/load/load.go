// Package load drives constant-rate (open-model) HTTP load with vegeta and
// reduces the results to what scenarios assert on and reports draw: totals and
// per-interval buckets, including which mockbin instance answered each request
// (its X-Mockbin-Instance header).
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// InstanceHeader names the mockbin instance that produced a response.
const InstanceHeader = "X-Mockbin-Instance"

// Attack is one constant-rate load: Rate requests per second for Duration,
// each with its own Timeout, over at most Connections connections per host.
// The rate is open-model: a slow server does not slow the sender down, so
// stalls show up as latency and errors rather than as a lower rate.
type Attack struct {
	Name    string
	Targets []vegeta.Target
	// Targeter, when set, generates the targets instead of cycling Targets
	// (a unique header per request, say); Targets then only describe the
	// load in the record.
	Targeter    vegeta.Targeter
	Rate        int
	Duration    time.Duration
	Timeout     time.Duration
	Connections int
}

// Defaults for the zero fields of an Attack.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultConnections = 256
	// maxBody keeps result bodies small: enough for a gateway's JSON error
	// message, never a whole upstream echo.
	maxBody = 512
)

func (a Attack) withDefaults() Attack {
	if a.Timeout == 0 {
		a.Timeout = DefaultTimeout
	}
	if a.Connections == 0 {
		a.Connections = DefaultConnections
	}
	return a
}

// Run is a finished attack: every result, sorted by send time.
type Run struct {
	Attack  Attack
	Start   time.Time
	End     time.Time
	Results vegeta.Results
}

// Run sends the load and returns when the last response arrived or ctx ended
// (then the results so far are returned with ctx's error). onStart, if not nil,
// is called with the attack's start time just before the first request, so a
// fault timeline can share the same origin.
func (a Attack) Run(ctx context.Context, onStart func(time.Time)) (*Run, error) {
	a = a.withDefaults()
	if a.Rate <= 0 || a.Duration <= 0 || (len(a.Targets) == 0 && a.Targeter == nil) {
		return nil, fmt.Errorf("attack %q: needs rate > 0, duration > 0 and targets (got %d rps, %v, %d targets)",
			a.Name, a.Rate, a.Duration, len(a.Targets))
	}
	// Workers bound the requests in flight: an open model needs rate × timeout
	// of them when every request hangs until its timeout.
	maxWorkers := uint64(float64(a.Rate)*a.Timeout.Seconds()) + 16
	// Our own transport, so the attack's keep-alive connections are closed when
	// it ends: scenarios read the gateway's connection count afterwards.
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: a.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: a.Connections,
		MaxConnsPerHost:     a.Connections,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{
		Timeout:       a.Timeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(hc),
		vegeta.Workers(8),
		vegeta.MaxWorkers(maxWorkers),
		vegeta.MaxBody(maxBody),
	)
	run := &Run{Attack: a, Start: time.Now()}
	if onStart != nil {
		onStart(run.Start)
	}
	pacer := vegeta.ConstantPacer{Freq: a.Rate, Per: time.Second}
	targeter := a.Targeter
	if targeter == nil {
		targeter = vegeta.NewStaticTargeter(a.Targets...)
	}
	ch := atk.Attack(targeter, pacer, a.Duration, a.Name)
	run.Results = make(vegeta.Results, 0, int(float64(a.Rate)*a.Duration.Seconds())+1)
	var err error
	for done := false; !done; {
		select {
		case r, ok := <-ch:
			if !ok {
				done = true
				break
			}
			run.Results = append(run.Results, *r)
		case <-ctx.Done():
			atk.Stop()
			err = fmt.Errorf("attack %q stopped: %w", a.Name, ctx.Err())
			for r := range ch {
				run.Results = append(run.Results, *r)
			}
			done = true
		}
	}
	run.End = time.Now()
	sort.SliceStable(run.Results, func(i, j int) bool { return run.Results[i].Timestamp.Before(run.Results[j].Timestamp) })
	return run, err
}

// Since is the results sent at or after t.
func (r *Run) Since(t time.Time) []vegeta.Result { return Between(r.Results, t, time.Time{}) }

// Between is the results sent in [from, to); a zero bound is open.
// AnsweredBetween keeps the results sent at or after from and answered
// (sent + latency) before to: what a target did inside a window, excluding a
// request sent just before its end but served after it.
func AnsweredBetween(rs []vegeta.Result, from, to time.Time) []vegeta.Result {
	var out []vegeta.Result
	for _, x := range Between(rs, from, time.Time{}) {
		if x.Timestamp.Add(x.Latency).Before(to) {
			out = append(out, x)
		}
	}
	return out
}

func Between(rs []vegeta.Result, from, to time.Time) []vegeta.Result {
	var out []vegeta.Result
	for _, x := range rs {
		if !from.IsZero() && x.Timestamp.Before(from) {
			continue
		}
		if !to.IsZero() && !x.Timestamp.Before(to) {
			continue
		}
		out = append(out, x)
	}
	return out
}

// WriteGob keeps the whole result set (vegeta's own gob encoding, readable by
// `vegeta report`) at path.
func (r *Run) WriteGob(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write results %s: %w", path, err)
	}
	enc := vegeta.NewEncoder(f)
	for i := range r.Results {
		if err := enc.Encode(&r.Results[i]); err != nil {
			f.Close()
			return fmt.Errorf("write results %s: %w", path, err)
		}
	}
	return f.Close()
}

// ReadGob reads results written by WriteGob. Only a clean end of file ends
// the set: a file cut short mid-result (io.ErrUnexpectedEOF) is an error, not
// a shorter result set.
func ReadGob(path string) (vegeta.Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	var out vegeta.Results
	for {
		var res vegeta.Result
		if err := dec.Decode(&res); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("read results %s: %w", path, err)
		}
		out = append(out, res)
	}
}

// OK reports whether a result is a success as vegeta counts it (2xx or 3xx).
func OK(x vegeta.Result) bool { return x.Code >= 200 && x.Code < 400 }

// Failures counts results that are not OK (including transport errors, code 0).
func Failures(rs []vegeta.Result) int {
	n := 0
	for _, x := range rs {
		if !OK(x) {
			n++
		}
	}
	return n
}

// Codes counts results by status code (0: no response).
func Codes(rs []vegeta.Result) map[int]int {
	out := map[int]int{}
	for _, x := range rs {
		out[int(x.Code)]++
	}
	return out
}

// Instances counts responses by the mockbin instance that produced them; a
// response without the header (a gateway error, a transport error) is not counted.
func Instances(rs []vegeta.Result) map[string]int {
	out := map[string]int{}
	for _, x := range rs {
		if name := x.Headers.Get(InstanceHeader); name != "" {
			out[name]++
		}
	}
	return out
}

// Percentile is the q-quantile (0..1) of the latencies, nearest-rank: the
// smallest latency with at least q of the results at or below it.
func Percentile(rs []vegeta.Result, q float64) time.Duration {
	if len(rs) == 0 {
		return 0
	}
	lat := latencies(rs)
	return quantile(lat, q)
}

// MaxLatency is the largest latency of rs.
func MaxLatency(rs []vegeta.Result) time.Duration {
	var m time.Duration
	for _, x := range rs {
		m = max(m, x.Latency)
	}
	return m
}

func latencies(rs []vegeta.Result) []time.Duration {
	lat := make([]time.Duration, len(rs))
	for i, x := range rs {
		lat[i] = x.Latency
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

// quantile of sorted values, nearest-rank.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	switch {
	case q <= 0:
		return sorted[0]
	case q >= 1:
		return sorted[len(sorted)-1]
	}
	// The epsilon keeps an exact rank (0.99 × 100 = 99.00000000000001) from
	// rounding up to the next one.
	rank := int(math.Ceil(q*float64(len(sorted)) - 1e-9))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
