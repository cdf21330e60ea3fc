package proxy

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// router is an immutable, precompiled view of the routes of one configuration.
// It is built once per Apply and then only read, so matching needs no locks and
// compiles nothing per request.
type router struct {
	entries []*routeEntry // sorted, highest priority first
	// regexes are this router's compiled patterns, handed to the next compile:
	// an Admin API burst re-applies the configuration once per write, and
	// recompiling every regex each time would make N writes cost O(N²).
	regexes map[string]*regexp.Regexp
}

// compileRegex returns the compiled pattern from the previous router when it
// had it. *regexp.Regexp is safe for concurrent use, so sharing is fine.
func (rt *router) compileRegex(prev *router, pattern string) (*regexp.Regexp, error) {
	re, ok := rt.regexes[pattern]
	if !ok && prev != nil {
		re, ok = prev.regexes[pattern]
	}
	if !ok {
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return nil, err
		}
	}
	rt.regexes[pattern] = re
	return re, nil
}

// routeEntry is one (route, path) pair. Kong 3.x splits a route with several
// paths into one matcher per path so that each path gets its own priority
// (a route's long prefix beats another route's short one).
type routeEntry struct {
	route *compiledRoute
	// exactly one of prefix / re is set when the route has paths
	prefix string
	re     *regexp.Regexp
	// captures: the regex has groups, so a match records them (for the
	// balancer's hash_on=uri_capture).
	captures bool
	prio     priority
	order    int // position in the configuration: the tie breaker
}

// priority mirrors the fields Kong's get_priority packs into a 64-bit value
// (kong/router/transform.lua), compared in the same order.
type priority struct {
	weight        int // number of criteria set: methods, hosts, headers, paths, snis
	plainHostOnly bool
	headers       int
	regex         bool
	regexPriority int
	maxLength     int
}

func (a priority) less(b priority) bool {
	switch {
	case a.weight != b.weight:
		return a.weight < b.weight
	case a.plainHostOnly != b.plainHostOnly:
		return !a.plainHostOnly
	case a.headers != b.headers:
		return a.headers < b.headers
	case a.regex != b.regex:
		return !a.regex
	case a.regexPriority != b.regexPriority:
		return a.regexPriority < b.regexPriority
	}
	return a.maxLength < b.maxLength
}

// compiledRoute holds a route's matchers in the form the hot path wants.
type compiledRoute struct {
	cfg       *config.Route
	service   *compiledService // nil when the route has no (enabled) service
	methods   []string
	hosts     []hostMatcher
	headers   []headerMatcher
	snis      []string // lower case; only checked on TLS requests, as Kong does
	httpOK    bool     // protocols include http
	httpsOK   bool     // protocols include https
	stripPath bool
}

type hostKind uint8

const (
	hostExact  hostKind = iota
	hostSuffix          // "*.example.com": value is ".example.com"
	hostPrefix          // "example.*": value is "example."
)

type hostMatcher struct {
	kind  hostKind
	value string // lower case
	port  int    // 0: any port; else the gateway's listening port must equal it
}

func (h hostMatcher) match(host string, serverPort int) bool {
	if h.port != 0 && h.port != serverPort {
		return false
	}
	switch h.kind {
	case hostSuffix:
		return len(host) > len(h.value) && strings.HasSuffix(host, h.value)
	case hostPrefix:
		return len(host) > len(h.value) && strings.HasPrefix(host, h.value)
	}
	return host == h.value
}

type headerMatcher struct {
	name   string // canonical MIME header key
	values []string
	res    []*regexp.Regexp // "~*" values: case-insensitive regexes
}

func (h headerMatcher) match(hdr http.Header) bool {
	for _, got := range hdr[h.name] {
		for _, want := range h.values {
			if strings.EqualFold(got, want) {
				return true
			}
		}
		for _, re := range h.res {
			if re.MatchString(got) {
				return true
			}
		}
	}
	return false
}

