// Package trend decides whether a series sampled over a long run (a soak's
// RSS, goroutines, open fds) grows beyond its noise.
//
// The test: the Theil–Sen estimator gives the growth rate (the median of the
// slopes between every pair of samples, so a fault's spike or one odd sample
// cannot move it), and the one-sided Mann–Kendall test says whether the
// series rises at all more than chance would make it (a rank test: no
// assumption about the noise's distribution, ties corrected). A leak also
// keeps what it took: the series' resting level (its minimum over a window
// of samples, one fault cycle long) must be higher at the end than at the
// start. A series leaks when all three hold: the upward trend is significant
// (p < Alpha), its Theil–Sen slope projected over a span exceeds a stated
// allowance, and so does the resting level's growth over the same span. The
// first guards against calling noise a leak, the second against failing a
// run for a drift too small to matter, the third against an episode (the
// machine starved for a minute, clients piling up connections) that the
// gateway gave back before the end: late in a run such a bump reads as a
// significant slope, but the level it returns to is the one it started at.
// Sen's 95% confidence interval of the slope is reported for the reader.
//
// Mann–Kendall assumes independent samples; slow drifts (a heap that grows to
// its working size) are autocorrelated and make it over-eager, which is why
// the slope must also clear the allowance, and why callers drop a warm-up.
package trend

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MinSamples is the smallest series Analyze accepts: with fewer, even a
// strictly rising series cannot reach p < 0.01.
const MinSamples = 6

// z975 is the standard normal's 97.5% quantile (two-sided 95% interval).
const z975 = 1.959963984540054

// Result is the trend of one series.
type Result struct {
	N int
	// Slope is the Theil–Sen estimate in y units per x unit; Low and High
	// bound its two-sided 95% confidence interval (Sen 1968).
	Slope, Low, High float64
	// S is Mann–Kendall's statistic (Σ sign(y_j − y_i) over i < j), VarS its
	// variance under no trend (tie-corrected), Z the continuity-corrected
	// normal score and P the one-sided p-value of an upward trend.
	S    int
	VarS float64
	Z, P float64
	// Rest is the growth of the resting level in y units per x unit: the
	// minimum of the last Window samples minus that of the first Window,
	// over the distance between the two windows' middles.
	Rest   float64
	Window int
}

// Analyze estimates the trend of ys sampled at xs (strictly increasing).
// window is the number of samples the resting level is the minimum of (one
// fault cycle); it is capped at a third of the samples.
func Analyze(xs, ys []float64, window int) (Result, error) {
	n := len(xs)
	if n != len(ys) {
		return Result{}, fmt.Errorf("trend: %d x values, %d y values", n, len(ys))
	}
	if n < MinSamples {
		return Result{}, fmt.Errorf("trend: %d samples, need at least %d", n, MinSamples)
	}
	for i := 1; i < n; i++ {
		if !(xs[i] > xs[i-1]) {
			return Result{}, errors.New("trend: x values must increase strictly")
		}
	}
	for _, v := range ys {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Result{}, errors.New("trend: y values must be finite")
		}
	}
	r := Result{N: n}
	slopes := make([]float64, 0, n*(n-1)/2)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			d := ys[j] - ys[i]
			switch {
			case d > 0:
				r.S++
			case d < 0:
				r.S--
			}
			slopes = append(slopes, d/(xs[j]-xs[i]))
		}
	}
	slices.Sort(slopes)
	r.Slope = median(slopes)

	// Var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18 over groups of t tied y.
	fn := float64(n)
	v := fn * (fn - 1) * (2*fn + 5)
	sorted := slices.Clone(ys)
	slices.Sort(sorted)
	for i := 0; i < n; {
		j := i
		for j < n && sorted[j] == sorted[i] {
			j++
		}
		if t := float64(j - i); t > 1 {
			v -= t * (t - 1) * (2*t + 5)
		}
		i = j
	}
	r.VarS = v / 18
	switch {
	case r.VarS <= 0: // every sample equal: no trend at all
		r.Z, r.P = 0, 0.5
	case r.S > 0:
		r.Z = float64(r.S-1) / math.Sqrt(r.VarS)
	case r.S < 0:
		r.Z = float64(r.S+1) / math.Sqrt(r.VarS)
	}
	if r.VarS > 0 {
		r.P = 0.5 * math.Erfc(r.Z/math.Sqrt2) // P(Z' ≥ Z) under no trend
	}

	// Sen's interval: the ranks (N' ∓ C)/2 of the sorted pairwise slopes,
	// C = z·√Var(S) (Gilbert 1987, §16.5).
	c := z975 * math.Sqrt(r.VarS)
	m := float64(len(slopes))
	lo := int(math.Round((m - c) / 2)) // 1-based rank M1
	hi := int(math.Round((m+c)/2)) + 1 // 1-based rank M2 + 1
	r.Low = slopes[min(max(lo, 1), len(slopes))-1]
	r.High = slopes[min(max(hi, 1), len(slopes))-1]

	r.Window = min(max(window, 1), n/3)
	w := r.Window
	first, last := slices.Min(ys[:w]), slices.Min(ys[n-w:])
	span := (xs[n-w]+xs[n-1])/2 - (xs[0]+xs[w-1])/2
	r.Rest = (last - first) / span
	return r, nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Bound is the growth a series may show: at most Max y units over Span x
// units (the slope projected), unless the trend is not significant at Alpha.
type Bound struct {
	Max   float64
	Span  float64
	Alpha float64
}

// Growth is the Theil–Sen slope projected over the bound's span.
func (r Result) Growth(b Bound) float64 { return r.Slope * b.Span }

// RestGrowth is the resting level's growth projected over the bound's span.
func (r Result) RestGrowth(b Bound) float64 { return r.Rest * b.Span }

// Leaks reports whether the series grows beyond the bound: a significant
// upward trend (Mann–Kendall p < Alpha) whose projected Theil–Sen growth
// exceeds Max, with a resting level that grew by more than Max as well.
func (r Result) Leaks(b Bound) bool {
	return r.P < b.Alpha && r.Growth(b) > b.Max && r.RestGrowth(b) > b.Max
}

// String is one line for logs and failure messages.
func (r Result) String() string {
	return fmt.Sprintf("n=%d slope=%.4g/x (95%% CI %.4g…%.4g) MK S=%d Z=%.2f p=%.3g rest=%.4g/x (window %d)",
		r.N, r.Slope, r.Low, r.High, r.S, r.Z, r.P, r.Rest, r.Window)
}
