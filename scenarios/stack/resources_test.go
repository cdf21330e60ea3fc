package stack

import (
	"strings"
	"testing"
)

func TestParseResources(t *testing.T) {
	const body = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.5e+06
# TYPE process_open_fds gauge
process_open_fds 17
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.4e+07
# TYPE gauntlet_http_requests_total counter
gauntlet_http_requests_total{service="s",code="200"} 3
`
	r, err := parseResources(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if r.Goroutines != 42 || r.OpenFDs != 17 || r.RSSBytes != 2.4e7 || r.HeapBytes != 1.5e6 {
		t.Fatalf("parsed %+v", r)
	}
	// A metric the checks rely on that is missing is an error, never a zero.
	_, err = parseResources(strings.NewReader(strings.Replace(body, "process_open_fds 17\n", "", 1)))
	if err == nil || !strings.Contains(err.Error(), "process_open_fds missing") {
		t.Fatalf("missing metric: err = %v", err)
	}
}
