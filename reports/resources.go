package reports

import (
	"fmt"
	"strconv"
)

// ResourceColumns head the resource sample tables of a soak.
var ResourceColumns = []string{"Offset", "RSS", "Heap in use", "Goroutines", "Open fds", "Requests", "Failures", "p50", "p99"}

func resourceRow(s ResourceSample) []string {
	return []string{
		fmtOffset(s.Offset), fmtMiB(s.RSSBytes), fmtMiB(s.HeapBytes),
		strconv.FormatFloat(s.Goroutines, 'f', -1, 64), strconv.FormatFloat(s.OpenFDs, 'f', -1, 64),
		fmt.Sprint(s.Requests), fmt.Sprint(s.Failures), fmtDur(s.P50), fmtDur(s.P99),
	}
}

// fmtMiB prints a byte count in MiB to a tenth, as the memory plot's axis reads.
func fmtMiB(bytes float64) string { return fmt.Sprintf("%.1f MiB", bytes/mib) }
