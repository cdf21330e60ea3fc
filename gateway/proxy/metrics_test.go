package proxy

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

func TestMetricsPerServiceAndStatus(t *testing.T) {
	ok := upstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	failing := upstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	reg := prometheus.NewRegistry()
	p := New(Options{Metrics: reg})
	p.Apply(&config.Config{
		Services: []*config.Service{service("ok", addrOf(ok)), service("failing", addrOf(failing))},
		Routes:   []*config.Route{route("r-ok", "ok", "/ok"), route("r-failing", "failing", "/failing")},
	})
	gw := gateway(t, p)
	for i := 0; i < 3; i++ {
		get(t, gw.URL+"/ok")
	}
	get(t, gw.URL+"/failing")
	get(t, gw.URL+"/nowhere")

	m := p.metrics
	for _, c := range []struct {
		service, code string
		want          float64
	}{{"ok", "200", 3}, {"failing", "503", 1}, {noServiceLabel, "404", 1}} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.service, c.code)); got != c.want {
			t.Errorf("requests{service=%q,code=%s} = %v, want %v", c.service, c.code, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 3 {
		t.Errorf("%d request series, want 3 (ok/200, failing/503, no-service/404)", n)
	}
	if n := testutil.CollectAndCount(m.latency); n != 3 {
		t.Errorf("%d latency series, want 3 (ok, failing, no service)", n)
	}

	// A deleted service's series go with it, and a request still in flight
	// on the old snapshot does not bring them back.
	inFlight := m.served["failing"]
	p.Apply(&config.Config{
		Services: []*config.Service{service("ok", addrOf(ok))},
		Routes:   []*config.Route{route("r-ok", "ok", "/ok")},
	})
	inFlight.observe(http.StatusServiceUnavailable, 0)
	if n := testutil.CollectAndCount(m.requests); n != 2 {
		t.Errorf("%d request series after deleting a service, want 2 (ok/200, no-service/404)", n)
	}
}
