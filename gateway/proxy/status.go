package proxy

import (
	"net"
	"net/http"
	"sync/atomic"
)

// ConnState keeps nginx-style connection counters; set it as the proxy
// listener's http.Server.ConnState. A connection counts as reading until its
// first request starts, writing while a request is active and waiting while idle
// between keep-alive requests.
func (p *Proxy) ConnState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		st := new(atomic.Int32)
		st.Store(int32(s))
		p.conns.Store(c, st)
		p.stats.accepted.Add(1)
		p.stats.active.Add(1)
		p.counter(s).Add(1)
	case http.StateActive, http.StateIdle:
		v, ok := p.conns.Load(c)
		if !ok {
			return
		}
		prev := http.ConnState(v.(*atomic.Int32).Swap(int32(s)))
		if prev == s {
			return
		}
		p.counter(prev).Add(-1)
		p.counter(s).Add(1)
	case http.StateClosed, http.StateHijacked:
		v, ok := p.conns.LoadAndDelete(c)
		if !ok {
			return
		}
		prev := http.ConnState(v.(*atomic.Int32).Load())
		p.counter(prev).Add(-1)
		p.stats.active.Add(-1)
	}
}

func (p *Proxy) counter(s http.ConnState) *atomic.Int64 {
	switch s {
	case http.StateActive:
		return &p.stats.writing
	case http.StateIdle:
		return &p.stats.waiting
	}
	return &p.stats.reading
}

// ServerStatus returns the counters of GET /status's "server" object. The map
// is the caller's to keep or change.
func (p *Proxy) ServerStatus() map[string]int64 {
	accepted := p.stats.accepted.Load()
	return map[string]int64{
		"total_requests":       p.stats.totalRequests.Load(),
		"connections_active":   p.stats.active.Load(),
		"connections_accepted": accepted,
		"connections_handled":  accepted,
		"connections_reading":  p.stats.reading.Load(),
		"connections_writing":  p.stats.writing.Load(),
		"connections_waiting":  p.stats.waiting.Load(),
	}
}
