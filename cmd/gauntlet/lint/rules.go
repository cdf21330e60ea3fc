package lint

import (
	"fmt"
	"strings"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Kong documents the rules cite.
const (
	refSecureAdmin  = "https://docs.konghq.com/gateway/latest/production/running-kong/secure-admin-api/"
	refDBLess       = "https://docs.konghq.com/gateway/latest/production/deployment-topologies/db-less-and-declarative-config/"
	refHealthchecks = "https://docs.konghq.com/gateway/latest/how-kong-works/health-checks/"
	refService      = "https://docs.konghq.com/gateway/latest/admin-api/#service-object"
	refRateLimiting = "https://docs.konghq.com/hub/kong-inc/rate-limiting/"
	refRouting      = "https://docs.konghq.com/gateway/latest/how-kong-works/routing-traffic/"
	refKeyAuth      = "https://docs.konghq.com/hub/kong-inc/key-auth/"
	refIssue7566    = "https://github.com/Kong/kong/issues/7566"
)

// Kong's service timeout default, in milliseconds.
const kongDefaultTimeout = 60000

// Rules is every rule lint runs, in the order the manual lists them.
var Rules = []Rule{
	{
		ID: "config-in-memory", Severity: Error,
		Summary: "The configuration lives only in memory and is gone after a restart",
		Why: "With database=off (DB-less) the node keeps its configuration in memory. Unless declarative_config " +
			"names a kong.yml to load at every start, whatever was configured (through the Admin API or POST /config) " +
			"is lost when the node restarts, and the restarted node answers 404 to every route.",
		Fix: "set KONG_DECLARATIVE_CONFIG to this kong.yml so every start loads it, or use a database " +
			"(Kong: database=postgres; this project's gateway: GATEWAY_DATABASE=embedded)",
		Ref:   refDBLess,
		Check: checkInMemory,
	},
	{
		ID: "admin-api-exposed", Severity: Error,
		Summary: "The Admin API listens on a non-loopback address without protection",
		Why: "Whoever reaches the Admin API can reconfigure the gateway: add routes to internal hosts, drop " +
			"authentication, read credentials. Kong OSS has no RBAC, so an admin_listen on a non-loopback address " +
			"(0.0.0.0, a LAN address) is open to anyone who can reach that port.",
		Fix: "bind admin_listen to 127.0.0.1 (Kong's default) and reach it through a tunnel or an authenticating " +
			"proxy; with this project's gateway set GATEWAY_ADMIN_TOKEN (--admin-token) and serve the listener with ssl",
		Ref:   refSecureAdmin,
		Check: checkAdminExposed,
	},
	{
		ID: "upstream-no-healthchecks", Severity: Error,
		Summary: "An upstream has no health check that can take a dead target out",
		Why: "Kong checks health only when an active interval or a passive unhealthy threshold is non-zero; the " +
			"defaults are all zero. Without a check that can mark a target unhealthy, a dead target keeps its share " +
			"of the traffic and each request sent to it fails or waits connect_timeout before a retry.",
		Fix: "enable active checks (healthchecks.active.healthy.interval, healthchecks.active.unhealthy.interval and " +
			"thresholds such as unhealthy.tcp_failures) and passive thresholds (healthchecks.passive.unhealthy.tcp_failures, timeouts, http_failures)",
		Ref:   refHealthchecks,
		Check: checkNoHealthchecks,
	},
	{
		ID: "service-without-upstream", Severity: Info,
		Summary: "A service points at a plain hostname: no balancing and no health checks",
		Why: "When a service's host is not the name of an upstream, Kong resolves it by DNS and sends every request " +
			"there: there is no target list to fail over to and no health checking.",
		Fix:   "create an upstream with the backend instances as targets and set the service's host to the upstream's name",
		Ref:   refHealthchecks,
		Check: checkServiceWithoutUpstream,
	},
	{
		ID: "service-default-timeouts", Severity: Warning,
		Summary: "A service keeps Kong's 60 s default timeouts",
		Why: "connect_timeout, read_timeout and write_timeout default to 60000 ms. A stalled upstream then holds every " +
			"client (and a gateway connection) for a minute before the 504, and a dead one costs up to " +
			"(retries+1) × connect_timeout.",
		Fix:   "set connect_timeout to a few seconds and read_timeout/write_timeout to a small multiple of the upstream's p99 latency",
		Ref:   refService,
		Check: checkDefaultTimeouts,
	},
	{
		ID: "no-rate-limiting", Severity: Warning,
		Summary: "A service is reachable with no rate limit in front of it",
		Why: "Without a rate-limiting plugin on the service, on each of its routes, or globally, one client (or a " +
			"retry storm) can send the upstream as much traffic as the gateway can carry.",
		Fix:   "add a rate-limiting plugin (globally, on the service or on its routes) with limits the upstream can carry",
		Ref:   refRateLimiting,
		Check: checkNoRateLimit,
	},
	{
		ID: "healthcheck-no-recovery", Severity: Warning,
		Summary: "Health checks can eject a target but nothing brings it back",
		Why: "Only active probing of unhealthy targets (active.unhealthy.interval > 0 and active.healthy.successes > 0) " +
			"marks a target healthy again. Passive checks alone, or active checks with a zero unhealthy interval or " +
			"zero healthy successes, eject a target for good: it stays out after it recovers, until someone calls " +
			"PUT /upstreams/{u}/targets/{t}/healthy or the node restarts; when every target has been ejected every request gets 503.",
		Fix: "set healthchecks.active.unhealthy.interval and healthchecks.active.healthy.successes (and healthy.interval) " +
			"so ejected targets are probed and return",
		Ref:   refIssue7566,
		Check: checkNoRecovery,
	},
	{
		ID: "healthcheck-timeout-exceeds-service-timeout", Severity: Warning,
		Summary: "The active probe waits longer than the service it protects",
		Why: "A target that answers slower than the service's read_timeout fails every real request with 504 but passes " +
			"every probe that waits healthchecks.active.timeout seconds, so it is never marked unhealthy.",
		Fix:   "set healthchecks.active.timeout below the read_timeout of every service using the upstream",
		Ref:   refHealthchecks,
		Check: checkProbeTimeout,
	},
	{
		ID: "single-target-retries", Severity: Warning,
		Summary: "Retries against an upstream with a single target",
		Why: "Kong retries on connection errors and timeouts by picking the next target. With one target every retry " +
			"goes to the address that just failed: retries only lengthen the wait, to (retries+1) × connect_timeout.",
		Fix:   "add targets to the upstream, or set the service's retries to 0 or 1",
		Ref:   refService,
		Check: checkSingleTargetRetries,
	},
	{
		ID: "retries-exceed-targets", Severity: Info,
		Summary: "Retries send one request to the same target three times or more",
		Why: "With retries+1 tries over fewer than half as many targets, a request that meets dead targets goes back to " +
			"each of them again and again; each try can wait connect_timeout.",
		Fix:   "keep retries at or below twice the number of targets minus one, or add targets",
		Ref:   refService,
		Check: checkRetriesExceedTargets,
	},
	{
		ID: "route-shadowed", Severity: Warning,
		Summary: "A route can never match because another route always wins",
		Why: "Kong picks the route with the highest priority: more criteria set, plain hosts over wildcards, more headers, " +
			"regex paths over prefix paths, higher regex_priority, longer prefix. A route whose every request is also matched " +
			"by a route that outranks it (or that duplicates it exactly) never receives traffic.",
		Fix:   "make the routes' paths, hosts, methods or headers differ, or remove the dead route",
		Ref:   refRouting,
		Check: checkShadowedRoutes,
	},
	{
		ID: "rate-limit-local-multi-node", Severity: Warning,
		Summary: "A local rate-limit policy where several nodes serve the configuration",
		Why: "policy local counts in each node's memory: behind a load balancer with N nodes a client gets up to N × the " +
			"limit. lint knows of several nodes from --nodes N or role=data_plane (hybrid mode).",
		Fix:   "use policy redis with a shared Redis (config.redis.host) so all nodes share one counter",
		Ref:   refRateLimiting,
		Check: checkLocalPolicyMultiNode,
	},
	{
		ID: "client-timeout-disabled", Severity: Warning,
		Summary: "A client read timeout is disabled",
		Why: "nginx_http_client_body_timeout and nginx_http_client_header_timeout (60 s by default) bound how long the " +
			"gateway waits on a slow client. This project's gateway reads 0 as no timeout at all: a client that sends " +
			"a byte now and then holds a connection and its memory for as long as it likes (slowloris).",
		Fix:   "remove the 0 (60s default) or set a bound such as 10s",
		Ref:   "https://nginx.org/en/docs/http/ngx_http_core_module.html#client_body_timeout",
		Check: checkClientTimeouts,
	},
	{
		ID: "key-auth-without-credentials", Severity: Warning,
		Summary: "key-auth is enabled but the file declares no key",
		Why: "Every request through a key-auth plugin without anonymous needs a key of some consumer. With no " +
			"keyauth_credentials in a DB-less file, every such request gets 401.",
		Fix:   "declare consumers with keyauth_credentials, or set config.anonymous",
		Ref:   refKeyAuth,
		Check: checkKeyAuthWithoutCredentials,
	},
	{
		ID: "plugin-not-implemented", Severity: Info,
		Summary: "A plugin Kong bundles that the gateway under test does not implement is left out",
		Why: "Kong " + kongBundledVersion + " bundles plugins (cors, prometheus, request-transformer, basic-auth, ...) that the " +
			"gateway under test does not implement. Kong accepts them, so lint does too: each plugin entry, and each list of " +
			"such a plugin's entities (basicauth_credentials, acls, ...), is left out of what is loaded, and the rules judge " +
			"the rest. A plugin whose effect a rule looks for (rate-limiting, key-auth) is only counted when the gateway " +
			"implements it. A custom plugin named in the node's plugins setting (plugins = bundled,my-plugin) is left out " +
			"the same way. Any other name (a typo, an Enterprise plugin such as rate-limiting-advanced) is refused, as " +
			"Kong OSS refuses it.",
		Fix:   "the gateway under test ignores it; lint and check judge the rest",
		Ref:   "https://github.com/Kong/kong/blob/3.9.0/kong/constants.lua",
		Check: checkPluginNotImplemented,
	},
}

// RuleByID finds a rule.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

func isOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1", "both", "entity":
		return true
	}
	return false
}