// compileRouter builds the router for cfg. Routes whose service is disabled are
// left out (Kong does not route to a disabled service). An invalid regex only
// drops that path, logged by the caller through the returned warnings, so one bad
// route cannot take the whole configuration down.
func compileRouter(cfg *config.Config, services map[string]*compiledService, prev *router) (*router, []error) {
	var warnings []error
	rt := &router{regexes: map[string]*regexp.Regexp{}}
	order := 0
	for _, r := range cfg.Routes {
		if r == nil {
			continue
		}
		cr := &compiledRoute{cfg: r, stripPath: r.StripPath}
		if r.Service != nil {
			svc, ok := services[r.Service.ID]
			if !ok {
				// A disabled or unknown service: the route is not routed.
				continue
			}
			cr.service = svc
		}
		if len(r.Protocols) == 0 {
			cr.httpOK, cr.httpsOK = true, true
		}
		for _, p := range r.Protocols {
			switch p {
			case "http":
				cr.httpOK = true
			case "https":
				cr.httpsOK = true
			}
		}
		if !cr.httpOK && !cr.httpsOK {
			continue // grpc/tcp/tls routes are not served by this listener
		}
		for _, m := range r.Methods {
			cr.methods = append(cr.methods, strings.ToUpper(m))
		}
		plainHostOnly := len(r.Hosts) > 0
		for _, h := range r.Hosts {
			hm, err := compileHost(h)
			if err != nil {
				warnings = append(warnings, fmt.Errorf("route %s: %w", r.ID, err))
				continue
			}
			if hm.kind != hostExact {
				plainHostOnly = false
			}
			cr.hosts = append(cr.hosts, hm)
		}
		names := make([]string, 0, len(r.Headers))
		for name := range r.Headers {
			names = append(names, name)
		}
		sort.Strings(names) // deterministic order for a deterministic snapshot
		for _, name := range names {
			hm := headerMatcher{name: http.CanonicalHeaderKey(name)}
			for _, v := range r.Headers[name] {
				if strings.HasPrefix(v, "~*") {
					re, err := rt.compileRegex(prev, "(?i)"+v[2:])
					if err != nil {
						warnings = append(warnings, fmt.Errorf("route %s: header %s regex %q: %w", r.ID, name, v, err))
						continue
					}
					hm.res = append(hm.res, re)
					continue
				}
				hm.values = append(hm.values, v)
			}
			cr.headers = append(cr.headers, hm)
		}

		for _, sni := range r.SNIs {
			cr.snis = append(cr.snis, strings.TrimSuffix(strings.ToLower(sni), "."))
		}
		base := priority{plainHostOnly: plainHostOnly, headers: len(r.Headers)}
		for _, set := range []bool{len(r.Methods) > 0, len(r.Hosts) > 0, len(r.Headers) > 0, len(r.Paths) > 0, len(r.SNIs) > 0} {
			if set {
				base.weight++
			}
		}
		if len(r.Paths) == 0 {
			rt.entries = append(rt.entries, &routeEntry{route: cr, prio: base, order: order})
			order++
			continue
		}
		for _, p := range r.Paths {
			e := &routeEntry{route: cr, prio: base, order: order}
			order++
			if strings.HasPrefix(p, "~") {
				// Kong anchors a regex path at the start of the path ("^" .. regex).
				re, err := rt.compileRegex(prev, "^"+p[1:])
				if err != nil {
					warnings = append(warnings, fmt.Errorf("route %s: path regex %q: %w", r.ID, p, err))
					continue
				}
				e.re = re
				e.captures = re.NumSubexp() > 0
				e.prio.regex = true
				e.prio.regexPriority = r.RegexPriority
			} else {
				e.prefix = p
				e.prio.maxLength = len(p)
			}
			rt.entries = append(rt.entries, e)
		}
	}
	sort.SliceStable(rt.entries, func(i, j int) bool {
		a, b := rt.entries[i], rt.entries[j]
		if a.prio != b.prio {
			return b.prio.less(a.prio)
		}
		return a.order < b.order
	})
	return rt, warnings
}

