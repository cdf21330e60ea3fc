//go:build analyze

package load

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func TestAnalyze(t *testing.T) {
	rs, err := ReadGob(os.Getenv("GOB"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := rs[0].Timestamp
	for _, x := range rs {
		if x.Latency > time.Duration(300)*time.Millisecond || os.Getenv("ALL") != "" {
			fmt.Printf("%8.3fs %-40s %d %8.1fms %s %q\n", x.Timestamp.Sub(t0).Seconds(), x.URL[len(x.URL)-14:], x.Code, float64(x.Latency)/1e6, x.Headers.Get("X-Mockbin-Instance"), x.Error)
		}
	}
}
