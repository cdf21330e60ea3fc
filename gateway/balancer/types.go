// Package balancer picks the target for each try of a proxied request: weighted
// round-robin, least-connections, consistent-hashing and latency per Kong's
// upstream entity, skipping targets that health checking (gateway/health) has
// marked unhealthy.
//
// A Manager holds one balancer per upstream and is kept in line with the
// configuration by Apply; targets that survive a change keep their health
// state. Pick and Done are lock-free on the common path and allocate nothing:
// each reads an immutable snapshot that is rebuilt whenever configuration,
// health or DNS answers change.
package balancer

import (
	"errors"
	"net/http"
)

// ErrNoPeer means no healthy target can take the request; the proxy answers 503
// with Kong's message.
var ErrNoPeer = errors.New("failure to get a peer from the ring-balancer")

// Peer is the address chosen for one try.
type Peer struct {
	TargetID string // the target entity's id
	Host     string // the target's host as configured (for the upstream Host header)
	Port     int
	Addr     string // host:port to dial

	// t is the balancer's own record of the target, so Done needs no lookup;
	// counted says Pick added this try to the target's in-flight count.
	t       *target
	counted bool
	start   int64 // pick time (unix nano) for the latency algorithm, else 0
}

// Request is what a pick may depend on (hash_on inputs) and which peers this
// request has already tried, so a retry goes to the next target.
type Request struct {
	HTTP         *http.Request
	ClientIP     string
	ConsumerID   string
	CredentialID string
	Tried        []Peer

	// URICaptures are the matched route's named regex captures, for
	// hash_on=uri_capture; nil when the route had none.
	URICaptures map[string]string
	// SetCookie is set by Pick when hash_on=cookie and the client sent no such
	// cookie: the proxy must add it to the response (Kong's behaviour), so the
	// client sticks to the target from its next request on.
	SetCookie *http.Cookie
}

// Result is the outcome of one try, fed back for least-connections accounting
// and passive health checks. Status is 0 when no response arrived.
type Result struct {
	TCPFailure bool
	Timeout    bool
	Status     int
}

// Picker is one upstream's balancer as the proxy uses it. Every successful Pick
// is followed by exactly one Done for that peer.
type Picker interface {
	Pick(req *Request) (Peer, error)
	Done(p Peer, res Result)
}

// Lookup finds the balancer of the upstream with this name; it returns a nil
// interface when no upstream has that name (then the service host is resolved by DNS).
type Lookup interface {
	Picker(upstreamName string) Picker
}
