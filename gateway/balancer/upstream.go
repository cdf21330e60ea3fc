package balancer

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/health"
)

type algorithm uint8

const (
	roundRobin algorithm = iota
	leastConnections
	consistentHashing
	latency
)

// upstreamConf is the part of an upstream entity the balancer uses, compiled
// once per Apply.
type upstreamConf struct {
	name       string
	algorithm  algorithm
	hashOn     hashSpec
	fallback   hashSpec
	cookiePath string
	slots      int
	hostHeader string
}

// target is the balancer's persistent record of one target address: it keeps
// health, connection counts and DNS results across Apply calls.
type target struct {
	u      *upstream
	key    string // normalised host:port, the identity across Apply
	host   string
	port   int
	ipAddr string // host:port when host is an IP literal, else ""
	health *health.Target
	active atomic.Int64 // requests in flight (least-connections)
	ewma   ewma         // response time (latency)

	addrs  atomic.Pointer[[]string] // resolved host:port list for hostnames
	dnsErr atomic.Bool
	rr     atomic.Uint32 // rotates over several resolved addresses

	labels  atomic.Pointer[[2]string] // metrics labels {upstream, target} in use
	removed atomic.Bool               // dropped by Apply; late transitions publish nothing
}

// available: may take traffic (weight is checked by the snapshot).
func (t *target) available() bool { return t.health.Healthy() && !t.dnsErr.Load() }

// state is the Admin API's health string under the upstream's policy.
func (t *target) state(p *health.Policy) string {
	switch {
	case t.dnsErr.Load():
		return health.DNSError
	case !t.health.Healthy():
		return health.Unhealthy
	case !p.Enabled:
		return health.HealthchecksOff
	}
	return health.Healthy
}

func (t *target) addr() string {
	if t.ipAddr != "" {
		return t.ipAddr
	}
	p := t.addrs.Load()
	if p == nil || len(*p) == 0 {
		return ""
	}
	a := *p
	if len(a) == 1 {
		return a[0]
	}
	return a[int(t.rr.Add(1))%len(a)]
}

// entry is a target as of one snapshot.
type entry struct {
	t      *target
	id     string
	weight int
}

// snapshot is an immutable view of an upstream that Pick reads with one atomic
// load. It is rebuilt on Apply and on every health or DNS transition, so the
// round-robin wheel and the least-connections list hold only targets that can
// take traffic; the hash ring holds every weighted target, so keys stay put
// while a target is briefly out.
type snapshot struct {
	conf     *upstreamConf
	policy   *health.Policy
	entries  []entry // config order, weight 0 included
	wheel    []int32 // smooth weighted round-robin order over available entries
	eligible []int32 // available entries with weight > 0
	ring     []int32 // consistent-hashing slots -> entry index, -1 = empty
	trials   []int32 // ejected entries that half-open recovery may try
	hostname bool    // some target needs DNS
	// refused: the balancer is unhealthy by the threshold rule, so, as Kong's
	// getPeer does ("Balancer is unhealthy"), no request is balanced at all.
	refused bool
}

func (s *snapshot) weights() (total, avail int) {
	for i := range s.entries {
		e := &s.entries[i]
		total += e.weight
		if e.t.available() {
			avail += e.weight
		}
	}
	return total, avail
}

type upstream struct {
	m  *Manager
	id string

	snap   atomic.Pointer[snapshot]
	policy atomic.Pointer[health.Policy]
	rr     atomic.Uint64 // pick counter shared by the algorithms

	dnsNext atomic.Int64 // unix nano of the next DNS refresh
	dnsBusy atomic.Bool

	mu         sync.Mutex // serialises rebuilds and Apply's changes below
	conf       *upstreamConf
	targets    []*target
	ids        []string
	weights    []int
	ring       []int32
	ringSig    string
	prober     *health.Prober
	probeConf  *health.Policy
	wasHealthy bool
	built      bool
}

