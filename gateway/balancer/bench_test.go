package balancer

import (
	"fmt"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"testing"
)

func benchPicker(b *testing.B, algo string, passive bool, targets int) Picker {
	m := NewManager(Options{Logger: discardLogger()})
	b.Cleanup(m.Close)
	hc := config.DefaultHealthchecks()
	if passive {
		hc.Passive.Unhealthy.HTTPFailures = 5
		hc.Passive.Unhealthy.TCPFailures = 5
	}
	var ts []tgt
	for i := range targets {
		ts = append(ts, tgt{fmt.Sprintf("10.0.%d.%d:80", i/250, i%250+1), 100 + i*10})
	}
	cfg := upstreamCfg(algo, hc, ts...)
	h := "X-User"
	cfg.Upstreams[0].HashOn, cfg.Upstreams[0].HashOnHeader, cfg.Upstreams[0].HashFallback = "header", &h, "ip"
	m.Apply(cfg)
	return m.Picker("u1")
}

func benchPick(b *testing.B, algo string, passive bool) {
	for _, n := range []int{4, 32} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			p := benchPicker(b, algo, passive, n)
			req := &Request{HTTP: httpReq("GET", "/", map[string]string{"X-User": "user-1234"}), ClientIP: "192.0.2.1"}
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					peer, err := p.Pick(req)
					if err != nil {
						b.Fatal(err)
					}
					p.Done(peer, Result{Status: 200})
				}
			})
			// parallel shows contention on the shared counters
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						peer, err := p.Pick(req)
						if err != nil {
							b.Error(err)
							return
						}
						p.Done(peer, Result{Status: 200})
					}
				})
			})
		})
	}
}

func BenchmarkPickRoundRobin(b *testing.B)        { benchPick(b, "round-robin", false) }
func BenchmarkPickLeastConnections(b *testing.B)  { benchPick(b, "least-connections", false) }
func BenchmarkPickConsistentHashing(b *testing.B) { benchPick(b, "consistent-hashing", false) }
func BenchmarkPickRoundRobinPassive(b *testing.B) { benchPick(b, "round-robin", true) }
func BenchmarkPickLatency(b *testing.B)           { benchPick(b, "latency", false) }
