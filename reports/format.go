package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fmtDur prints a latency with three or four significant digits in a unit
// time.ParseDuration reads back.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
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

// fmtFloat prints a measured value with up to six significant digits and no
// exponent, so float noise (0.30000000000000004) does not reach a table.
func fmtFloat(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	decimals := max(6-int(math.Ceil(math.Log10(math.Abs(v)))), 0)
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

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
