package reports

import (
	"strconv"
	"time"
)

// Window is a fault's span on the record's time axis (offsets after Start).
type Window struct {
	Name     string
	From, To time.Duration
}

// Duration is the length of the record's time axis: Start to End, or to the
// end of the last interval when End is missing or earlier.
func (r *Record) Duration() time.Duration {
	var d time.Duration
	if !r.End.IsZero() {
		d = r.End.Sub(r.Start)
	}
	if n := len(r.Series); n > 0 {
		d = max(d, r.Series[n-1].Offset+r.Series[n-1].Width)
	}
	return max(d, 0)
}

// TimeAxis is the span the time plots show: the load's intervals, stretched
// to the last resource sample and the end of any fault that outlasted them. Record.End is left out on
// purpose: it includes the stack's teardown, which has no data to show.
func (r *Record) TimeAxis() time.Duration {
	var d time.Duration
	if n := len(r.Series); n > 0 {
		d = r.Series[n-1].Offset + r.Series[n-1].Width
	}
	if rs := r.Resources; rs != nil && len(rs.Samples) > 0 {
		d = max(d, rs.Samples[len(rs.Samples)-1].Offset)
	}
	for _, f := range r.Faults {
		if !f.End.IsZero() {
			d = max(d, f.End.Sub(r.Start))
		} else if !f.Start.IsZero() {
			d = max(d, f.Start.Sub(r.Start))
		}
	}
	if d <= 0 {
		return r.Duration()
	}
	return d
}

// FaultWindows are the faults' actual spans; a fault never reverted lasts to
// the end of the record.
func (r *Record) FaultWindows() []Window {
	ws := make([]Window, 0, len(r.Faults))
	for _, f := range r.Faults {
		if f.Start.IsZero() {
			continue // never injected: nothing to shade
		}
		w := Window{Name: f.Name, From: f.Start.Sub(r.Start), To: r.Duration()}
		if !f.End.IsZero() {
			w.To = f.End.Sub(r.Start)
		}
		ws = append(ws, w)
	}
	return ws
}

// FailoverTime is how long requests kept failing after the first fault: from
// the first fault's start to the end of the last interval, from the one the
// fault started in onwards, that saw a failed request. Zero means no request
// failed after the fault; ok is false when the record has no fault. Its
// resolution is the series' interval width.
func (r *Record) FailoverTime() (d time.Duration, ok bool) {
	ws := r.FaultWindows()
	if len(ws) == 0 {
		return 0, false
	}
	first := ws[0].From
	for _, w := range ws[1:] {
		first = min(first, w.From)
	}
	var lastFail time.Duration = -1
	for _, iv := range r.Series {
		end := iv.Offset + iv.Width
		if end <= first || iv.Requests == 0 || iv.Success >= 1 {
			continue
		}
		lastFail = end
	}
	if lastFail < 0 {
		return 0, true
	}
	return lastFail - first, true
}

// Successes is the number of requests answered with a 2xx or 3xx.
func (t *Totals) Successes() int {
	n := 0
	for code, c := range t.StatusCodes {
		if v, err := strconv.Atoi(code); err == nil && v >= 200 && v < 400 {
			n += c
		}
	}
	return n
}

// AdmittedRate is the rate of successful responses over the attack, per
// second: what a rate limiter let through.
func (r *Record) AdmittedRate() float64 {
	d := r.Totals.Duration
	if d <= 0 {
		d = r.Load.Duration
	}
	if d <= 0 {
		return 0
	}
	return float64(r.Totals.Successes()) / d.Seconds()
}

// Failed is the number of requests that did not get a 2xx/3xx.
func (t *Totals) Failed() int { return int(t.Requests) - t.Successes() }
