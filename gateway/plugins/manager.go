package plugins

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Options configures a Manager.
type Options struct {
	Logger *slog.Logger
	Clock  func() time.Time // nil = time.Now; tests inject
}

// Manager runs the plugin chain of every request. Apply compiles a config
// snapshot into per-route chains ahead of time, so Access only does map lookups;
// state that must outlive a config change (rate-limit counters, Redis clients)
// lives on the Manager, not in the snapshot.
type Manager struct {
	log   *slog.Logger
	clock func() time.Time
	local *localStore
	redis *redisPool

	applyMu  sync.Mutex
	compiled atomic.Pointer[compiled]
}

var _ Runner = (*Manager)(nil)

// NewManager returns a Manager with an empty chain; call Apply with a config.
func NewManager(opts Options) *Manager {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	return &Manager{log: log, clock: clock, local: newLocalStore(), redis: newRedisPool(log)}
}

// Close releases the Redis clients. Access keeps working afterwards, with Redis
// policies failing (and so following fault_tolerant).
func (m *Manager) Close() {
	m.redis.close()
}

// Access runs the chain that applies to ctx's route, in priority order, and
// returns the first Exit a plugin makes. Consumer-scoped configurations are
// looked up per plugin, so they apply once an auth plugin (which runs first) has
// set ctx.Consumer.
func (m *Manager) Access(ctx *Context) *Exit {
	c := m.compiled.Load()
	if c == nil {
		return nil
	}
	chains := c.global
	if ctx.Route != nil {
		if rc := c.routes[ctx.Route.ID]; rc != nil {
			chains = rc
		}
	}
	proto := protoHTTP
	if ctx.Request != nil && ctx.Request.TLS != nil {
		proto = protoHTTPS
	}
	chain := chains[proto]
	if len(chain) == 0 {
		return nil
	}
	if ctx.ResponseHeader == nil {
		ctx.ResponseHeader = http.Header{}
	}
	for i := range chain {
		h := chain[i].resolve(ctx.Consumer)
		if h == nil {
			continue
		}
		if exit := h.access(ctx); exit != nil {
			return exit
		}
	}
	return nil
}

const (
	protoHTTP = iota
	protoHTTPS
	numProtos
)

var protoNames = [numProtos]string{"http", "https"}

// compiled is one Apply's result: the chains per route (and the global chain for
// requests without a route), per request protocol.
type compiled struct {
	routes map[string]*[numProtos][]slot
	global *[numProtos][]slot
}

// slot is one plugin name in a route's chain with Kong's precedence resolved as
// far as possible without knowing the consumer:
// route+service+consumer > route+consumer > service+consumer > route+service >
// consumer > route > service > global.
type slot struct {
	name string
	// high: the best of the three consumer combos specific to this route/service.
	high map[string]handler
	// rs: the route+service config.
	rs handler
	// consumer: consumer-only configs (shared by every route).
	consumer map[string]handler
	// low: the best of route, service and global.
	low handler
	// noConsumer is rs ?? low, precomputed for anonymous traffic.
	noConsumer handler
}

func (s *slot) resolve(c *config.Consumer) handler {
	if c == nil || (s.high == nil && s.consumer == nil) {
		return s.noConsumer
	}
	if h := s.high[c.ID]; h != nil {
		return h
	}
	if s.rs != nil {
		return s.rs
	}
	if h := s.consumer[c.ID]; h != nil {
		return h
	}
	return s.low
}

// builder carries what plugin constructors need during one Apply.
type builder struct {
	m         *Manager
	keys      *keyIndex
	redisKeep map[redisOptions]bool
}

func (b *builder) redisStore(o redisOptions) counterStore {
	b.redisKeep[o] = true
	return b.m.redis.get(o)
}

// instance is one enabled plugin entity, built.
type instance struct {
	p         *config.Plugin
	def       *definition
	h         handler
	protocols map[string]bool
}

// failClosed stands in for a plugin whose config cannot be built: a broken auth
// or limit must not silently turn into "allow everything".
type failClosed struct{}

