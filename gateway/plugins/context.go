// Package plugins runs Kong-compatible plugins (key-auth, rate-limiting) in the
// access phase of a proxied request, with Kong's scoping and priority order.
//
// Manager.Apply compiles a config snapshot into one chain per route and request
// protocol; Manager.Access walks it. Plugins run by priority (key-auth 1250
// before rate-limiting 910). For each plugin name the most specific enabled
// configuration wins, in Kong's order: route+service+consumer > route+consumer >
// service+consumer > route+service > consumer > route > service > global.
// Consumer-scoped configurations are resolved per plugin at run time, so they
// apply once key-auth has set Context.Consumer. Disabled plugins do not take
// part at all. A plugin whose stored config cannot be built answers 500 rather
// than letting traffic through unchecked.
//
// Response headers: rate-limit headers go to Context.ResponseHeader (sent on
// proxied and gateway-made responses alike); what belongs only to an Exit
// (Retry-After, WWW-Authenticate) is in Exit.Header.
//
// Differences from Kong, on purpose:
//   - rate-limiting counts exactly. A request is admitted only if every
//     configured period has room, and only admitted requests are counted; the
//     check and the increment are one atomic step (a shard mutex for "local",
//     one Lua script per request for "redis"). Kong increments after the
//     fact and over-admits under concurrency (Kong issues #2629, #6724).
//   - policy "cluster" (Kong's database policy) counts like "local": there is no
//     shared database; use "redis" for a limit across nodes. sync_rate is
//     accepted and validated as in Kong, but counting is always synchronous.
//   - RateLimit-Reset for month and year is the time to the calendar boundary,
//     where Kong uses fixed 30- and 365-day lengths.
//   - A Redis that fails a request is skipped for 250 ms (fault_tolerant then
//     decides), so a dead Redis costs no dial per request.
package plugins

import (
	"net/http"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Context is one request as plugins see it in the access phase.
type Context struct {
	// Request is the request as it will be sent upstream: plugins may change its
	// headers and query (hide_credentials, X-Consumer-* headers).
	Request  *http.Request
	ClientIP string
	Route    *config.Route
	Service  *config.Service
	// Consumer and Credential are set by an authentication plugin.
	Consumer   *config.Consumer
	Credential *config.KeyAuthCredential
	// ResponseHeader is added to the client's response, proxied or not
	// (X-RateLimit-*, RateLimit-*).
	ResponseHeader http.Header
}

// Exit is a response the gateway makes itself instead of proxying: the proxy
// writes Kong's JSON body {"message": Message} with Status and Header.
type Exit struct {
	Status  int
	Message string
	Header  http.Header
}

// Runner runs the plugin chain that applies to a request. A nil Exit means
// carry on and proxy.
type Runner interface {
	Access(ctx *Context) *Exit
}