func checkInMemory(in *Input) []Finding {
	if !strings.EqualFold(strings.TrimSpace(in.Settings.Get("database")), "off") {
		return nil
	}
	if in.Settings.Get("declarative_config") != "" || in.Settings.Get("declarative_config_string") != "" {
		return nil
	}
	return []Finding{{
		Entity: "setting database", Path: "database", Location: in.setting("database"),
		Message: "database=off keeps the configuration in memory and no declarative_config is loaded at start: " +
			"a restart comes up with no services and no routes",
	}}
}

func checkAdminExposed(in *Input) []Finding {
	raw := in.Settings.Get("admin_listen")
	at := in.setting("admin_listen")
	ls, err := ParseListen(raw)
	if err != nil {
		return []Finding{{Entity: "setting admin_listen", Path: "admin_listen", Location: at, Severity: Warning,
			Message: fmt.Sprintf("admin_listen %q cannot be read (%v), so whether the Admin API is exposed is unknown", raw, err)}}
	}
	if isOn(in.Settings.Get("enforce_rbac")) {
		return nil // Kong Enterprise's RBAC authenticates every Admin API call
	}
	token := in.Settings.Get("admin_token") != ""
	var open, clear []string
	for _, l := range ls {
		if l.Loopback() {
			continue
		}
		addr := l.Host + ":" + l.Port
		if !token {
			open = append(open, addr)
		} else if !l.SSL() {
			clear = append(clear, addr)
		}
	}
	switch {
	case len(open) > 0:
		return []Finding{{Entity: "setting admin_listen", Path: "admin_listen", Location: at,
			Message: fmt.Sprintf("the Admin API listens on %s, reachable from other machines, and nothing authenticates "+
				"its callers: anyone who reaches it can reconfigure the gateway", strings.Join(open, ", "))}}
	case len(clear) > 0:
		return []Finding{{Entity: "setting admin_listen", Path: "admin_listen", Location: at, Severity: Warning,
			Message: fmt.Sprintf("the Admin API on %s checks a token but serves plain HTTP: the token crosses the network in clear",
				strings.Join(clear, ", ")),
			Fix: "add ssl to the non-loopback admin_listen entries (e.g. 0.0.0.0:8444 ssl) or bind them to 127.0.0.1"}}
	}
	return nil
}