func (failClosed) access(*Context) *Exit {
	return &Exit{Status: http.StatusInternalServerError, Message: "An unexpected error occurred"}
}

// Apply compiles cfg into the chain index and swaps it in atomically. Counters
// and Redis clients that the new config still uses are kept.
func (m *Manager) Apply(cfg *config.Config) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	if cfg == nil {
		cfg = &config.Config{}
	}
	b := &builder{m: m, keys: buildKeyIndex(cfg, m.log), redisKeep: map[redisOptions]bool{}}

	// Names in run order: priority high to low, as Kong sorts its plugins.
	var names []string
	for _, info := range Available() {
		names = append(names, info.Name)
	}

	idx := newComboIndex()
	for _, p := range cfg.Plugins {
		if !p.Enabled {
			continue
		}
		def := registry[p.Name]
		if def == nil {
			m.log.Warn("plugins: unknown plugin ignored", "plugin", p.ID, "name", p.Name)
			continue
		}
		if def.noConsumer && p.Consumer != nil {
			m.log.Warn("plugins: plugin cannot be scoped to a consumer; ignored", "plugin", p.ID, "name", p.Name)
			continue
		}
		inst := &instance{p: p, def: def, protocols: map[string]bool{}}
		protos := p.Protocols
		if len(protos) == 0 {
			protos = def.protocols
		}
		for _, pr := range protos {
			inst.protocols[pr] = true
		}
		norm, errs, _ := Validate(p.Name, p.Config)
		if errs != nil {
			m.log.Error("plugins: invalid config; plugin answers 500 until fixed", "plugin", p.ID, "name", p.Name, "errors", errs)
			inst.h = failClosed{}
		} else if h, err := def.build(b, p, norm); err != nil {
			m.log.Error("plugins: cannot build plugin; it answers 500 until fixed", "plugin", p.ID, "name", p.Name, "err", err)
			inst.h = failClosed{}
		} else {
			inst.h = h
		}
		idx.add(inst)
	}

	out := &compiled{routes: make(map[string]*[numProtos][]slot, len(cfg.Routes))}
	out.global = idx.chains(names, "", "")
	for _, r := range cfg.Routes {
		sid := ""
		if r.Service != nil {
			sid = r.Service.ID
		}
		out.routes[r.ID] = idx.chains(names, r.ID, sid)
	}
	m.compiled.Store(out)
	m.redis.retain(b.redisKeep)
}

// comboIndex files plugin instances by name and scope.
type comboIndex struct {
	byName map[string]*scopes
}

type scopes struct {
	global   *instance
	service  map[string]*instance // service id
	route    map[string]*instance // route id
	rs       map[[2]string]*instance
	consumer map[string]*instance // consumer id
	// Consumer combos are filed by their route/service part, then by consumer.
	rc  map[string]map[string]*instance    // route → consumer
	sc  map[string]map[string]*instance    // service → consumer
	rsc map[[2]string]map[string]*instance // route, service → consumer
	// consumerHandlers is the consumer-only combo per protocol, shared by routes.
	consumerHandlers [numProtos]map[string]handler
}

func newComboIndex() *comboIndex { return &comboIndex{byName: map[string]*scopes{}} }

