// Package battery is gauntlet check's engine: from a user's own declarative
// configuration it plans, for every service, a fixed set of fault properties
// whose bounds come from that service's own settings (timeouts, retries,
// health checks, rate limits), runs each on a fresh stack that takes over the
// names the file uses (stack.Docker.StartUser), and judges it with the
// harness's numeric checks and records. It is the Go scenarios' engine with a
// generated plan in front: no second harness.
package battery

import (
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Property names, in the order the battery runs them.
const (
	PropKill      = "kill"
	PropStall     = "stall"
	PropBlackhole = "blackhole"
	PropAllDown   = "all-down"
	PropRestart   = "gateway-restart"
	PropRateLimit = "rate-limit"
)

// Properties lists every property in run order.
var Properties = []string{PropKill, PropStall, PropBlackhole, PropAllDown, PropRestart, PropRateLimit}

// Node is what the battery needs of the node's settings.
type Node struct {
	// Database is "off" (DB-less: the file is all there is) or anything else
	// (a database: the gateway's persistent embedded store stands in for it).
	Database string
	// DeclarativeConfig is the path the node loads the file from at every
	// start ("" : none; with database=off the configuration then lives only
	// in memory, as POST /config leaves it).
	DeclarativeConfig string
}

// DBLess reports whether the node runs without a database.
func (n Node) DBLess() bool { return strings.EqualFold(strings.TrimSpace(n.Database), "off") }

// Plan is the battery for one configuration.
type Plan struct {
	Node     Node
	Services []*ServicePlan
	// Upstreams are every address the file sends proxied traffic to; Redis
	// every Redis server its rate-limiting plugins name.
	Upstreams []stack.HostPort
	Redis     []stack.HostPort
}

// ServicePlan is one service's battery input: how to reach it, what stands
// behind it, and the settings its bounds come from.
type ServicePlan struct {
	Name     string
	Service  *config.Service
	Upstream *config.Upstream // nil: the service host is the one address
	// Targets are the addresses traffic can go to (weight > 0), in file order.
	Targets []stack.HostPort
	// Request is what the load sends through the gateway.
	Request Request
	// RateLimit is the rate-limiting plugin that applies to Request (nil: none).
	RateLimit *RateLimit
	// Skip, when set, is why no property can run (every verdict is n/a).
	Skip string
}

// Request is one proxied request: method, path (with the route's host in
// Host), and the credential header or query a key-auth plugin wants.
type Request struct {
	Method string
	Path   string
	Host   string
	Header map[string]string
	// Credential names where the key came from, for the report.
	Credential string
}

// RateLimit is a rate-limiting plugin as the battery tests it.
type RateLimit struct {
	PluginID  string
	Scope     string // global, service, route
	PerSecond int    // 0: no per-second limit
	// Windows names every configured window ("second=50, minute=2000");
	// Limits holds them by window name.
	Windows       string
	Limits        map[string]float64
	Policy        string
	Redis         *stack.HostPort
	FaultTolerant bool
}

// NewPlan derives the battery from a configuration as the gateway loaded it.
func NewPlan(c *config.Config, node Node) *Plan {
	p := &Plan{Node: node}
	ups := map[string]*config.Upstream{}
	for _, u := range c.Upstreams {
		ups[u.Name] = u
	}
	seen := map[string]bool{}
	addUp := func(h stack.HostPort) {
		if !seen[h.String()] {
			seen[h.String()] = true
			p.Upstreams = append(p.Upstreams, h)
		}
	}
	seenRedis := map[string]bool{}
	for _, s := range c.Services {
		sp := &ServicePlan{Name: serviceName(s), Service: s}
		p.Services = append(p.Services, sp)
		if !s.Enabled {
			sp.Skip = "service disabled"
			continue
		}
		if s.Protocol != "http" {
			sp.Skip = fmt.Sprintf("protocol %s: the battery loads http services only", s.Protocol)
			continue
		}
		if u := ups[s.Host]; u != nil {
			sp.Upstream = u
			for _, t := range c.Targets {
				if t.Upstream == nil || t.Upstream.ID != u.ID || t.Weight <= 0 {
					continue
				}
				if hp, ok := splitTarget(t.Target); ok {
					sp.Targets = append(sp.Targets, hp)
				}
			}
		} else {
			sp.Targets = []stack.HostPort{{Host: s.Host, Port: s.Port}}
		}
		if why := foreign(sp.Targets); why != "" {
			sp.Skip, sp.Targets = why, nil
			continue
		}
		for _, t := range sp.Targets {
			addUp(t)
		}
		if len(sp.Targets) == 0 {
			sp.Skip = fmt.Sprintf("upstream %q has no target with weight > 0", s.Host)
			continue
		}
		route := firstRoute(c, s)
		if route == nil {
			sp.Skip = "no route with a plain path or host reaches this service"
			continue
		}
		sp.Request = requestFor(route, s)
		if why := keyAuth(c, s, route, &sp.Request); why != "" {
			sp.Skip = why
			continue
		}
		sp.RateLimit = rateLimitFor(c, s, route)
		if rl := sp.RateLimit; rl != nil && rl.Redis != nil {
			if why := foreign([]stack.HostPort{*rl.Redis}); why != "" {
				sp.Skip = "rate-limiting's redis: " + why
				continue
			}
		}
		if rl := sp.RateLimit; rl != nil && rl.Redis != nil && !seenRedis[rl.Redis.String()] {
			seenRedis[rl.Redis.String()] = true
			p.Redis = append(p.Redis, *rl.Redis)
		}
	}
	return p
}

// foreign says why an address cannot be taken over: a network alias stands
// in for a name, never for an IP address or localhost, and the battery sends
// traffic nowhere but to its own containers.
func foreign(hs []stack.HostPort) string {
	for _, h := range hs {
		host := strings.Trim(h.Host, "[]")
		if net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
			return fmt.Sprintf("%s is an address, not a name a container can take over; the battery sends no traffic outside its own containers", h)
		}
	}
	return ""
}