// canEject reports whether a healthchecks tree can mark a target unhealthy.
func canEject(h config.Healthchecks) (active, passive bool) {
	a := h.Active
	au := a.Unhealthy
	active = (a.Healthy.Interval > 0 || au.Interval > 0) && (au.TCPFailures > 0 || au.Timeouts > 0 || au.HTTPFailures > 0)
	pu := h.Passive.Unhealthy
	passive = pu.TCPFailures > 0 || pu.Timeouts > 0 || pu.HTTPFailures > 0
	return active, passive
}

func (in *Input) upstream(u *config.Upstream, key string) (string, string, Location) {
	name := u.Name
	return in.entity("upstream", u.ID, &name, key)
}

func checkNoHealthchecks(in *Input) []Finding {
	var out []Finding
	for _, u := range in.Config.Upstreams {
		active, passive := canEject(u.Healthchecks)
		if active || passive {
			continue
		}
		msg := "health checks are off (no active interval, no passive unhealthy threshold): a dead target keeps " +
			"its share of the traffic"
		if u.Healthchecks.Active.Healthy.Interval > 0 || u.Healthchecks.Active.Unhealthy.Interval > 0 {
			msg = "active checks probe the targets but every unhealthy threshold (tcp_failures, timeouts, http_failures) " +
				"is 0, so no target is ever marked unhealthy: a dead target keeps its share of the traffic"
		}
		e, p, l := in.upstream(u, "healthchecks")
		out = append(out, Finding{Entity: e, Path: p, Location: l, Message: msg})
	}
	return out
}

