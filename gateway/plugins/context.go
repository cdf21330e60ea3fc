// Package plugins runs Kong-compatible plugins (key-auth, rate-limiting) in the
// access phase of a proxied request, with Kong's scoping and priority order.
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