func newUpstream(m *Manager, id string) *upstream {
	u := &upstream{m: m, id: id}
	p := health.NewPolicy(config.Healthchecks{})
	u.policy.Store(p)
	u.snap.Store(&snapshot{conf: &upstreamConf{}, policy: p})
	return u
}

func (u *upstream) name() string { return u.snap.Load().conf.name }

func compileConf(uc *config.Upstream) *upstreamConf {
	c := &upstreamConf{name: uc.Name, slots: uc.Slots, cookiePath: uc.HashOnCookiePath}
	switch uc.Algorithm {
	case "least-connections":
		c.algorithm = leastConnections
	case "latency":
		c.algorithm = latency
	case "consistent-hashing":
		c.algorithm = consistentHashing
	default:
		c.algorithm = roundRobin
	}
	if c.slots < 10 {
		c.slots = 10000
	}
	if c.slots > 65536 {
		c.slots = 65536
	}
	if c.cookiePath == "" {
		c.cookiePath = "/"
	}
	c.hashOn = newHashSpec(uc.HashOn, uc.HashOnHeader, uc.HashOnCookie, uc.HashOnQueryArg, uc.HashOnURICapture)
	c.fallback = newHashSpec(uc.HashFallback, uc.HashFallbackHeader, uc.HashOnCookie, uc.HashFallbackQueryArg, uc.HashFallbackURICapture)
	if uc.HostHeader != nil {
		c.hostHeader = *uc.HostHeader
	}
	return c
}

// apply installs a new upstream definition and target list. Called with m.mu held.
func (u *upstream) apply(uc *config.Upstream, cts []*config.Target) {
	conf := compileConf(uc)
	policy := health.NewPolicy(uc.Healthchecks)
	now := u.m.clock.Now()

	u.mu.Lock()
	old := make(map[string]*target, len(u.targets))
	for _, t := range u.targets {
		old[t.key] = t
	}
	var (
		list    []*target
		ids     []string
		weights []int
		fresh   []*target
		seen    = map[string]int{}
	)
	for _, ct := range cts {
		host, port, key, err := splitTarget(ct.Target)
		if err != nil {
			u.m.log.Warn("target skipped", "upstream", uc.Name, "target", ct.Target, "err", err)
			continue
		}
		if i, dup := seen[key]; dup {
			ids[i], weights[i] = ct.ID, ct.Weight
			continue
		}
		t := old[key]
		if t == nil {
			t = u.newTarget(host, port, key)
			fresh = append(fresh, t)
		}
		seen[key] = len(list)
		list = append(list, t)
		ids = append(ids, ct.ID)
		weights = append(weights, ct.Weight)
	}
	u.mu.Unlock()

	// resolve new hostnames before they go live, so a target added through the
	// Admin API takes traffic on the next request; without u.mu held, so
	// health transitions are not blocked behind DNS
	u.resolve(fresh)

	oldPolicy := u.policy.Load()
	u.policy.Store(policy)
	u.mu.Lock()
	for key, t := range old {
		if _, ok := seen[key]; !ok {
			t.removed.Store(true)
			u.m.metrics.forget(t)
		}
	}
	if conf.algorithm == latency && len(fresh) > 0 {
		seedEWMA(list, fresh, now.UnixNano())
	}
	u.conf, u.targets, u.ids, u.weights = conf, list, ids, weights
	if conf.algorithm == consistentHashing {
		sig := ringSignature(list, weights, conf.slots)
		if sig != u.ringSig || u.ring == nil {
			u.ring, u.ringSig = buildRing(list, weights, conf.slots), sig
		}
	} else {
		u.ring, u.ringSig = nil, ""
	}
	u.rebuildLocked()
	u.mu.Unlock()

	if oldPolicy.Enabled && !policy.Enabled {
		// with checks off nothing could ever bring an ejected target back
		for _, t := range list {
			t.health.Set(policy, true, health.CauseConfig, now)
		}
	}
	u.syncProber(policy)
	for _, t := range list {
		u.m.metrics.publish(u, t, policy)
	}
	if u.snap.Load().hostname {
		// arm the refresh once; later Applies must not keep pushing it out
		u.dnsNext.CompareAndSwap(0, now.Add(dnsTTL).UnixNano())
	}
}