func (in *Input) service(s *config.Service, key string) (string, string, Location) {
	return in.entity("service", s.ID, s.Name, key)
}

func checkServiceWithoutUpstream(in *Input) []Finding {
	var out []Finding
	for _, s := range in.Config.Services {
		if !s.Enabled || in.Config.UpstreamByName(s.Host) != nil {
			continue
		}
		e, p, l := in.service(s, "host")
		if _, ok := in.pos[s.ID].keys["url"]; ok {
			_, _, l = in.service(s, "url")
		}
		out = append(out, Finding{Entity: e, Path: p, Location: l,
			Message: fmt.Sprintf("host %q is not an upstream: requests go to whatever it resolves to, with no balancing "+
				"across targets and no health checks", s.Host)})
	}
	return out
}

func checkDefaultTimeouts(in *Input) []Finding {
	var out []Finding
	for _, s := range in.Config.Services {
		if !s.Enabled {
			continue
		}
		var at []string
		for _, t := range []struct {
			name string
			v    int
		}{{"connect_timeout", s.ConnectTimeout}, {"read_timeout", s.ReadTimeout}, {"write_timeout", s.WriteTimeout}} {
			if t.v == kongDefaultTimeout {
				at = append(at, t.name)
			}
		}
		if len(at) == 0 {
			continue
		}
		e, p, l := in.service(s, at[0])
		out = append(out, Finding{Entity: e, Path: p, Location: l,
			Message: fmt.Sprintf("%s at Kong's default of 60000 ms: a stalled upstream holds each client for a minute",
				strings.Join(at, ", "))})
	}
	return out
}

// appliesToAll reports whether an enabled plugin of that name limits every
// request to the service: global, on the service, or on each of its routes.
// A plugin scoped to a consumer limits only that consumer and does not count.
func (in *Input) appliesToAll(name string, s *config.Service) bool {
	routes := in.Config.RoutesOf(s.ID)
	onRoute := map[string]bool{}
	for _, pl := range in.Config.Plugins {
		if pl.Name != name || !pl.Enabled || pl.Consumer != nil {
			continue
		}
		switch {
		case pl.Service == nil && pl.Route == nil:
			return true
		case pl.Route == nil && pl.Service.ID == s.ID:
			return true
		case pl.Route != nil && (pl.Service == nil || pl.Service.ID == s.ID):
			onRoute[pl.Route.ID] = true
		}
	}
	if len(routes) == 0 {
		return false
	}
	for _, r := range routes {
		if !onRoute[r.ID] {
			return false
		}
	}
	return true
}

