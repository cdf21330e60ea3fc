package lint

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// checkShadowedRoutes reports a route only when it provably never matches:
// another route matches every request it matches and outranks it under
// Kong's priority (regex path over prefix path, then regex_priority), or the
// two routes are exact duplicates, so one of them is dead whichever the tie
// break picks. Anything it cannot decide (snis, sources, destinations, regex
// paths that are not a literal prefix) is left alone: no finding.
func checkShadowedRoutes(in *Input) []Finding {
	var routes []*config.Route
	for _, r := range in.Config.Routes {
		if r.Service != nil {
			if s := in.Config.Service(r.Service.ID); s != nil && !s.Enabled {
				continue
			}
		}
		if len(r.SNIs) > 0 || len(r.Sources) > 0 || len(r.Destinations) > 0 {
			continue
		}
		routes = append(routes, r)
	}
	var out []Finding
	for j, b := range routes {
		for i, a := range routes {
			if i == j {
				continue
			}
			verdict := outranks(a, b)
			if verdict == none || (verdict == duplicate && i > j) {
				continue
			}
			e, p, l := in.entity("route", b.ID, b.Name, "paths")
			other, otherPath, _ := in.entity("route", a.ID, a.Name, "")
			msg := fmt.Sprintf("every request it matches also matches %s (%s), which wins under Kong's route priority: "+
				"this route never receives traffic", other, otherPath)
			if verdict == duplicate {
				msg = fmt.Sprintf("it matches exactly the same requests as %s (%s): only one of the two can ever receive traffic",
					other, otherPath)
			}
			out = append(out, Finding{Entity: e, Path: p, Location: l, Message: msg})
			break
		}
	}
	return out
}

type shadow int

const (
	none shadow = iota
	wins
	duplicate
)

// outranks decides whether route a takes every request route b matches.
func outranks(a, b *config.Route) shadow {
	if !subset(b.Protocols, a.Protocols, false) {
		return none
	}
	// Same criteria set on both, or the one with more criteria wins.
	if (len(a.Methods) > 0) != (len(b.Methods) > 0) || (len(a.Hosts) > 0) != (len(b.Hosts) > 0) ||
		(len(a.Headers) > 0) != (len(b.Headers) > 0) || (len(a.Paths) > 0) != (len(b.Paths) > 0) {
		return none
	}
	if !subset(b.Methods, a.Methods, true) || !subset(b.Hosts, a.Hosts, true) || plainHosts(a.Hosts) != plainHosts(b.Hosts) {
		return none
	}
	ah, bh := lowerHeaders(a.Headers), lowerHeaders(b.Headers)
	if len(ah) != len(bh) {
		return none
	}
	for k, bv := range bh {
		av, ok := ah[k]
		if !ok || !subset(bv, av, true) {
			return none
		}
	}
	if sameSet(a.Protocols, b.Protocols, false) && sameSet(a.Methods, b.Methods, true) && sameSet(a.Hosts, b.Hosts, true) &&
		sameHeaders(ah, bh) && sameSet(a.Paths, b.Paths, false) && a.RegexPriority == b.RegexPriority {
		return duplicate
	}
	if len(b.Paths) == 0 {
		return none
	}
	for _, p := range b.Paths {
		beaten := false
		for _, q := range a.Paths {
			if pathOutranks(q, a.RegexPriority, p, b.RegexPriority) {
				beaten = true
				break
			}
		}
		if !beaten {
			return none
		}
	}
	return wins
}

// pathOutranks reports whether path q (of a route with regex_priority qp)
// matches every request path p matches and strictly wins over it.
func pathOutranks(q string, qp int, p string, pp int) bool {
	qre, pre := strings.HasPrefix(q, "~"), strings.HasPrefix(p, "~")
	if !qre {
		return false // a prefix path never beats a regex path, and ties with an equal prefix
	}
	lit, all := matchesAllWithPrefix(q[1:])
	if !all {
		return false
	}
	if !pre {
		return strings.HasPrefix(p, lit) // regex over prefix
	}
	// Regex against regex: only a higher regex_priority decides for sure.
	if qp <= pp {
		return false
	}
	re, err := regexp.Compile(p[1:])
	if err != nil {
		return false
	}
	plit, _ := re.LiteralPrefix()
	return strings.HasPrefix(plit, lit)
}

// matchesAllWithPrefix reports whether a Kong regex path (anchored at the
// start only) matches exactly the paths that begin with lit: a plain literal,
// optionally followed by .* and $.
func matchesAllWithPrefix(expr string) (lit string, ok bool) {
	for _, tail := range []string{".*$", ".*", ""} {
		body, found := strings.CutSuffix(expr, tail)
		if !found || strings.HasSuffix(body, `\`) {
			continue
		}
		re, err := regexp.Compile(body)
		if err != nil {
			continue
		}
		if l, complete := re.LiteralPrefix(); complete {
			return l, true
		}
	}
	return "", false
}

func subset(small, big []string, fold bool) bool {
	if len(big) == 0 {
		return len(small) == 0
	}
	for _, s := range small {
		if !slices.ContainsFunc(big, func(x string) bool { return eq(x, s, fold) }) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string, fold bool) bool { return subset(a, b, fold) && subset(b, a, fold) }

func eq(a, b string, fold bool) bool {
	if fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func plainHosts(hosts []string) bool {
	for _, h := range hosts {
		if strings.Contains(h, "*") {
			return false
		}
	}
	return true
}

func lowerHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}

func sameHeaders(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !sameSet(v, b[k], true) {
			return false
		}
	}
	return true
}