func compileHost(h string) (hostMatcher, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	hm := hostMatcher{}
	// A port is split off only when it is numeric; a bare IPv6 literal has
	// several colons and no port.
	if strings.HasPrefix(h, "[") {
		if j := strings.Index(h, "]:"); j >= 0 {
			if port, err := strconv.Atoi(h[j+2:]); err == nil {
				hm.port, h = port, h[:j+1]
			}
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		if port, err := strconv.Atoi(h[i+1:]); err == nil {
			hm.port, h = port, h[:i]
		}
	}
	switch {
	case strings.HasPrefix(h, "*"):
		hm.kind, hm.value = hostSuffix, h[1:]
	case strings.HasSuffix(h, "*"):
		hm.kind, hm.value = hostPrefix, h[:len(h)-1]
	default:
		hm.value = h
	}
	if strings.Contains(hm.value, "*") || hm.value == "" {
		return hm, fmt.Errorf("invalid host %q: one wildcard at the start or end", h)
	}
	return hm, nil
}

// match is the outcome of routing one request.
type match struct {
	entry *routeEntry
	// prefixLen is how many bytes of the (decoded, normalised) path the path
	// matcher consumed: what strip_path removes.
	prefixLen int
	// sub holds the regex's submatch indexes when it has groups.
	sub []int
}

// uriCaptures returns the regex captures by name and by number (Kong's
// uri_captures), or nil when the matched path had none.
func (m match) uriCaptures(path string) map[string]string {
	if m.sub == nil {
		return nil
	}
	names := m.entry.re.SubexpNames()
	out := make(map[string]string, len(names))
	for i := 1; i < len(names) && 2*i+1 < len(m.sub); i++ {
		a, b := m.sub[2*i], m.sub[2*i+1]
		if a < 0 {
			continue // the group did not take part in the match
		}
		out[strconv.Itoa(i)] = path[a:b]
		if names[i] != "" {
			out[names[i]] = path[a:b]
		}
	}
	return out
}

// routeRequest is what the router looks at, extracted once per request.
type routeRequest struct {
	method     string
	host       string // lower case, no port
	serverPort int
	path       string // decoded, normalised
	header     http.Header
	tls        bool
	sni        string // lower case
}

// find returns the highest priority entry that matches, or ok=false.
// Protocols are checked by the caller after matching, like Kong does, so a
// route that only accepts https answers a plain-http request with its
// https_redirect_status_code instead of 404.
func (rt *router) find(req *routeRequest) (m match, ok bool) {
	for _, e := range rt.entries {
		cr := e.route
		if len(cr.methods) > 0 && !containsString(cr.methods, req.method) {
			continue
		}
		if len(cr.hosts) > 0 {
			hit := false
			for i := range cr.hosts {
				if cr.hosts[i].match(req.host, req.serverPort) {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
		}
		if len(cr.snis) > 0 && req.tls && !containsString(cr.snis, req.sni) {
			continue
		}
		if len(cr.headers) > 0 {
			hit := true
			for i := range cr.headers {
				if !cr.headers[i].match(req.header) {
					hit = false
					break
				}
			}
			if !hit {
				continue
			}
		}
		n := 0
		var sub []int
		switch {
		case e.re != nil:
			var loc []int
			if e.captures {
				loc = e.re.FindStringSubmatchIndex(req.path)
				sub = loc
			} else {
				loc = e.re.FindStringIndex(req.path)
			}
			if loc == nil {
				continue
			}
			if loc[0] == 0 {
				n = loc[1]
			}
		case e.prefix != "":
			if !strings.HasPrefix(req.path, e.prefix) {
				continue
			}
			n = len(e.prefix)
		}
		return match{entry: e, prefixLen: n, sub: sub}, true
	}
	return match{}, false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// requestHost returns the Host header's host part, lower-cased, without port.
// It allocates only when the host has upper-case letters.
func requestHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if strings.HasPrefix(h, "[") {
			if j := strings.IndexByte(h, ']'); j >= 0 && j < i {
				h = h[:i]
			}
		} else if strings.IndexByte(h, ':') == i {
			h = h[:i]
		}
	}
	if len(h) > 1 && h[len(h)-1] == '.' {
		h = h[:len(h)-1] // a trailing FQDN dot is not part of the name
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