func checkNoRateLimit(in *Input) []Finding {
	var out []Finding
	for _, s := range in.Config.Services {
		if !s.Enabled || len(in.Config.RoutesOf(s.ID)) == 0 || in.appliesToAll("rate-limiting", s) {
			continue
		}
		e, p, l := in.service(s, "")
		out = append(out, Finding{Entity: e, Path: p, Location: l,
			Message: "no rate-limiting plugin applies to this service (none global, none on the service, not on every route): " +
				"nothing bounds the traffic a client can send it"})
	}
	return out
}

func checkNoRecovery(in *Input) []Finding {
	var out []Finding
	for _, u := range in.Config.Upstreams {
		h := u.Healthchecks
		active, passive := canEject(h)
		if !active && !passive {
			continue // upstream-no-healthchecks says it
		}
		if h.Active.Unhealthy.Interval > 0 && h.Active.Healthy.Successes > 0 {
			continue
		}
		if h.HalfOpen != nil && h.HalfOpen.Cooldown > 0 {
			continue // this project's gateway lets a trial request bring the target back
		}
		var msg, key string
		switch {
		case h.Active.Unhealthy.Interval == 0 && h.Active.Healthy.Interval == 0:
			key = "healthchecks.passive"
			msg = "only passive checks are on: they can eject a target but never mark it healthy again, so a target " +
				"that recovers stays out until PUT .../targets/{t}/healthy or a restart"
		case h.Active.Unhealthy.Interval == 0:
			key = "healthchecks.active.unhealthy"
			msg = "active.unhealthy.interval is 0, so unhealthy targets are never probed: an ejected target stays out " +
				"after it recovers"
		default:
			key = "healthchecks.active.healthy"
			msg = "active.healthy.successes is 0, so probes of an unhealthy target never mark it healthy: an ejected " +
				"target stays out after it recovers"
		}
		e, p, l := in.upstream(u, key)
		out = append(out, Finding{Entity: e, Path: p, Location: l, Message: msg})
	}
	return out
}

// servicesOf lists the enabled services whose host is the upstream.
func (in *Input) servicesOf(u *config.Upstream) []*config.Service {
	var out []*config.Service
	for _, s := range in.Config.Services {
		if s.Enabled && in.Config.UpstreamByName(s.Host) == u {
			out = append(out, s)
		}
	}
	return out
}

func checkProbeTimeout(in *Input) []Finding {
	var out []Finding
	for _, u := range in.Config.Upstreams {
		a := u.Healthchecks.Active
		if a.Healthy.Interval == 0 && a.Unhealthy.Interval == 0 {
			continue
		}
		probeMS := a.Timeout * 1000
		for _, s := range in.servicesOf(u) {
			if probeMS <= float64(s.ReadTimeout) {
				continue
			}
			e, p, l := in.upstream(u, "healthchecks.active.timeout")
			out = append(out, Finding{Entity: e, Path: p, Location: l,
				Message: fmt.Sprintf("active probes wait up to %g s but service %s gives up after read_timeout %d ms: a target "+
					"slower than that fails every request and passes every probe", a.Timeout, displayName(s), s.ReadTimeout)})
		}
	}
	return out
}

func displayName(s *config.Service) string {
	if s.Name != nil && *s.Name != "" {
		return fmt.Sprintf("%q", *s.Name)
	}
	return s.ID
}

// liveTargets counts the targets that take traffic (weight 0 disables one).
func (in *Input) liveTargets(u *config.Upstream) []*config.Target {
	var out []*config.Target
	for _, t := range in.Config.TargetsOf(u.ID) {
		if t.Weight > 0 {
			out = append(out, t)
		}
	}
	return out
}

func checkSingleTargetRetries(in *Input) []Finding {
	var out []Finding
	for _, s := range in.Config.Services {
		u := in.Config.UpstreamByName(s.Host)
		if !s.Enabled || u == nil || s.Retries == 0 {
			continue
		}
		ts := in.liveTargets(u)
		if len(ts) != 1 {
			continue
		}
		e, p, l := in.service(s, "retries")
		worst := float64((s.Retries+1)*s.ConnectTimeout) / 1000
		out = append(out, Finding{Entity: e, Path: p, Location: l,
			Message: fmt.Sprintf("retries=%d all go to %s, the only target of upstream %q: when it is down a request waits "+
				"up to %g s ((retries+1) × connect_timeout) for the same failure", s.Retries, ts[0].Target, u.Name, worst)})
	}
	return out
}