func serviceName(s *config.Service) string {
	if s.Name != nil && *s.Name != "" {
		return *s.Name
	}
	return s.ID
}

// splitTarget splits "host:port" (port 8000 when absent, Kong's default).
func splitTarget(t string) (stack.HostPort, bool) {
	h, ps, err := net.SplitHostPort(t)
	if err != nil {
		return stack.HostPort{Host: strings.Trim(t, "[]"), Port: 8000}, t != ""
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return stack.HostPort{}, false
	}
	return stack.HostPort{Host: h, Port: port}, true
}

// firstRoute is the service's first route the load can hit with a plain
// request: http, a literal path or none, no header, SNI or source criteria.
func firstRoute(c *config.Config, s *config.Service) *config.Route {
	for _, r := range c.Routes {
		if r.Service == nil || r.Service.ID != s.ID || len(r.Headers) > 0 || len(r.Sources) > 0 || len(r.Destinations) > 0 {
			continue
		}
		if len(r.Protocols) > 0 && !contains(r.Protocols, "http") {
			continue
		}
		if len(r.Paths) == 0 && len(r.Hosts) == 0 && len(r.Methods) == 0 {
			continue
		}
		for _, path := range r.Paths {
			if !strings.HasPrefix(path, "~") {
				return r
			}
		}
		if len(r.Paths) == 0 {
			return r
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if strings.EqualFold(v, x) {
			return true
		}
	}
	return false
}

// requestFor builds a request the route matches: GET when it allows it, its
// first literal path, its first plain host. A stripped path gets /request
// appended, mockbin's echo endpoint, so the upstream answers 200.
func requestFor(r *config.Route, s *config.Service) Request {
	req := Request{Method: "GET", Path: "/", Header: map[string]string{}}
	if len(r.Methods) > 0 && !contains(r.Methods, "GET") {
		req.Method = strings.ToUpper(r.Methods[0])
	}
	for _, path := range r.Paths {
		if !strings.HasPrefix(path, "~") {
			req.Path = path
			break
		}
	}
	if r.StripPath && (s.Path == nil || *s.Path == "/" || *s.Path == "") {
		req.Path = strings.TrimSuffix(req.Path, "/") + "/request"
	}
	for _, h := range r.Hosts {
		if !strings.Contains(h, "*") {
			req.Host = h
			break
		}
	}
	return req
}

// pluginFor is the enabled plugin named name that applies to requests on
// route: Kong runs the most specific instance (route, then service, then
// global). Consumer-scoped instances are left aside: the load has at most
// one credential and the property is about the service's limit.
func pluginFor(c *config.Config, name string, s *config.Service, r *config.Route) (*config.Plugin, string) {
	var svc, global *config.Plugin
	for _, p := range c.Plugins {
		if p.Name != name || !p.Enabled || p.Consumer != nil {
			continue
		}
		switch {
		case p.Route != nil && p.Route.ID == r.ID:
			return p, "route"
		case p.Route == nil && p.Service != nil && p.Service.ID == s.ID:
			svc = p
		case p.Route == nil && p.Service == nil:
			global = p
		}
	}
	if svc != nil {
		return svc, "service"
	}
	if global != nil {
		return global, "global"
	}
	return nil, ""
}

// keyAuth adds a credential from the file's consumers when key-auth guards
// the route, or says why the service cannot be loaded.
func keyAuth(c *config.Config, s *config.Service, r *config.Route, req *Request) string {
	p, _ := pluginFor(c, "key-auth", s, r)
	if p == nil {
		return ""
	}
	if a, _ := p.Config["anonymous"].(string); a != "" {
		return "" // requests without a key pass as the anonymous consumer
	}
	if len(c.KeyAuthCredentials) == 0 {
		return "key-auth guards this service and the file's consumers have no keyauth_credentials to load it with"
	}
	cred := c.KeyAuthCredentials[0]
	name := "apikey"
	if names, ok := p.Config["key_names"].([]any); ok && len(names) > 0 {
		if n, ok := names[0].(string); ok {
			name = n
		}
	}
	who := "a consumer"
	for _, cons := range c.Consumers {
		if cred.Consumer != nil && cons.ID == cred.Consumer.ID && cons.Username != nil {
			who = fmt.Sprintf("consumer %q", *cons.Username)
		}
	}
	if inHeader, ok := p.Config["key_in_header"].(bool); ok && !inHeader {
		sep := "?"
		if strings.Contains(req.Path, "?") {
			sep = "&"
		}
		req.Path += sep + name + "=" + cred.Key
		req.Credential = fmt.Sprintf("key of %s in query %s", who, name)
		return ""
	}
	req.Header[name] = cred.Key
	req.Credential = fmt.Sprintf("key of %s in header %s", who, name)
	return ""
}

func rateLimitFor(c *config.Config, s *config.Service, r *config.Route) *RateLimit {
	p, scope := pluginFor(c, "rate-limiting", s, r)
	if p == nil {
		return nil
	}
	rl := &RateLimit{PluginID: p.ID, Scope: scope, Limits: map[string]float64{}}
	var windows []string
	for _, w := range windowNames {
		if v, ok := p.Config[w].(float64); ok && v > 0 {
			rl.Limits[w] = v
			windows = append(windows, fmt.Sprintf("%s=%s", w, strconv.FormatFloat(v, 'f', -1, 64)))
			if w == "second" {
				// The gateway counts whole requests: 2.5 admits 3.
				rl.PerSecond = int(math.Ceil(v))
			}
		}
	}
	rl.Windows = strings.Join(windows, ", ")
	rl.Policy, _ = p.Config["policy"].(string)
	rl.FaultTolerant, _ = p.Config["fault_tolerant"].(bool)
	if rl.Policy == "redis" {
		if red, ok := p.Config["redis"].(map[string]any); ok {
			host, _ := red["host"].(string)
			port := 6379
			if v, ok := red["port"].(float64); ok && v > 0 {
				port = int(v)
			}
			if host != "" {
				rl.Redis = &stack.HostPort{Host: host, Port: port}
			}
		}
	}
	return rl
}

// windowNames are the rate-limiting plugin's windows, shortest first.
var windowNames = []string{"second", "minute", "hour", "day", "month", "year"}

// windowLength is each window's length.
var windowLength = map[string]time.Duration{
	"second": time.Second, "minute": time.Minute, "hour": time.Hour,
	"day": 24 * time.Hour, "month": 30 * 24 * time.Hour, "year": 365 * 24 * time.Hour,
}

// ServiceNames lists the plan's services, sorted, for tests and reports.
func (p *Plan) ServiceNames() []string {
	var out []string
	for _, s := range p.Services {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}
