package load

import (
	"sort"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/reports"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Series cuts the results into buckets of width by send time, from origin to
// the last result. Every bucket up to the last one exists, empty or not, so a
// stall shows as a gap in the plot rather than disappearing.
func Series(rs []vegeta.Result, origin time.Time, width time.Duration) []reports.Interval {
	if width <= 0 || len(rs) == 0 {
		return nil
	}
	groups := map[int][]vegeta.Result{}
	last := 0
	for _, x := range rs {
		i := int(x.Timestamp.Sub(origin) / width)
		if x.Timestamp.Before(origin) {
			i = 0 // clock noise before the origin belongs to the first bucket
		}
		groups[i] = append(groups[i], x)
		last = max(last, i)
	}
	out := make([]reports.Interval, last+1)
	for i := range out {
		out[i] = Bucket(groups[i], time.Duration(i)*width, width)
	}
	return out
}

// Bucket summarises the results of one interval starting offset after the origin.
func Bucket(rs []vegeta.Result, offset, width time.Duration) reports.Interval {
	b := reports.Interval{Offset: offset, Width: width, Requests: len(rs), StatusCodes: map[string]int{}}
	if width > 0 {
		b.Rate = float64(len(rs)) / width.Seconds()
	}
	if len(rs) == 0 {
		return b
	}
	b.Success = float64(len(rs)-Failures(rs)) / float64(len(rs))
	lat := latencies(rs)
	b.P50, b.P99 = quantile(lat, 0.50), quantile(lat, 0.99)
	for code, n := range Codes(rs) {
		b.StatusCodes[strconv.Itoa(code)] = n
	}
	if inst := Instances(rs); len(inst) > 0 {
		b.Targets = inst
	}
	return b
}

// Totals are the whole attack's metrics: vegeta's definitions of rate,
// throughput and success, with exact (sorted, nearest-rank) latency quantiles
// instead of vegeta's estimator, since scenarios assert on them.
func Totals(rs []vegeta.Result) reports.Totals {
	var m vegeta.Metrics
	for i := range rs {
		m.Add(&rs[i])
	}
	m.Close()
	t := reports.Totals{
		Requests:    m.Requests,
		Rate:        m.Rate,
		Throughput:  m.Throughput,
		Duration:    m.Duration,
		Wait:        m.Wait,
		Success:     m.Success,
		StatusCodes: m.StatusCodes,
		Errors:      m.Errors,
		BytesIn:     m.BytesIn.Total,
		BytesOut:    m.BytesOut.Total,
	}
	if t.StatusCodes == nil {
		t.StatusCodes = map[string]int{}
	}
	if len(rs) == 0 {
		return t
	}
	lat := latencies(rs)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	t.Latencies = reports.Latencies{
		Min:  lat[0],
		Mean: sum / time.Duration(len(lat)),
		P50:  quantile(lat, 0.50),
		P90:  quantile(lat, 0.90),
		P95:  quantile(lat, 0.95),
		P99:  quantile(lat, 0.99),
		P999: quantile(lat, 0.999),
		Max:  lat[len(lat)-1],
	}
	for _, q := range reports.DistributionQuantiles {
		t.Distribution = append(t.Distribution, reports.Quantile{Q: q, Latency: quantile(lat, q)})
	}
	return t
}

// Interval is the pacer's gap between two planned sends (1/rate).
func (a Attack) Interval() time.Duration {
	if a.Rate <= 0 {
		return 0
	}
	return time.Second / time.Duration(a.Rate)
}

// Planned is how many requests the constant-rate schedule holds: rate ×
// duration (vegeta's pacer plans the k-th request, from 0, at (k+1)/rate and
// stops planning once the duration has passed).
func (a Attack) Planned() int {
	if a.Rate <= 0 || a.Duration <= 0 {
		return 0
	}
	return int(a.Duration / a.Interval())
}

// PlannedAt is when the pacer planned to send the result: its sequence number
// k at (k+1)/rate after the attack's start. Start is taken just before
// vegeta's own, so the lag below is never negative and overstates by
// microseconds at most.
func (r *Run) PlannedAt(x vegeta.Result) time.Time {
	return r.Start.Add(time.Duration(x.Seq+1) * r.Attack.Interval())
}

// Lag is how far behind its schedule the generator sent the result: actual
// send time minus planned. A machine that cannot run the generator on time
// shows here first; an open-model sender then sends the late requests in a
// burst, which also loads the gateway unlike the plan.
func (r *Run) Lag(x vegeta.Result) time.Duration {
	if r.Attack.Rate <= 0 {
		return 0
	}
	return x.Timestamp.Sub(r.PlannedAt(x))
}

// MaxLag is the worst lag among results sent in [from, to) (zero bounds are
// open) and the planned time of the request that had it.
func (r *Run) MaxLag(from, to time.Time) (lag time.Duration, at time.Time) {
	for _, x := range Between(r.Results, from, to) {
		if l := r.Lag(x); l > lag || at.IsZero() {
			lag, at = l, r.PlannedAt(x)
		}
	}
	return lag, at
}

// Generator is how well the generator kept the schedule over the whole run.
func (r *Run) Generator() reports.Generator {
	g := reports.Generator{Planned: r.Attack.Planned(), Sent: len(r.Results)}
	g.Unsent = max(g.Planned-g.Sent, 0)
	if len(r.Results) == 0 {
		return g
	}
	lags := make([]time.Duration, len(r.Results))
	for i, x := range r.Results {
		lags[i] = r.Lag(x)
		if lags[i] > g.LagMax || i == 0 {
			g.LagMax, g.LagMaxAt = lags[i], r.PlannedAt(x).Sub(r.Start)
		}
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	g.LagP99 = quantile(lags, 0.99)
	return g
}

// Series is Series(r.Results, r.Start, width) with each bucket's generator
// lag (p99 and max) filled in.
func (r *Run) Series(width time.Duration) []reports.Interval {
	out := Series(r.Results, r.Start, width)
	if r.Attack.Rate <= 0 || len(out) == 0 {
		return out
	}
	lags := make([][]time.Duration, len(out))
	for _, x := range r.Results {
		i := 0
		if !x.Timestamp.Before(r.Start) {
			i = int(x.Timestamp.Sub(r.Start) / width)
		}
		lags[i] = append(lags[i], r.Lag(x))
	}
	for i, ls := range lags {
		if len(ls) == 0 {
			continue
		}
		sort.Slice(ls, func(a, b int) bool { return ls[a] < ls[b] })
		out[i].LagP99, out[i].LagMax = quantile(ls, 0.99), ls[len(ls)-1]
	}
	return out
}
