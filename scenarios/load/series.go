package load

import (
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