func (u *upstream) newTarget(host string, port int, key string) *target {
	t := &target{u: u, key: key, host: host, port: port}
	if ip := net.ParseIP(host); ip != nil {
		t.ipAddr = net.JoinHostPort(ip.String(), strconv.Itoa(port))
	}
	t.health = health.NewTarget(func(tr health.Transition) { u.onTransition(t, tr) })
	return t
}

func (u *upstream) onTransition(t *target, tr health.Transition) {
	if t.removed.Load() {
		return // a late report about a target Apply dropped
	}
	state := health.Unhealthy
	if tr.Healthy {
		state = health.Healthy
	}
	lvl := "target unhealthy"
	if tr.Healthy {
		lvl = "target healthy"
	}
	u.m.log.Warn(lvl, "upstream", u.name(), "target", t.key, "health", state,
		"cause", string(tr.Cause), "detail", tr.Detail)
	u.m.metrics.transition(u, t, string(tr.Cause), state)
	u.rebuild()
	u.m.metrics.publish(u, t, u.policy.Load())
}

func (u *upstream) rebuild() {
	u.mu.Lock()
	u.rebuildLocked()
	u.mu.Unlock()
}

// rebuildLocked publishes a new snapshot from the current targets and their
// health. Called with u.mu held.
func (u *upstream) rebuildLocked() {
	policy := u.policy.Load()
	conf := u.conf
	if conf == nil {
		conf = &upstreamConf{}
	}
	s := &snapshot{conf: conf, policy: policy, ring: u.ring}
	s.entries = make([]entry, len(u.targets))
	var ws []int
	for i, t := range u.targets {
		s.entries[i] = entry{t: t, id: u.ids[i], weight: u.weights[i]}
		if t.ipAddr == "" {
			s.hostname = true
		}
		if u.weights[i] <= 0 {
			continue
		}
		if t.available() {
			s.eligible = append(s.eligible, int32(i))
			ws = append(ws, u.weights[i])
		} else if t.health.HalfOpenPending() && !t.dnsErr.Load() {
			s.trials = append(s.trials, int32(i))
		}
	}
	if conf.algorithm == roundRobin {
		s.wheel = buildWheel(s.eligible, ws)
	}
	total, avail := s.weights()
	healthy := balancerHealthy(total, avail, policy.Threshold)
	s.refused = !healthy
	u.snap.Store(s)

	if healthy != u.wasHealthy && u.built {
		u.m.log.Info("upstream balancer health changed", "upstream", conf.name, "healthy", healthy,
			"available_weight", avail, "total_weight", total, "threshold", policy.Threshold)
	}
	u.wasHealthy, u.built = healthy, true
}

// syncProber (re)starts or stops the active checker after an Apply.
func (u *upstream) syncProber(p *health.Policy) {
	u.mu.Lock()
	same := u.prober != nil && p.ActiveEnabled && u.probeConf.SameProbe(p)
	old := u.prober
	if !same {
		u.prober = nil
	}
	u.mu.Unlock()
	if same {
		return
	}
	if old != nil {
		old.Stop()
	}
	if !p.ActiveEnabled {
		return
	}
	pr := health.NewProber(p.Probe, u.m.clock, u.probeTargets, u.report, u.m.log)
	u.mu.Lock()
	u.prober, u.probeConf = pr, p
	u.mu.Unlock()
	pr.Start()
}

func (u *upstream) stopProber() {
	u.mu.Lock()
	pr := u.prober
	u.prober = nil
	u.mu.Unlock()
	if pr != nil {
		pr.Stop()
	}
}

