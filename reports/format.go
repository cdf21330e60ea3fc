package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// fmtDur prints a latency with three or four significant digits in a unit
// time.ParseDuration reads back.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
}

// fmtOffset prints an offset on the run's time axis, e.g. "10.004s".
func fmtOffset(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func fmtPct(ratio float64) string { return fmt.Sprintf("%.2f%%", 100*ratio) }

func fmtRate(r float64) string { return fmt.Sprintf("%.2f/s", r) }

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// sortedCodes orders status codes numerically ("0" first).
func sortedCodes(m map[string]int) []string {
	codes := make([]string, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(a, b string) int {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA != nil || errB != nil {
			return cmp.Compare(a, b)
		}
		return x - y
	})
	return codes
}

// fmtCodes prints status codes like vegeta's report: "200:5998  502:2".
func fmtCodes(m map[string]int) string {
	s := ""
	for i, c := range sortedCodes(m) {
		if i > 0 {
			s += "  "
		}
		s += fmt.Sprintf("%s:%d", c, m[c])
	}
	return s
}
