package conformance

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"
)

// Kong 3.9 spec/02-integration/05-proxy/10-balancer/03-consistent-hashing_spec.lua,
// per localhost mode. Kong also checks its error.log for "trying to get peer
// with value to hash: [...]"; that line is Kong-internal, the rows check the
// routing it leads to (every request on one target). The path, uri_capture
// and query_arg cases read the hash value from a response header a
// post-function fixture sets (x-balancer-hash-value): they are skipped.

const specHash = "spec/02-integration/05-proxy/10-balancer/03-consistent-hashing_spec.lua"

var _ = register("proxy-consistent-hashing", proxyHashingCases)

const skipHashValue = "the balancer's hash value in a response header (post-function fixture x-balancer-hash-value)"

// hashRun adds upstream ch-up (hash settings up) with two targets on host,
// a service and route for ch.test, sends 20 requests with hdr, and checks
// that one target got them all.
func hashRun(t *testing.T, g *GW, host string, up obj, hdr http.Header) {
	s1, s2 := newCountServer(t, host), newCountServer(t, host)
	b := obj{"name": "ch-up", "slots": 10}
	for k, v := range up {
		b[k] = v
	}
	g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: b})
	for _, s := range []*countServer{s1, s2} {
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams/ch-up/targets", Body: obj{"target": s.addr, "weight": 10}})
	}
	g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "ch", "host": "ch-up", "port": 80}})
	g.mustDo(t, Step{Method: "POST", Path: "/services/ch/routes", Body: obj{"hosts": arr{"ch.test"}, "paths": arr{"/"}}})
	oks := hashRequests(t, g, 20, hdr)
	c1, c2 := s1.take(), s2.take()
	if oks != 20 || c1+c2 != 20 || (c1 != 0 && c1 != 20) {
		t.Errorf("%d of 20 ok; targets got %d and %d, want all on one", oks, c1, c2)
	}
}

func hashRequests(t *testing.T, g *GW, n int, hdr http.Header) int {
	c := &http.Client{Timeout: 10 * time.Second}
	oks := 0
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("GET", g.ProxyURL+"/", nil)
		req.Host = "ch.test"
		for k, vv := range hdr {
			req.Header[k] = vv
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			oks++
		}
	}
	return oks
}

func hashCase(line, name string, run func(t *testing.T, g *GW, host string)) []Case {
	var out []Case
	for _, lh := range localhosts {
		host := lh.host
		out = append(out, Case{Spec: specHash + ":" + line, Name: name + " #" + lh.mode, Run: func(t *testing.T, g *GW) { run(t, g, host) }})
	}
	return out
}

func hashSkipped() []Case {
	its := []string{"295:simple case (#path)", "301:only uses the path component", "307:uses the normalized path", "313:as a fallback (#path)",
		"323:simple case (#uri_capture)", "335:missing", "342:missing w/ fallback", "351:as a fallback (#uri_capture)",
		"362:when the arg is present in the request", "369:when the arg is not present in request", "376:when the arg has no value (boolean)",
		"383:when the arg has an empty value", "390:as a fallback (#query)", "399:multiple args are sorted and concatenated",
		"406:multiple args of mixed type are handled", "416:multiple boolean args are converted to strings"}
	for _, arg := range []string{"{}", "\r\n", ".", "-----", "-1", "()", "&", "=", "//", "[]", "$", "@", "++", ";", "'", `"`,
		"*", ",", "#", " ", "%", "???"} {
		its = append(its, fmt.Sprintf("431:(%q)", arg))
	}
	var out []Case
	for _, lh := range localhosts {
		for _, it := range its {
			for _, c := range skipped(specHash, skipHashValue, it) {
				c.Name += " #" + lh.mode
				out = append(out, c)
			}
		}
	}
	return out
}

var proxyHashingCases = rows(
	hashCase("36", "hashing on header", func(t *testing.T, g *GW, host string) {
		hashRun(t, g, host, obj{"hash_on": "header", "hash_on_header": "hashme"}, http.Header{"Hashme": {"just a value"}})
	}),
	hashCase("74", "hashing on multiple headers", func(t *testing.T, g *GW, host string) {
		hashRun(t, g, host, obj{"hash_on": "header", "hash_on_header": "hashme"}, http.Header{"Hashme": {"1st value", "2nd value"}})
	}),
	hashCase("112", "hashing on missing header", func(t *testing.T, g *GW, host string) {
		hashRun(t, g, host, obj{"hash_on": "header", "hash_on_header": "hashme"}, http.Header{"Nothashme": {"just a value"}})
	}),
	hashCase("151", "does not reply with Set-Cookie if cookie is already set", func(t *testing.T, g *GW, host string) {
		s := newCountServer(t, host)
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "ch-up", "slots": 10, "hash_on": "cookie", "hash_on_cookie": "hashme"}})
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams/ch-up/targets", Body: obj{"target": s.addr}})
		g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "ch", "host": "ch-up", "port": 80}})
		g.mustDo(t, Step{Method: "POST", Path: "/services/ch/routes", Body: obj{"hosts": arr{"ch.test"}, "paths": arr{"/"}}})
		g.mustDo(t, Step{To: Proxy, Path: "/", Host: "ch.test", Header: http.Header{"Cookie": {"hashme=some-cookie-value"}},
			Status: 200, Headers: obj{"Set-Cookie": Absent}})
	}),
	hashCase("184", "replies with Set-Cookie if cookie is not set", func(t *testing.T, g *GW, host string) {
		s1, s2 := newCountServer(t, host), newCountServer(t, host)
		g.mustDo(t, Step{Method: "POST", Path: "/upstreams", Body: obj{"name": "ch-up", "slots": 10, "hash_on": "cookie", "hash_on_cookie": "hashme"}})
		for _, s := range []*countServer{s1, s2} {
			g.mustDo(t, Step{Method: "POST", Path: "/upstreams/ch-up/targets", Body: obj{"target": s.addr}})
		}
		g.mustDo(t, Step{Method: "POST", Path: "/services", Body: obj{"name": "ch", "host": "ch-up", "port": 80}})
		g.mustDo(t, Step{Method: "POST", Path: "/services/ch/routes", Body: obj{"hosts": arr{"ch.test"}, "paths": arr{"/"}}})
		r := g.mustDo(t, Step{To: Proxy, Path: "/", Host: "ch.test", Header: http.Header{"Cookie": {"some-other-cooke=some-other-value"}}, Status: 200})
		m := regexp.MustCompile(`hashme=([^;]*);`).FindStringSubmatch(r.Header.Get("Set-Cookie"))
		if m == nil {
			t.Fatalf("Set-Cookie %q carries no hashme cookie", r.Header.Get("Set-Cookie"))
		}
		oks := 1 + hashRequests(t, g, 19, http.Header{"Cookie": {"hashme=" + m[1]}})
		c1, c2 := s1.take(), s2.take()
		if oks != 20 || c1+c2 != 20 || (c1 != 0 && c1 != 20) {
			t.Errorf("%d of 20 ok; targets got %d and %d, want all on one", oks, c1, c2)
		}
	}),
	hashSkipped(),
)
