package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
)

// ProbeTarget is one target as the active checker sees it.
type ProbeTarget struct {
	State *Target
	Addr  string // host:port to dial; empty = not resolvable now, skipped
	Host  string // Host header and default TLS server name
	Name  string // for logs
}

// ProbeResult is what one probe saw. Statuses are classified by the owner
// under the upstream's current policy (thresholds and status lists may change
// without a prober restart).
type ProbeResult struct {
	Connected  bool // a tcp probe connected
	TCPFailure bool // connect, TLS, send or receive error
	Timeout    bool
	Status     int // HTTP status, 0 when none was read
	Detail     string
}

// ClassifyActive turns a probe result into an outcome under p's active lists.
func (p *Policy) ClassifyActive(r ProbeResult) Outcome {
	switch {
	case r.Timeout:
		return Timeout
	case r.TCPFailure:
		return TCPFailure
	case r.Connected:
		return Success
	}
	return p.ActiveLimits.ClassifyStatus(r.Status)
}

// Report receives one probe's result.
type Report func(t ProbeTarget, r ProbeResult)

// Prober runs an upstream's active health checks: healthy targets are probed
// every healthy interval and unhealthy ones every unhealthy interval (an
// interval of 0 leaves that class unprobed), at most Concurrency at a time,
// each on its own fresh connection, never on a pooled client connection.
type Prober struct {
	probe   ActiveProbe
	clock   Clock
	targets func() []ProbeTarget
	report  Report
	log     *slog.Logger
	client  *http.Client
	dialer  net.Dialer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	timers  [2]Timer
	running [2]bool
	stopped bool
}

// NewProber prepares a prober; Start begins probing.
func NewProber(probe ActiveProbe, clock Clock, targets func() []ProbeTarget, report Report, log *slog.Logger) *Prober {
	if clock == nil {
		clock = SystemClock()
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Prober{probe: probe, clock: clock, targets: targets, report: report, log: log}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	tr := &http.Transport{
		// a fresh connection per probe: a probe must see what a new client
		// connection would see, and must not keep idle sockets on the target
		DisableKeepAlives:  true,
		DisableCompression: true,
		Proxy:              nil,
		DialContext:        p.dialer.DialContext,
		// the dial address is an IP; TLS must name the target's host (or
		// https_sni), as Kong's prober does
		DialTLSContext: p.dialTLS,
	}
	p.client = &http.Client{
		Transport: tr,
		// Kong reads only the status line; a redirect is a status, not a hop
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return p
}

// Start arms the interval timers. Probes run in their own goroutines.
func (p *Prober) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.probe.HealthyInterval > 0 {
		p.timers[0] = p.clock.AfterFunc(p.probe.HealthyInterval, func() { p.tick(true) })
	}
	if p.probe.UnhealthyInterval > 0 {
		p.timers[1] = p.clock.AfterFunc(p.probe.UnhealthyInterval, func() { p.tick(false) })
	}
}

// Stop cancels the timers and in-flight probes and waits for them to end;
// cancelled probes report nothing.
func (p *Prober) Stop() {
	p.mu.Lock()
	p.stopped = true
	for _, t := range p.timers {
		if t != nil {
			t.Stop()
		}
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// Busy reports whether a probe round is in progress. A tick that comes due
// while its class's round still runs is skipped, so tests that drive a fake
// clock wait for !Busy() before advancing it.
func (p *Prober) Busy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[0] || p.running[1]
}

// tick runs one round for the healthy or the unhealthy class and rearms its
// timer. A round still running when the next is due is not doubled up.
func (p *Prober) tick(healthy bool) {
	i, interval := 1, p.probe.UnhealthyInterval
	if healthy {
		i, interval = 0, p.probe.HealthyInterval
	}
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.timers[i] = p.clock.AfterFunc(interval, func() { p.tick(healthy) })
	if p.running[i] {
		p.mu.Unlock()
		return
	}
	p.running[i] = true
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		p.round(healthy)
		p.mu.Lock()
		p.running[i] = false
		p.mu.Unlock()
	}()
}

func (p *Prober) round(healthy bool) {
	var list []ProbeTarget
	for _, t := range p.targets() {
		if t.Addr != "" && t.State.Healthy() == healthy {
			list = append(list, t)
		}
	}
	if len(list) == 0 {
		return
	}
	sem := make(chan struct{}, max(1, p.probe.Concurrency))
	var wg sync.WaitGroup
	for _, t := range list {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := p.Check(p.ctx, t)
			if p.ctx.Err() != nil {
				return // stopped: a cancelled probe says nothing about the target
			}
			p.log.Debug("active health probe", "target", t.Name, "addr", t.Addr, "detail", r.Detail)
			p.report(t, r)
		}()
	}
	wg.Wait()
}

// Check probes one target once.
func (p *Prober) Check(ctx context.Context, t ProbeTarget) ProbeResult {
	ctx, cancel := context.WithTimeout(ctx, p.probe.Timeout)
	defer cancel()
	if p.probe.Type == "tcp" {
		c, err := p.dialer.DialContext(ctx, "tcp", t.Addr)
		if err != nil {
			return errResult(err)
		}
		c.Close()
		return ProbeResult{Connected: true, Detail: "connected"}
	}
	scheme := "http"
	if p.probe.Type == "https" || p.probe.Type == "grpcs" {
		scheme = "https"
	}
	if t.Host != "" {
		h := t.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		ctx = context.WithValue(ctx, sniKey{}, h)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+t.Addr+p.probe.HTTPPath, nil)
	if err != nil {
		return ProbeResult{Detail: fmt.Sprintf("build probe request: %v", err)}
	}
	for k, v := range p.probe.Headers {
		req.Header[k] = v
	}
	if t.Host != "" {
		req.Host = t.Host
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "gauntlet-healthcheck")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return errResult(err)
	}
	// drain a little so the server does not see a reset; the body is not judged
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
	return ProbeResult{Status: resp.StatusCode, Detail: fmt.Sprintf("status %d", resp.StatusCode)}
}

type sniKey struct{}

func (p *Prober) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := p.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	name, _ := ctx.Value(sniKey{}).(string)
	if p.probe.HTTPSSNI != "" {
		name = p.probe.HTTPSSNI
	}
	if name == "" {
		name, _, _ = net.SplitHostPort(addr)
	}
	c := tls.Client(raw, &tls.Config{
		ServerName:         name,
		InsecureSkipVerify: !p.probe.VerifyCertificate, //nolint:gosec // Kong's https_verify_certificate=false
	})
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return c, nil
}

func errResult(err error) ProbeResult {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return ProbeResult{Timeout: true, Detail: err.Error()}
	}
	return ProbeResult{TCPFailure: true, Detail: err.Error()}
}