func (u *upstream) close() {
	u.stopProber()
	s := u.snap.Load()
	for i := range s.entries {
		s.entries[i].t.removed.Store(true)
		u.m.metrics.forget(s.entries[i].t)
	}
}

// probeTargets lists the weighted targets for a probe round.
func (u *upstream) probeTargets() []health.ProbeTarget {
	s := u.snap.Load()
	out := make([]health.ProbeTarget, 0, len(s.entries))
	for i := range s.entries {
		e := &s.entries[i]
		if e.weight <= 0 || e.t.dnsErr.Load() {
			continue
		}
		host := e.t.host
		if s.conf.hostHeader != "" {
			host = s.conf.hostHeader
		}
		out = append(out, health.ProbeTarget{State: e.t.health, Addr: e.t.addr(), Host: host, Name: e.t.key})
	}
	return out
}

// report applies a probe result under the current policy.
func (u *upstream) report(pt health.ProbeTarget, r health.ProbeResult) {
	p := u.policy.Load()
	pt.State.Observe(p, health.Active, p.ClassifyActive(r), u.m.clock.Now(), r.Detail)
}

// Pick chooses the target for one try. Lock-free: one atomic snapshot load,
// an atomic counter, and no allocation (except a hash cookie Kong-style).
func (u *upstream) Pick(req *Request) (Peer, error) {
	s := u.snap.Load()
	if s.hostname {
		u.maybeRefreshDNS()
	}
	if len(s.trials) > 0 {
		if i := u.pickTrial(s, req); i >= 0 {
			return u.peer(s, i, 0), nil
		}
	}
	if s.refused {
		return Peer{}, ErrNoPeer
	}
	var i int32
	var now int64
	switch s.conf.algorithm {
	case leastConnections:
		i = s.pickLeastConn(u.rr.Add(1), req)
	case latency:
		now = u.m.clock.Now().UnixNano()
		i = s.pickLatency(u.rr.Add(1), now, req)
	case consistentHashing:
		i = s.pickHash(&u.rr, req)
	default:
		i = s.pickRR(u.rr.Add(1), req)
	}
	if i < 0 {
		return Peer{}, ErrNoPeer
	}
	return u.peer(s, i, now), nil
}

// peer hands out entry i; start is the pick time when the latency algorithm
// measures this try, else 0.
func (u *upstream) peer(s *snapshot, i int32, start int64) Peer {
	e := &s.entries[i]
	// only least-connections reads the count; skipping it elsewhere keeps
	// the other algorithms from bouncing a shared cache line per request
	counted := s.conf.algorithm == leastConnections
	if counted {
		e.t.active.Add(1)
	}
	return Peer{TargetID: e.id, Host: e.t.host, Port: e.t.port, Addr: e.t.addr(), t: e.t, counted: counted, start: start}
}

// pickTrial lets one request through to an ejected target whose half-open
// cooldown has passed.
func (u *upstream) pickTrial(s *snapshot, req *Request) int32 {
	now := u.m.clock.Now()
	for _, i := range s.trials {
		t := s.entries[i].t
		if tried(req, t) {
			continue
		}
		if t.health.TryTrial(now) {
			u.m.log.Info("half-open trial", "upstream", s.conf.name, "target", t.key)
			return i
		}
	}
	return -1
}