func (ci *comboIndex) add(inst *instance) {
	s := ci.byName[inst.p.Name]
	if s == nil {
		s = &scopes{
			service: map[string]*instance{}, route: map[string]*instance{}, rs: map[[2]string]*instance{},
			consumer: map[string]*instance{}, rc: map[string]map[string]*instance{},
			sc: map[string]map[string]*instance{}, rsc: map[[2]string]map[string]*instance{},
		}
		ci.byName[inst.p.Name] = s
	}
	ref := func(r *config.Ref) string {
		if r == nil {
			return ""
		}
		return r.ID
	}
	r, sv, c := ref(inst.p.Route), ref(inst.p.Service), ref(inst.p.Consumer)
	// Kong keeps one plugin of a name per scope (a unique constraint); if a
	// snapshot still has two, the first one wins, deterministically.
	switch {
	case r != "" && sv != "" && c != "":
		putFirst(inner(s.rsc, [2]string{r, sv}), c, inst)
	case r != "" && c != "":
		putFirst(inner(s.rc, r), c, inst)
	case sv != "" && c != "":
		putFirst(inner(s.sc, sv), c, inst)
	case r != "" && sv != "":
		putFirst(s.rs, [2]string{r, sv}, inst)
	case c != "":
		putFirst(s.consumer, c, inst)
	case r != "":
		putFirst(s.route, r, inst)
	case sv != "":
		putFirst(s.service, sv, inst)
	default:
		if s.global == nil {
			s.global = inst
		}
	}
}

func inner[K comparable](m map[K]map[string]*instance, k K) map[string]*instance {
	in := m[k]
	if in == nil {
		in = map[string]*instance{}
		m[k] = in
	}
	return in
}

func putFirst[K comparable](m map[K]*instance, k K, inst *instance) {
	if _, ok := m[k]; !ok {
		m[k] = inst
	}
}

// on returns inst's handler if it runs on the protocol, else nil.
func (inst *instance) on(proto int) handler {
	if inst == nil || !inst.protocols[protoNames[proto]] {
		return nil
	}
	return inst.h
}

func firstHandler(hs ...handler) handler {
	for _, h := range hs {
		if h != nil {
			return h
		}
	}
	return nil
}

// chains builds the per-protocol chains for a route id and its service id
// ("" and "" for the global chain).
func (ci *comboIndex) chains(names []string, rid, sid string) *[numProtos][]slot {
	var out [numProtos][]slot
	for _, name := range names {
		s := ci.byName[name]
		if s == nil {
			continue
		}
		for proto := range numProtos {
			sl := slot{name: name}
			if rid != "" && sid != "" {
				sl.rs = s.rs[[2]string{rid, sid}].on(proto)
			}
			var routeH, serviceH handler
			if rid != "" {
				routeH = s.route[rid].on(proto)
			}
			if sid != "" {
				serviceH = s.service[sid].on(proto)
			}
			sl.low = firstHandler(routeH, serviceH, s.global.on(proto))
			sl.noConsumer = firstHandler(sl.rs, sl.low)
			sl.high = s.highFor(proto, rid, sid)
			sl.consumer = s.consumerMap(proto)
			if sl.noConsumer == nil && sl.high == nil && sl.consumer == nil {
				continue
			}
			out[proto] = append(out[proto], sl)
		}
	}
	return &out
}

// highFor merges the route+service+consumer, route+consumer and
// service+consumer configs that can apply to this route, best first.
func (s *scopes) highFor(proto int, rid, sid string) map[string]handler {
	var m map[string]handler
	put := func(c string, h handler) {
		if h == nil {
			return
		}
		if m == nil {
			m = map[string]handler{}
		}
		if _, ok := m[c]; !ok {
			m[c] = h
		}
	}
	// Insert in precedence order; put keeps the first.
	if rid != "" && sid != "" {
		for c, inst := range s.rsc[[2]string{rid, sid}] {
			put(c, inst.on(proto))
		}
	}
	if rid != "" {
		for c, inst := range s.rc[rid] {
			put(c, inst.on(proto))
		}
	}
	if sid != "" {
		for c, inst := range s.sc[sid] {
			put(c, inst.on(proto))
		}
	}
	return m
}

func (s *scopes) consumerMap(proto int) map[string]handler {
	if len(s.consumer) == 0 {
		return nil
	}
	if s.consumerHandlers[proto] == nil {
		m := map[string]handler{}
		for c, inst := range s.consumer {
			if h := inst.on(proto); h != nil {
				m[c] = h
			}
		}
		if len(m) == 0 {
			return nil
		}
		s.consumerHandlers[proto] = m
	}
	return s.consumerHandlers[proto]
}