func checkRetriesExceedTargets(in *Input) []Finding {
	var out []Finding
	for _, s := range in.Config.Services {
		u := in.Config.UpstreamByName(s.Host)
		if !s.Enabled || u == nil {
			continue
		}
		n := len(in.liveTargets(u))
		if n < 2 || s.Retries+1 <= 2*n {
			continue
		}
		e, p, l := in.service(s, "retries")
		out = append(out, Finding{Entity: e, Path: p, Location: l,
			Message: fmt.Sprintf("retries=%d means %d tries over %d targets: with dead targets a request goes back to "+
				"them a third time, each try waiting up to connect_timeout (%d ms)", s.Retries, s.Retries+1, n, s.ConnectTimeout)})
	}
	return out
}

// nodeCount is how many nodes lint believes serve the configuration, and why.
func (in *Input) nodeCount() (int, string) {
	if in.Settings.Nodes > 1 {
		return in.Settings.Nodes, fmt.Sprintf("--nodes %d", in.Settings.Nodes)
	}
	if strings.EqualFold(in.Settings.Get("role"), "data_plane") {
		return 2, "role=data_plane (hybrid mode: one control plane, several data planes)"
	}
	return 1, ""
}

func checkLocalPolicyMultiNode(in *Input) []Finding {
	n, why := in.nodeCount()
	if n < 2 {
		return nil
	}
	var out []Finding
	for _, pl := range in.Config.Plugins {
		if pl.Name != "rate-limiting" || !pl.Enabled {
			continue
		}
		if policy, _ := pl.Config["policy"].(string); policy != "local" {
			continue
		}
		e, p, l := in.entity("plugin", pl.ID, pl.InstanceName, "config")
		if pl.InstanceName == nil {
			e = "plugin rate-limiting"
		}
		out = append(out, Finding{Entity: e, Path: p, Location: l,
			Message: fmt.Sprintf("policy local counts per node and %s: each node admits the full limit, so clients get "+
				"up to nodes × the configured rate", why)})
	}
	return out
}

func checkKeyAuthWithoutCredentials(in *Input) []Finding {
	if len(in.Config.KeyAuthCredentials) > 0 {
		return nil
	}
	dbless := strings.EqualFold(in.Settings.Get("database"), "off")
	var out []Finding
	for _, pl := range in.Config.Plugins {
		if pl.Name != "key-auth" || !pl.Enabled {
			continue
		}
		if anon, _ := pl.Config["anonymous"].(string); anon != "" {
			continue
		}
		e, p, l := in.entity("plugin", pl.ID, pl.InstanceName, "")
		if pl.InstanceName == nil {
			e = "plugin key-auth"
		}
		f := Finding{Entity: e, Path: p, Location: l,
			Message: "key-auth is enabled and the file declares no keyauth_credentials: with DB-less every request it " +
				"guards gets 401"}
		if !dbless {
			f.Severity = Info
			f.Message = "key-auth is enabled and the file declares no keyauth_credentials: requests it guards get 401 " +
				"until keys are created through the Admin API"
		}
		out = append(out, f)
	}
	return out
}

func checkClientTimeouts(in *Input) []Finding {
	var out []Finding
	for _, key := range []string{"nginx_http_client_header_timeout", "nginx_http_client_body_timeout"} {
		if !isZeroDuration(in.Settings.Get(key)) {
			continue
		}
		out = append(out, Finding{Entity: "setting " + key, Path: key, Location: in.setting(key),
			Message: key + " is 0, which this project's gateway reads as no timeout: a slow client holds a connection " +
				"for as long as it likes"})
	}
	return out
}

// isZeroDuration reports whether an nginx-style duration ("0", "0s", "00ms")
// is zero; anything else, valid or not, is left to the gateway to judge.
func isZeroDuration(v string) bool {
	v = strings.TrimSpace(v)
	digits := strings.TrimRight(v, "mshdwMy")
	if digits == "" || len(v)-len(digits) > 2 {
		return false
	}
	return strings.Trim(digits, "0") == ""
}