// Done ends a try: it releases the connection count and feeds the passive
// health checks. Outcomes the gateway made itself must not be reported.
func (u *upstream) Done(p Peer, res Result) {
	t := p.t
	if t == nil {
		t = u.findTarget(p.TargetID)
		if t == nil {
			return
		}
	}
	if p.counted {
		t.active.Add(-1)
	}
	var now time.Time
	if p.start != 0 && (res.Status > 0 || res.Timeout) {
		// a connect failure says nothing about latency (passive checks
		// handle it); a timeout is a very slow answer
		now = u.m.clock.Now()
		t.ewma.observe(now.UnixNano(), p.start)
	}
	h := t.health
	pol := t.u.policy.Load()
	if !pol.PassiveEnabled && !h.InTrial() {
		return
	}
	o := pol.ClassifyPassive(res.TCPFailure, res.Timeout, res.Status)
	if o == health.Success && h.Healthy() && !h.InTrial() {
		// a success on a healthy target: Observe decides lock-free unless
		// failures are counted; it needs no timestamp
		h.Observe(pol, health.Passive, o, time.Time{}, "")
		return
	}
	if now.IsZero() {
		now = u.m.clock.Now()
	}
	h.Observe(pol, health.Passive, o, now, resultDetail(res))
}

func (u *upstream) findTarget(id string) *target {
	s := u.snap.Load()
	for i := range s.entries {
		if s.entries[i].id == id {
			return s.entries[i].t
		}
	}
	return nil
}

var statusDetails = func() (d [1000]string) {
	for i := range d {
		d[i] = "status " + strconv.Itoa(i)
	}
	return d
}()

func resultDetail(res Result) string {
	switch {
	case res.TCPFailure:
		return "connection failed"
	case res.Timeout:
		return "timed out"
	case res.Status >= 0 && res.Status < len(statusDetails):
		return statusDetails[res.Status]
	}
	return ""
}

func tried(req *Request, t *target) bool {
	if req == nil {
		return false
	}
	for i := range req.Tried {
		if req.Tried[i].t == t {
			return true
		}
	}
	return false
}

// maybeRefreshDNS starts a background re-resolution of the upstream's
// hostnames when the cached answers are due; picks never wait for DNS.
func (u *upstream) maybeRefreshDNS() {
	now := u.m.clock.Now().UnixNano()
	if now < u.dnsNext.Load() || !u.dnsBusy.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer u.dnsBusy.Store(false)
		s := u.snap.Load()
		var hs []*target
		for i := range s.entries {
			if s.entries[i].t.ipAddr == "" {
				hs = append(hs, s.entries[i].t)
			}
		}
		failed := u.resolve(hs)
		next := dnsTTL
		if failed {
			next = dnsRetry
		}
		u.dnsNext.Store(u.m.clock.Now().Add(next).UnixNano())
	}()
}

// resolve looks hostnames up in parallel and records results; a change
// between resolvable and DNS_ERROR is a health transition of its own.
// It reports whether any lookup failed.
func (u *upstream) resolve(ts []*target) bool {
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, t := range ts {
		if t.ipAddr != "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
			defer cancel()
			ips, err := u.m.lookup(ctx, t.host)
			if err == nil && len(ips) == 0 {
				err = &net.DNSError{Err: "no addresses", Name: t.host, IsNotFound: true}
			}
			if err != nil {
				failed.Store(true)
				if !t.dnsErr.Swap(true) {
					u.m.log.Warn("target DNS_ERROR", "upstream", u.name(), "target", t.key, "err", err)
					u.dnsChanged(t, health.DNSError)
				}
				return
			}
			addrs := make([]string, len(ips))
			port := strconv.Itoa(t.port)
			for i, ip := range ips {
				addrs[i] = net.JoinHostPort(ip, port)
			}
			t.addrs.Store(&addrs)
			if t.dnsErr.Swap(false) {
				u.m.log.Info("target resolved again", "upstream", u.name(), "target", t.key, "addrs", addrs)
				u.dnsChanged(t, health.Healthy)
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}

func (u *upstream) dnsChanged(t *target, state string) {
	if t.removed.Load() {
		return
	}
	u.m.metrics.transition(u, t, "dns", state)
	u.mu.Lock()
	live := false
	for _, x := range u.targets {
		live = live || x == t
	}
	if live {
		u.rebuildLocked()
	}
	u.mu.Unlock()
	u.m.metrics.publish(u, t, u.policy.Load())
}
