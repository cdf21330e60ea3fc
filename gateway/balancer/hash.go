package balancer

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

type hashKind uint8

const (
	hashNone hashKind = iota
	hashConsumer
	hashIP
	hashHeader
	hashCookie
	hashPath
	hashQueryArg
	hashURICapture
)

// hashSpec is one hash_on (or hash_fallback) input.
type hashSpec struct {
	kind hashKind
	name string // canonical header name, cookie, query arg or capture name
}

func newHashSpec(on string, header, cookie, query, capture *string) hashSpec {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch on {
	case "consumer":
		return hashSpec{kind: hashConsumer}
	case "ip":
		return hashSpec{kind: hashIP}
	case "header":
		return hashSpec{kind: hashHeader, name: http.CanonicalHeaderKey(deref(header))}
	case "cookie":
		return hashSpec{kind: hashCookie, name: deref(cookie)}
	case "path":
		return hashSpec{kind: hashPath}
	case "query_arg":
		return hashSpec{kind: hashQueryArg, name: deref(query)}
	case "uri_capture":
		return hashSpec{kind: hashURICapture, name: deref(capture)}
	}
	return hashSpec{}
}

// hashValue extracts the value to hash; "" means absent (use the fallback).
func (c *upstreamConf) hashValue(spec hashSpec, req *Request) string {
	if req == nil {
		return ""
	}
	r := req.HTTP
	switch spec.kind {
	case hashConsumer:
		if req.ConsumerID != "" {
			return req.ConsumerID
		}
		return req.CredentialID
	case hashIP:
		return req.ClientIP
	case hashHeader:
		if r == nil {
			return ""
		}
		vs := r.Header[spec.name]
		switch len(vs) {
		case 0:
			return ""
		case 1:
			return vs[0]
		}
		return strings.Join(vs, ",")
	case hashCookie:
		if r != nil {
			if v := cookieValue(r.Header["Cookie"], spec.name); v != "" {
				return v
			}
		}
		if req.SetCookie != nil && req.SetCookie.Name == spec.name {
			return req.SetCookie.Value // a retry: keep the value already handed out
		}
		// Kong generates the cookie on the first request and sets it on the
		// response, so the client sticks from then on
		v := newCookieValue()
		req.SetCookie = &http.Cookie{Name: spec.name, Value: v, Path: c.cookiePath,
			HttpOnly: true, SameSite: http.SameSiteLaxMode}
		return v
	case hashPath:
		if r == nil || r.URL == nil {
			return ""
		}
		return r.URL.Path
	case hashQueryArg:
		if r == nil || r.URL == nil {
			return ""
		}
		return queryValue(r.URL.RawQuery, spec.name)
	case hashURICapture:
		return req.URICaptures[spec.name]
	}
	return ""
}

// cookieValue finds a cookie without parsing the whole header into
// http.Cookie values (which allocates on every pick).
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if ok && k == name {
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

// queryValue returns the query argument's value(s), comma-joined when
// repeated, without building a url.Values map.
func queryValue(raw, name string) string {
	var found []string
	first, n := "", 0
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if strings.ContainsAny(k, "%+") {
			if uk, err := url.QueryUnescape(k); err == nil {
				k = uk
			}
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			if uv, err := url.QueryUnescape(v); err == nil {
				v = uv
			}
		}
		if v == "" {
			v = "true" // a bare flag, as Kong's get_query_arg reports it
		}
		n++
		if n == 1 {
			first = v
			continue
		}
		if n == 2 {
			found = append(found, first)
		}
		found = append(found, v)
	}
	if n > 1 {
		return strings.Join(found, ",")
	}
	return first
}

func newCookieValue() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hashString is FNV-1a with a murmur-style finaliser, so nearby keys spread
// over the ring; no allocation.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// pickHash maps the request's hash value to a slot and walks the ring from
// there to the first available target this request has not tried (Kong walks
// its continuum the same way). Without a value the slot rotates, which makes
// it weighted round-robin over the ring.
func (s *snapshot) pickHash(ctr *atomic.Uint64, req *Request) int32 {
	ring := s.ring
	if len(ring) == 0 || len(s.eligible) == 0 {
		return -1
	}
	v := s.conf.hashValue(s.conf.hashOn, req)
	if v == "" && s.conf.hashOn.kind != hashNone {
		v = s.conf.hashValue(s.conf.fallback, req)
	}
	// hash_on none has nothing to hash: the ring is walked in turn. A
	// configured hash_on whose value (and fallback's) is missing hashes the
	// empty string, as Kong does: every such request lands on one target
	// (spec/02-integration/05-proxy/10-balancer/03-consistent-hashing_spec.lua,
	// "hashing on missing header").
	var h uint64
	if v == "" && s.conf.hashOn.kind == hashNone {
		h = ctr.Add(1)
	} else {
		h = hashString(v)
	}
	return s.scan(ring, int(h%uint64(len(ring))), req)
}

// buildRing assigns each of the upstream's slots to a target by weighted
// rendezvous hashing: slot s goes to the target with the highest
// weight / -ln(hash(target, s)). Each target's share of slots is
// proportional to its weight, and adding or removing a target moves only the
// slots it wins or held (about 1/N of the keys), never keys between the
// others. Targets are identified by address, so ids and order do not matter.
func buildRing(ts []*target, weights []int, slots int) []int32 {
	type cand struct {
		idx  int32
		seed uint64
		w    float64
	}
	var cs []cand
	for i, t := range ts {
		if weights[i] > 0 {
			cs = append(cs, cand{int32(i), hashString(t.key), float64(weights[i])})
		}
	}
	ring := make([]int32, slots)
	if len(cs) == 0 {
		for i := range ring {
			ring[i] = -1
		}
		return ring
	}
	for s := range ring {
		best, bestScore := int32(-1), -1.0
		for _, c := range cs {
			h := mix64(c.seed ^ (uint64(s)+1)*0x9e3779b97f4a7c15)
			u := (float64(h>>11) + 0.5) / (1 << 53) // uniform in (0,1)
			score := c.w / -math.Log(u)
			if score > bestScore {
				best, bestScore = c.idx, score
			}
		}
		ring[s] = best
	}
	return ring
}

// ringSignature identifies what the ring depends on, so Apply rebuilds it only
// when weighted targets, weights or slots changed (and keeps indexes right
// when the target order changed).
func ringSignature(ts []*target, weights []int, slots int) string {
	parts := make([]string, 0, len(ts)+1)
	for i, t := range ts {
		parts = append(parts, strconv.Itoa(i)+"|"+t.key+"|"+strconv.Itoa(weights[i]))
	}
	return strconv.Itoa(slots) + ";" + strings.Join(parts, ";")
}
