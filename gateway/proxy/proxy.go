// Package proxy is the gateway's request path: a precompiled router swapped
// atomically on configuration change, the plugin access phase, the balancer
// pick, a lean HTTP/1.1 upstream transport with per-service timeouts and
// retries, and Kong's response headers and error bodies.
//
// # Timeouts
//
// connect_timeout bounds the dial (and the TLS handshake for https services);
// write_timeout is armed before every write of the request; read_timeout
// before every read of the response, head and body alike. A stalled upstream
// is therefore answered 504 read_timeout after its last byte; once the status
// line went to the client, a stall can only cut the stream (the client sees a
// truncated response, never a complete-looking one).
//
// # Retries
//
// A service gets 1 + retries tries, each on a peer the balancer has not given
// this request yet. A try is retried when it failed to connect (nothing was
// sent, so any method is safe), or failed or timed out while sending or before
// the response head arrived, but then only for idempotent methods (GET, HEAD,
// OPTIONS, PUT, DELETE, TRACE): a POST or PATCH whose bytes reached the
// upstream may have been acted on. A response of any status, 5xx included, is
// final, and so is a malformed one.
//
// A request body of up to 64 KiB is read whole before an upstream is picked
// (Kong's proxy_request_buffering), so a client that sends it slowly holds only
// its own connection, never an upstream one; such a body can be sent again on a
// retry. A larger body streams after its first 64 KiB; once more than that was
// read from the client, a failed try is final (502/504), because the bytes sent
// to the failed upstream cannot be produced again.
//
// Every read of a request body waits at most Options.ClientBodyTimeout (nginx's
// client_body_timeout, 60s): a client that stalls longer gets 408 and its
// connection is closed; an upstream connection that already got part of the
// body is closed too, not retried, and not counted against the target.
//
// A pooled keep-alive connection is checked before use (a non-blocking
// MSG_PEEK read on Linux): one the peer closed, as a killed or restarted target
// does, is discarded and the request goes out on a fresh connection. If a
// connection dies in the short window after that check, an idempotent request
// is sent once more on a fresh connection to the same peer without counting as
// a retry; when the peer is really gone that dial is refused, which does count,
// and the next try goes to the next peer.
//
// Every successful Pick is followed by exactly one Done: a connect error or
// any other connection failure reports TCPFailure, a deadline reports Timeout,
// a response reports its status (plus Timeout or TCPFailure when its body then
// failed). A client that goes away reports nothing against the target.
//
// # Hostile clients
//
// Every wait on a client is bounded, with nginx's defaults, which Kong keeps:
// a request head by the listener's ReadHeaderTimeout (client_header_timeout,
// 60s), each read of a body by Options.ClientBodyTimeout (client_body_timeout,
// 60s: 408), each write of a response by Options.SendTimeout (send_timeout,
// 60s: the client is cut). Heads follow large_client_header_buffers "4 8k": a
// request line over 8 KiB answers 414, a header line over 8 KiB or a head over
// 32 KiB 400 "Request header or cookie too large". TRACE answers 405. The
// path is normalised as Kong's router does (normalizePath) before routing, and
// the upstream gets the normalised path. After a request whose body framing
// net/http may read differently from a front end (Transfer-Encoding, HTTP/1.0
// keep-alive) the connection is closed.
//
// # Kong's headers and error pages
//
// Options.Headers is Kong's `headers` setting (server_tokens, latency_tokens,
// X-Kong-Upstream-Status, X-Kong-Request-Id, off); NoUpstreamRequestID is
// headers_upstream=off; AllowDebugHeader answers a Kong-Debug request with the
// matched route's and service's ids and names. Once a try for the upstream
// began, a failure is a proxied response as in Kong (X-Kong-Upstream-Latency,
// X-Kong-Proxy-Latency, Via). The responses Kong's error handler words (400,
// 405, 408, 414, the 494 "Request header or cookie too large", and the
// 500/502/504 of a failed proxying) take their format from Accept, then the
// request's Content-Type, then ErrorDefaultType (text/plain); the ones
// kong.response.error makes ("no Route matched", plugin exits, the
// balancer's 503) default to JSON. RealIP is Kong's trusted_ips,
// real_ip_header and real_ip_recursive.
//
// # WebSocket
//
// An HTTP/1.1 request with "Connection: upgrade" and "Upgrade: websocket" is
// passed on with Kong's "Connection: keep-alive, Upgrade"; when the upstream
// answers 101 the client connection is hijacked and bytes are copied both ways,
// with the service's read and write timeouts between reads and writes (an idle
// WebSocket is closed after read_timeout, as nginx does).
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/balancer"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// Options wires the proxy to the rest of the gateway.
type Options struct {
	Balancers balancer.Lookup // may return nil: then service.host is resolved by DNS
	Plugins   plugins.Runner  // may be nil: no plugins
	Version   string          // "": config.KongVersion; Via: 1.1 kong/<Version>
	Logger    *slog.Logger
	// Metrics, when set, receives per-service request counters and latency
	// histograms (served on the Admin API's /metrics).
	Metrics prometheus.Registerer
	// ClientBodyTimeout is the longest wait for the next bytes of a request
	// body (nginx's client_body_timeout): then the client gets 408 and its
	// connection is closed. Zero means the default, 60s; negative disables
	// it (unsafe: a stalled client is then held forever).
	ClientBodyTimeout time.Duration
	// Headers is Kong's `headers` setting, the gateway's own response
	// headers; nil means Kong's default (DefaultHeaders).
	Headers *Headers
	// NoUpstreamRequestID is Kong's headers_upstream=off: X-Kong-Request-Id is
	// not sent upstream (a client's own passes unchanged).
	NoUpstreamRequestID bool
	// ErrorDefaultType is Kong's error_default_type: the format of the error
	// handler's bodies when the request has neither Accept nor Content-Type
	// ("" means text/plain; see ParseErrorDefaultType).
	ErrorDefaultType string
	// RealIP is Kong's trusted_ips, real_ip_header and real_ip_recursive;
	// nil trusts no client.
	RealIP *RealIP
	// AllowDebugHeader is Kong's allow_debug_header: a request with a
	// Kong-Debug header gets Kong-Route-Id, Kong-Route-Name, Kong-Service-Id
	// and Kong-Service-Name on its response once a route matched.
	AllowDebugHeader bool
	// SendTimeout is the longest a write of a response to the client may
	// block (nginx's send_timeout, which Kong keeps at 60s): a client that
	// stops reading is cut then, and the upstream connection it held is
	// released. Zero means 60s; negative disables it.
	SendTimeout time.Duration
}

// Proxy is the proxy listener's http.Handler.
type Proxy struct {
	opts        Options
	log         *slog.Logger
	bodyTimeout time.Duration // 0: reads of request bodies are not timed
	sendTimeout time.Duration // 0: writes to the client are not timed
	snap        atomic.Pointer[snapshot]
	applyMu     sync.Mutex
	tr          *transport
	metrics     *metrics        // nil without Options.Metrics
	noSvc       *serviceMetrics // requests that matched no route or service

	via          string // on responses: "1.1 kong/<version>"
	viaIn11      string // on upstream requests, by the client's protocol
	viaIn10      string
	viaIn2       string
	serverHeader []string
	hdr          Headers  // the gateway's own response headers (Kong's `headers`)
	errDefault   bodyType // error_default_type

	stats struct {
		totalRequests atomic.Int64
		active        atomic.Int64
		accepted      atomic.Int64
		reading       atomic.Int64
		writing       atomic.Int64
		waiting       atomic.Int64
	}
	conns sync.Map // net.Conn → *atomic.Int32 (its last http.ConnState)

	states sync.Pool // *reqState
	bufs   sync.Pool // *[]byte, response copy buffers
}

// snapshot is one compiled configuration; never mutated once published.
type snapshot struct {
	router *router
}

// compiledService is a service with everything the hot path needs precomputed.
type compiledService struct {
	cfg        *config.Service
	scheme     string
	host       string
	port       int
	addr       string // host:port, dialled when host is not an upstream
	path       string
	retries    int
	connect    time.Duration
	write      time.Duration
	read       time.Duration
	hostHeader string // the upstream's host_header, when host names one that sets it
	verifyTLS  bool
	tlsConfs   sync.Map        // SNI host → *tlsTarget
	tlsCount   atomic.Int32    // entries in tlsConfs, bounded by maxTLSTargets
	metrics    *serviceMetrics // nil without Options.Metrics
}

type tlsTarget struct {
	conf   *tls.Config
	prefix string // pool key prefix
}

func (s *compiledService) tlsFor(host string) *tlsTarget {
	if v, ok := s.tlsConfs.Load(host); ok {
		return v.(*tlsTarget)
	}
	t := &tlsTarget{
		conf: &tls.Config{
			ServerName: host,
			// Kong does not verify upstream certificates unless tls_verify is set.
			InsecureSkipVerify: !s.verifyTLS,
			NextProtos:         []string{"http/1.1"},
			ClientSessionCache: tls.NewLRUClientSessionCache(64),
		},
		prefix: fmt.Sprintf("tls|%s|%t|", host, s.verifyTLS),
	}
	if s.tlsCount.Load() >= maxTLSTargets {
		// preserve_host puts the client's Host in the SNI: clients must not
		// grow this cache without bound. Past the bound a name gets a
		// configuration of its own each time (no session resumption).
		return t
	}
	v, loaded := s.tlsConfs.LoadOrStore(host, t)
	if !loaded {
		s.tlsCount.Add(1)
	}
	return v.(*tlsTarget)
}

const maxTLSTargets = 1024

// New returns a proxy with an empty configuration (every request gets 404 until
// Apply).
func New(opts Options) *Proxy {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = config.KongVersion
	}
	switch {
	case opts.ClientBodyTimeout == 0:
		opts.ClientBodyTimeout = defaultClientBodyTimeout
	case opts.ClientBodyTimeout < 0:
		opts.ClientBodyTimeout = 0
	}
	switch {
	case opts.SendTimeout == 0:
		opts.SendTimeout = defaultSendTimeout
	case opts.SendTimeout < 0:
		opts.SendTimeout = 0
	}
	p := &Proxy{
		bodyTimeout:  opts.ClientBodyTimeout,
		sendTimeout:  opts.SendTimeout,
		opts:         opts,
		log:          opts.Logger,
		tr:           newTransport(),
		via:          "1.1 kong/" + opts.Version,
		viaIn11:      "1.1 kong/" + opts.Version,
		viaIn10:      "1.0 kong/" + opts.Version,
		viaIn2:       "2 kong/" + opts.Version,
		serverHeader: []string{"kong/" + opts.Version},
		hdr:          DefaultHeaders(),
	}
	if opts.Headers != nil {
		p.hdr = *opts.Headers
	}
	p.errDefault = typeText
	if opts.ErrorDefaultType != "" {
		p.errDefault = mediaBodyType(strings.ToLower(strings.TrimSpace(opts.ErrorDefaultType)))
	}
	if p.metrics = newMetrics(opts.Metrics); p.metrics != nil {
		p.noSvc = p.metrics.forService(noServiceLabel)
	}
	p.states.New = func() any { return new(reqState) }
	p.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	p.snap.Store(&snapshot{router: &router{}})
	return p
}

// Close stops the idle-connection janitor and closes idle upstream connections.
// In-flight requests are not affected.
func (p *Proxy) Close() { p.tr.close() }

// Apply compiles cfg's routes and swaps them in atomically. Requests already
// past routing keep the snapshot they started with; nothing blocks.
func (p *Proxy) Apply(cfg *config.Config) {
	if cfg == nil {
		cfg = &config.Config{}
	}
	hostHeaders := map[string]string{}
	for _, u := range cfg.Upstreams {
		if u != nil && u.HostHeader != nil && *u.HostHeader != "" {
			hostHeaders[u.Name] = *u.HostHeader
		}
	}
	services := make(map[string]*compiledService, len(cfg.Services))
	for _, s := range cfg.Services {
		if s == nil || !s.Enabled {
			continue
		}
		cs, err := compileService(s, hostHeaders)
		if err != nil {
			p.log.Warn("service not routed", "service", s.ID, "err", err)
			continue
		}
		services[s.ID] = cs
	}
	p.applyMu.Lock() // Apply is called by one writer; the lock only orders rare concurrent callers
	defer p.applyMu.Unlock()
	if p.metrics != nil {
		keep := map[string]bool{}
		for _, cs := range services {
			label := serviceLabel(cs.cfg)
			cs.metrics = p.metrics.forService(label)
			keep[label] = true
		}
		p.metrics.forget(keep)
	}
	rt, warnings := compileRouter(cfg, services, p.snap.Load().router)
	for _, w := range warnings {
		p.log.Warn("route path or host skipped", "err", w)
	}
	p.snap.Store(&snapshot{router: rt})
}

func compileService(s *config.Service, hostHeaders map[string]string) (*compiledService, error) {
	cs := &compiledService{
		cfg:        s,
		scheme:     s.Protocol,
		host:       s.Host,
		port:       s.Port,
		path:       "/",
		retries:    s.Retries,
		connect:    time.Duration(s.ConnectTimeout) * time.Millisecond,
		write:      time.Duration(s.WriteTimeout) * time.Millisecond,
		read:       time.Duration(s.ReadTimeout) * time.Millisecond,
		hostHeader: hostHeaders[s.Host],
		verifyTLS:  s.TLSVerify != nil && *s.TLSVerify,
	}
	switch cs.scheme {
	case "", "http":
		cs.scheme = "http"
		if cs.port == 0 {
			cs.port = 80
		}
	case "https":
		if cs.port == 0 {
			cs.port = 443
		}
	default:
		return nil, fmt.Errorf("protocol %q is not proxied by this gateway", s.Protocol)
	}
	if s.Path != nil && *s.Path != "" {
		cs.path = *s.Path
	}
	if cs.retries < 0 {
		cs.retries = 0
	}
	cs.addr = net.JoinHostPort(cs.host, strconv.Itoa(cs.port))
	return cs, nil
}

// reqState is the per-request scratch space, pooled so the hot path allocates
// little. Nothing that the server may read after ServeHTTP returns (header
// values) points into it.
type reqState struct {
	w           http.ResponseWriter
	r           *http.Request
	start       time.Time
	requestID   string
	wroteHeader bool
	status      int              // the status written to the client, for metrics
	svc         *compiledService // the routed service, nil until routed
	// proxied: a try for the upstream began (Kong's ctx.KONG_PROXIED), at
	// upstreamStart; a failure answered after that is a proxied response.
	proxied       bool
	upstreamStart time.Time

	pctx     plugins.Context
	breq     balancer.Request
	triedBuf [4]balancer.Peer
	body     replayBody
	head     upstreamHead
	up       upResponse

	captures map[string]string // the route regex's captures, for hash_on=uri_capture

	// stopAbort disarms the client-abort hook of the current connection.
	stopAbort func() bool

	// cleanup on panic: an outstanding pick and connection
	picker balancer.Picker
	peer   balancer.Peer
	picked bool
	conn   *upConn
}

// disarm stops the client-abort hook. It reports false when the hook already
// fired, so the connection's deadlines are spoilt and it must not be reused.
func (rs *reqState) disarm() bool {
	if rs.stopAbort == nil {
		return true
	}
	ok := rs.stopAbort()
	rs.stopAbort = nil
	return ok
}

// release reports the outcome of the outstanding pick, if any, to the
// balancer, exactly once: it frees the peer's in-flight slot and feeds passive
// health checks.
func (rs *reqState) release(res balancer.Result) {
	if rs.picked {
		rs.picked = false
		rs.picker.Done(rs.peer, res)
	}
}

// addPluginHeaders adds what plugins and the balancer want on the client's
// response, proxied or not: plugin headers and a hash_on=cookie cookie.
func (rs *reqState) addPluginHeaders(h http.Header) {
	for k, vv := range rs.pctx.ResponseHeader {
		h[k] = vv
	}
	if c := rs.breq.SetCookie; c != nil {
		if v := c.String(); v != "" {
			h["Set-Cookie"] = append(h["Set-Cookie"], v)
		}
	}
}

func (p *Proxy) getState(w http.ResponseWriter, r *http.Request, start time.Time) *reqState {
	rs := p.states.Get().(*reqState)
	rs.w, rs.r, rs.start = w, r, start
	return rs
}

func (p *Proxy) putState(rs *reqState) {
	rh := rs.pctx.ResponseHeader
	if rh != nil {
		clear(rh)
	}
	// Keep the scratch buffers; everything else starts from zero.
	rec, head, fields := rs.body.rec[:0], rs.up.head[:0], rs.up.fields[:0]
	clear(rs.up.fields)
	*rs = reqState{}
	rs.pctx.ResponseHeader = rh
	rs.body.rec, rs.up.head, rs.up.fields = rec, head, fields
	p.states.Put(rs)
}

// ServeHTTP proxies one request. It never lets a panic escape as a crash: a
// panic before the response started becomes Kong's 500, after it aborts the
// stream.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	p.stats.totalRequests.Add(1)
	rs := p.getState(w, r, start)
	defer p.putState(rs)
	defer p.observe(rs)
	defer p.recoverPanic(rs)
	rs.requestID = newRequestID()
	p.serve(rs)
}

// observe counts the finished request in its service's metrics; it runs after
// recoverPanic so a request that panicked is counted with its 500.
func (p *Proxy) observe(rs *reqState) {
	if p.metrics == nil {
		return
	}
	sm := p.noSvc
	if rs.svc != nil && rs.svc.metrics != nil {
		sm = rs.svc.metrics
	}
	sm.observe(rs.status, time.Since(rs.start))
}

func (p *Proxy) recoverPanic(rs *reqState) {
	rec := recover()
	if rec == nil {
		return
	}
	rs.disarm()
	if rs.conn != nil {
		rs.conn.close()
		rs.conn = nil
	}
	rs.release(balancer.Result{})
	if rec == http.ErrAbortHandler {
		panic(rec)
	}
	p.log.Error("panic in request path", "request_id", rs.requestID, "method", rs.r.Method,
		"path", rs.r.URL.Path, "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
	if rs.wroteHeader {
		panic(http.ErrAbortHandler) // the status is out: only aborting the stream is left
	}
	p.writeHandlerError(rs, http.StatusInternalServerError, "", nil)
}

func localPort(r *http.Request, tlsOn bool) int {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return a.Port
	}
	if tlsOn {
		return 443
	}
	return 80
}

func (p *Proxy) serve(rs *reqState) {
	r := rs.r
	if mayHideFraming(r) {
		rs.w.Header()["Connection"] = connClose
	}
	if r.ProtoMajor == 1 && p.sendTimeout > 0 && len(r.Header["Expect"]) > 0 {
		// net/http writes "100 Continue" when the body is first read, on a
		// connection whose write deadline is the previous response's.
		if wd, ok := rs.w.(writeDeadliner); ok {
			p.armSend(wd)
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	serverPort := localPort(r, r.TLS != nil)
	// nginx's own refusals come before any Kong logic; those that close the
	// connection in nginx (400, 414) close it here too.
	if status, msg := headTooLarge(r); status != 0 {
		p.writeHandlerError(rs, status, msg, closeHeader(r))
		return
	}
	rawPath := r.URL.EscapedPath() // the client's own encoding: net/http keeps it in RawPath
	path, ok := normalizePath(rawPath)
	if !ok {
		// A NUL or a broken escape in the path: nginx refuses it (400).
		p.writeHandlerError(rs, http.StatusBadRequest, "", closeHeader(r))
		return
	}
	if r.Method == http.MethodTrace {
		// nginx refuses TRACE itself (it would echo credentials and cookies
		// back: cross-site tracing), and Kong's error handler words it.
		p.writeHandlerError(rs, http.StatusMethodNotAllowed, "", nil)
		return
	}
	host := requestHost(r.Host)
	rr := routeRequest{method: r.Method, host: host, serverPort: serverPort, path: path, header: r.Header}
	if r.TLS != nil {
		rr.tls, rr.sni = true, strings.ToLower(r.TLS.ServerName)
	}
	m, ok := p.snap.Load().router.find(&rr)
	if !ok {
		p.writeGenerated(rs, http.StatusNotFound, msgNoRoute, nil)
		return
	}
	cr := m.entry.route
	if p.opts.AllowDebugHeader && len(r.Header["Kong-Debug"]) > 0 {
		addDebugHeaders(rs.w.Header(), cr)
	}
	connIP := clientIP(r.RemoteAddr)
	realIP, trusted := connIP, false
	if ri := p.opts.RealIP; ri != nil && len(ri.Trusted) > 0 && ri.trusts(connIP) {
		realIP, trusted = ri.clientAddr(r.Header, connIP), true
	}
	fwdProto := scheme
	if trusted {
		if v, ok := firstHeader(r.Header, "X-Forwarded-Proto"); ok {
			fwdProto = v
		}
	}
	if fwdProto != "https" && !cr.httpOK {
		// An https-only route: Kong checks the forwarded protocol, so a
		// trusted TLS-terminating proxy's X-Forwarded-Proto: https passes.
		p.redirectHTTPS(rs, cr, host)
		return
	}
	svc := cr.service
	rs.svc = svc

	if path != r.URL.Path {
		// Plugins and the balancer read the path from the request: they get
		// the normalised one, as Kong's kong.request.get_path() returns it,
		// so a path-scoped rate limit or hash cannot be dodged with
		// "/a/./b" or "/%61/b". A shallow copy, made only for such paths:
		// the server's own request is left as it came.
		r = withPath(r, path)
		rs.r = r
	}
	rs.pctx.Request = r
	rs.pctx.ClientIP = realIP
	rs.pctx.Route = cr.cfg
	if svc != nil {
		rs.pctx.Service = svc.cfg
	}
	if p.opts.Plugins != nil {
		if rs.pctx.ResponseHeader == nil {
			rs.pctx.ResponseHeader = make(http.Header)
		}
		if exit := p.opts.Plugins.Access(&rs.pctx); exit != nil {
			if exit.Status < 100 || exit.Status > 999 {
				p.log.Error("plugin exit with an invalid status", "request_id", rs.requestID, "status", exit.Status)
				p.writeHandlerError(rs, http.StatusInternalServerError, "", nil)
				return
			}
			p.writeGenerated(rs, exit.Status, exitMessage(exit.Status, exit.Message), exit.Header)
			return
		}
	}
	if svc == nil {
		p.writeGenerated(rs, http.StatusServiceUnavailable, msgNoService, nil)
		return
	}

	// Upstream path (Kong's path_handling v0), built from the normalised path
	// the route matched, so what the upstream resolves is what was routed
	// and authorised. A route without paths strips "/" when strip_path is on,
	// which Kong's join turns into the same result.
	prefix := ""
	if cr.stripPath {
		if m.prefixLen > 0 {
			prefix = path[:m.prefixLen]
		} else {
			prefix = path[:1]
		}
	}
	h := &rs.head
	h.method = r.Method
	h.path = escapePath(upstreamPath(svc.path, cr.stripPath, path, prefix))
	h.query = r.URL.RawQuery
	h.forceQuery = r.URL.ForceQuery
	h.header = r.Header
	h.xff = joinXFF(r.Header)
	h.clientIP, h.connIP = realIP, connIP
	h.proto = fwdProto
	h.fwdHost = host
	h.serverPort = serverPort
	h.fwdPath = rawPath // as the client sent it, before normalisation (Kong's too)
	h.fwdPort, h.fwdPrefix = "", ""
	h.requestID = rs.requestID
	if p.opts.NoUpstreamRequestID {
		h.requestID = "" // writeHead then passes a client's own X-Kong-Request-Id
	}
	// Kong: the prefix the route stripped, unless that was just "/".
	if cr.stripPath && m.prefixLen > 0 && prefix != "/" {
		h.fwdPrefix = escapePath(prefix) // decoded bytes (CR, LF) never reach a header raw
	}
	if trusted {
		// A trusted client's forwarding headers are passed on as it sent them.
		if v, ok := firstHeader(r.Header, "X-Forwarded-Host"); ok {
			h.fwdHost = v
		}
		if v, ok := firstHeader(r.Header, "X-Forwarded-Port"); ok {
			h.fwdPort = v
		}
		if v, ok := firstHeader(r.Header, "X-Forwarded-Path"); ok {
			h.fwdPath = v
		}
		if v, ok := firstHeader(r.Header, "X-Forwarded-Prefix"); ok {
			h.fwdPrefix = v
		}
	}
	h.via = p.inboundVia(r)
	h.teTrailers = acceptsTrailers(r.Header)
	h.websocket = wantsWebSocket(r)
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	switch {
	case !hasBody:
		h.bodyLength = 0
	case r.ContentLength > 0:
		h.bodyLength = r.ContentLength
	default:
		h.bodyLength = -1
	}
	idem := idempotent(r.Method)
	if hasBody {
		var rd readDeadliner
		if p.bodyTimeout > 0 {
			var ok bool
			if rd, ok = rs.w.(readDeadliner); !ok {
				rd = http.NewResponseController(rs.w)
			}
		}
		rs.body.reset(r.Body, idem, rd, p.bodyTimeout)
		if r.ContentLength <= replayLimit { // unknown (-1, chunked) included: it may end within the limit
			complete, err := rs.body.buffer()
			if err != nil {
				p.clientBodyFailed(rs, err)
				return
			}
			if complete {
				// The whole body is here: send it with a Content-Length, as
				// nginx does with a buffered body.
				h.bodyLength = int64(len(rs.body.rec))
			}
		}
	}
	rs.captures = m.uriCaptures(path)
	p.proxy(rs, cr, svc, idem)
}

var connClose = []string{"close"}   // read only: shared by every response that closes
var teChunked = []string{"chunked"} // read only: shared

// mayHideFraming reports an HTTP/1.x request after which the connection must
// close, because net/http may have framed its body differently from a front
// end that sent it, and the bytes that follow could then be a smuggled request:
//
//   - a request with Transfer-Encoding: net/http reads the chunked body and
//     deletes a Content-Length sent with it before the handler runs, so
//     Content-Length + Transfer-Encoding (which nginx refuses with 400) cannot
//     be told from plain chunked here. RFC 9112 section 6.1 requires closing
//     after such a request; closing after every chunked request is the
//     conservative reading (a client that chunks loses keep-alive, nothing
//     more);
//   - an HTTP/1.0 request that asks for keep-alive: net/http ignores (and
//     deletes) Transfer-Encoding on HTTP/1.0, so a chunked body would be read
//     as the next request. Which 1.0 request carried one cannot be seen, so
//     none is kept alive.
//
// The proxy's own connection loop (HTTP1Server) sees the raw head and
// answers 400 to Content-Length + Transfer-Encoding before this runs; the
// close stays, because net/http's listeners (TLS, --proxy-http1 net/http)
// cannot tell.
func mayHideFraming(r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false // HTTP/2 frames bodies itself
	}
	if len(r.TransferEncoding) > 0 {
		return true
	}
	if r.ProtoMinor == 0 {
		for _, v := range r.Header["Connection"] {
			if headerHasToken(v, "keep-alive") {
				return true
			}
		}
	}
	return false
}

// clientBodyFailed answers a request whose body could not be read: 408 when
// the client stalled longer than the body timeout, else 400 (a short or
// malformed body; nginx answers a client that closes mid-body with 400 too).
// Either way the connection is closed: the rest of the body, if any comes,
// cannot be told from a next request.
func (p *Proxy) clientBodyFailed(rs *reqState, err error) {
	status, msg := http.StatusBadRequest, msgBadRequest
	if rs.body.timedOut {
		status, msg = http.StatusRequestTimeout, msgRequestTimeout
	}
	p.log.Debug("client request body failed", "request_id", rs.requestID, "status", status, "err", err)
	p.writeHandlerError(rs, status, msg, closeHeader(rs.r))
}

// withPath returns a shallow copy of r whose URL.Path is path (Kong's
// normalised form: reserved characters stay percent-encoded in it).
func withPath(r *http.Request, path string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	return r2
}

// redirectHTTPS answers a plain-http request for an https-only route with the
// route's https_redirect_status_code, as Kong does.
func (p *Proxy) redirectHTTPS(rs *reqState, cr *compiledRoute, host string) {
	code := cr.cfg.HTTPSRedirectStatusCode
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		loc := "https://" + host + rs.r.URL.RequestURI()
		p.writeGenerated(rs, code, "", http.Header{"Location": {loc}})
	default:
		var h http.Header
		if rs.r.ProtoMajor == 1 { // connection-specific headers are illegal in HTTP/2 (h2c here)
			h = http.Header{"Connection": {"Upgrade"}, "Upgrade": {"TLS/1.2, HTTP/1.1"}}
		}
		p.writeGenerated(rs, http.StatusUpgradeRequired, msgUseHTTPS, h)
	}
}

// addDebugHeaders sets Kong's allow_debug_header response headers for the
// matched route and its service (names only when they have one).
func addDebugHeaders(h http.Header, cr *compiledRoute) {
	h["Kong-Route-Id"] = []string{cr.cfg.ID}
	if cr.cfg.Name != nil && *cr.cfg.Name != "" {
		h["Kong-Route-Name"] = []string{*cr.cfg.Name}
	}
	if cr.service != nil {
		s := cr.service.cfg
		h["Kong-Service-Id"] = []string{s.ID}
		if s.Name != nil && *s.Name != "" {
			h["Kong-Service-Name"] = []string{*s.Name}
		}
	}
}

// inboundVia is the Via header sent upstream: the client's, then
// "<client protocol version> kong/<version>" as Kong 3.x adds it.
func (p *Proxy) inboundVia(r *http.Request) string {
	v := p.viaIn11
	switch {
	case r.ProtoMajor == 2:
		v = p.viaIn2
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		v = p.viaIn10
	}
	if prev := r.Header["Via"]; len(prev) > 0 {
		return strings.Join(prev, ", ") + ", " + v
	}
	return v
}

// wantsWebSocket reports an HTTP/1.1 WebSocket handshake, the one upgrade
// Kong proxies. (HTTP/2 has no Upgrade; h2c upgrades are the server's.)
func wantsWebSocket(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		return false
	}
	up := r.Header["Upgrade"]
	if len(up) != 1 || !asciiEqualFold(trimOWS(up[0]), "websocket") {
		return false
	}
	for _, v := range r.Header["Connection"] {
		if headerHasToken(v, "upgrade") {
			return true
		}
	}
	return false
}

func acceptsTrailers(h http.Header) bool {
	for _, v := range h["Te"] {
		if headerHasToken(v, "trailers") {
			return true
		}
	}
	return false
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// failKind classifies a failed try for the retry rules, the passive health
// report and the client's status.
type failKind int

const (
	failNone       failKind = iota
	failConnect             // no connection: nothing sent, always safe to retry
	failDNS                 // the service host does not resolve: Kong's 503, no retry
	failSend                // error while sending the request
	failRecv                // connection error before any response byte
	failTimeout             // write or read deadline expired (or connect, see timeout flag)
	failBadReply            // a malformed response: not retried (nginx's invalid_header)
	failClientBody          // reading the client's body failed: not the upstream's fault
	failClientGone          // the client went away while we waited for the upstream
)

type failure struct {
	kind    failKind
	timeout bool // a connect that timed out, or failTimeout
	sent    bool // request bytes reached the connection
	err     error
}

func (f failure) result() balancer.Result {
	switch {
	case f.kind == failClientBody, f.kind == failClientGone:
		return balancer.Result{}
	case f.timeout:
		return balancer.Result{Timeout: true}
	}
	return balancer.Result{TCPFailure: true}
}

func (f failure) retryable(idem bool) bool {
	switch f.kind {
	case failConnect:
		return true
	case failSend, failRecv, failTimeout:
		// Only idempotent requests may be sent twice: a POST whose bytes
		// reached the upstream may have been acted on.
		return idem || !f.sent
	}
	return false
}

// proxy runs the tries: pick a peer, send, and retry on connection errors and
// timeouts within service.retries, each on the next peer.
func (p *Proxy) proxy(rs *reqState, cr *compiledRoute, svc *compiledService, idem bool) {
	var picker balancer.Picker
	if p.opts.Balancers != nil {
		picker = p.opts.Balancers.Picker(svc.host)
	}
	h := &rs.head
	rs.breq = balancer.Request{HTTP: rs.r, ClientIP: rs.pctx.ClientIP, Tried: rs.triedBuf[:0], URICaptures: rs.captures}
	if rs.pctx.Consumer != nil {
		rs.breq.ConsumerID = rs.pctx.Consumer.ID
	}
	if rs.pctx.Credential != nil {
		rs.breq.CredentialID = rs.pctx.Credential.ID
	}
	var last failure
	tries := 1 + svc.retries
	var upstreamStart time.Time
	for try := 0; try < tries; try++ {
		if try > 0 && !rs.body.rewind() {
			break // part of a streamed body is gone: it cannot be sent again
		}
		var peer balancer.Peer
		if picker != nil {
			var err error
			peer, err = picker.Pick(&rs.breq)
			if err != nil {
				if try == 0 {
					if !errors.Is(err, balancer.ErrNoPeer) {
						p.log.Warn("balancer pick failed", "upstream", svc.host, "err", err)
					}
					p.writeGenerated(rs, http.StatusServiceUnavailable, msgNoPeer, nil)
					return
				}
				break // no further peer: answer with the last failure
			}
			rs.picker, rs.peer, rs.picked = picker, peer, true
			rs.breq.Tried = append(rs.breq.Tried, peer)
		} else {
			peer = balancer.Peer{Host: svc.host, Port: svc.port, Addr: svc.addr}
		}

		dt := dialTarget{key: peer.Addr, addr: peer.Addr, connectTimeout: svc.connect}
		if svc.scheme == "https" {
			sni := peer.Host
			if cr.cfg.PreserveHost {
				// Kong's SNI follows the upstream Host: the client's with
				// preserve_host (06-ssl_spec.lua:531).
				if ph := requestHost(rs.r.Host); ph != "" {
					sni = ph
				}
			}
			tt := svc.tlsFor(sni)
			dt.tls, dt.key = tt.conf, tt.prefix+peer.Addr
		}
		switch {
		case cr.cfg.PreserveHost && rs.r.Host != "":
			h.host, h.hostPort = rs.r.Host, 0
		case svc.hostHeader != "":
			h.host, h.hostPort = svc.hostHeader, 0
		default:
			h.host, h.hostPort = peer.Host, 0
			if !(svc.scheme == "http" && peer.Port == 80 || svc.scheme == "https" && peer.Port == 443) {
				h.hostPort = peer.Port
			}
		}
		if try == 0 {
			upstreamStart = time.Now()
			// From here Kong counts the request as proxied (KONG_PROXIED),
			// even if no try succeeds: its 502/504 carry the upstream and
			// proxy latencies and Via, not X-Kong-Response-Latency.
			rs.proxied, rs.upstreamStart = true, upstreamStart
		}
		c, f := p.try(rs, &dt, svc, idem)
		if f.kind == failNone {
			if rs.up.status == http.StatusSwitchingProtocols {
				p.tunnel(rs, c, upstreamStart)
				return
			}
			p.respond(rs, c, upstreamStart)
			return
		}
		rs.release(f.result())
		last = f
		p.log.Debug("upstream try failed", "request_id", rs.requestID, "peer", peer.Addr,
			"try", try+1, "of", tries, "err", f.err)
		if !f.retryable(idem) {
			break
		}
	}
	if last.kind != failClientGone {
		p.log.Warn("upstream failed", "request_id", rs.requestID, "service", svc.cfg.ID,
			"host", svc.host, "method", rs.r.Method, "err", last.err)
	}
	switch {
	case last.kind == failClientBody:
		p.clientBodyFailed(rs, last.err)
	case last.kind == failDNS:
		p.writeGenerated(rs, http.StatusServiceUnavailable, msgDNS, nil)
	case last.kind == failClientGone:
		// Nobody is listening; nginx logs this as 499.
		p.writeGenerated(rs, 499, "", nil)
	case last.timeout:
		p.writeHandlerError(rs, http.StatusGatewayTimeout, "", nil)
	default:
		p.writeHandlerError(rs, http.StatusBadGateway, "", nil)
	}
}

// try sends the request to one peer and reads the response head. A dead
// keep-alive connection (closed by the peer, noticed only now) gets one more
// chance on a fresh connection to the same peer, not counted as a retry: if
// the peer is really gone, that dial fails and counts. A timeout is not a
// dead connection but a slow peer: it fails the try at once, so the retry
// goes to the next peer after one read_timeout, not two (as nginx does).
func (p *Proxy) try(rs *reqState, dt *dialTarget, svc *compiledService, idem bool) (*upConn, failure) {
	ctx := rs.r.Context()
	for attempt := 0; ; attempt++ {
		c, err := p.tr.get(ctx, dt)
		if err != nil {
			if ctx.Err() != nil {
				// The client left while we dialled: not the target's fault.
				return nil, failure{kind: failClientGone, err: err}
			}
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && !dnsErr.IsTimeout {
				return nil, failure{kind: failDNS, err: err}
			}
			return nil, failure{kind: failConnect, timeout: isTimeout(err), err: err}
		}
		rs.conn = c
		c.readTimeout, c.writeTimeout = svc.read, svc.write
		c.written, c.read = 0, 0
		// A client that goes away must not hold an upstream connection until
		// read_timeout: its context's cancellation expires the deadlines.
		rs.stopAbort = context.AfterFunc(ctx, c.abortFn)
		stale := c.reused && attempt == 0
		err, clientErr := p.send(rs, c)
		if clientErr != nil {
			p.dropConn(rs, c)
			return nil, failure{kind: failClientBody, err: clientErr}
		}
		if err != nil {
			if ctx.Err() == nil && !isTimeout(err) && c.written > 0 && !stale {
				// The upstream may have answered early and closed while the
				// body was still coming (a 413, a 401): pass that answer on,
				// as nginx does, instead of a 502.
				if rerr := readUpstreamResponse(c.br, rs.r.Method, false, &rs.up); rerr == nil {
					rs.up.close = true
					return c, failure{}
				}
			}
			p.dropConn(rs, c)
			if ctx.Err() != nil {
				return nil, failure{kind: failClientGone, err: err}
			}
			if stale && !isTimeout(err) && (c.written == 0 || idem) && rs.body.rewind() {
				continue
			}
			if isTimeout(err) {
				return nil, failure{kind: failTimeout, timeout: true, sent: c.written > 0, err: err}
			}
			return nil, failure{kind: failSend, sent: c.written > 0, err: err}
		}
		err = readUpstreamResponse(c.br, rs.r.Method, rs.head.websocket, &rs.up)
		if err != nil {
			p.dropConn(rs, c)
			if ctx.Err() != nil {
				return nil, failure{kind: failClientGone, err: err}
			}
			if stale && !isTimeout(err) && c.read == 0 && idem && rs.body.rewind() {
				continue
			}
			switch {
			case isTimeout(err):
				return nil, failure{kind: failTimeout, timeout: true, sent: true, err: err}
			case errors.Is(err, errMalformed), errors.Is(err, errHeadTooLarge), errors.Is(err, errUpgrade):
				return nil, failure{kind: failBadReply, sent: true, err: err}
			}
			return nil, failure{kind: failRecv, sent: true, err: err}
		}
		return c, failure{}
	}
}

func (p *Proxy) dropConn(rs *reqState, c *upConn) {
	rs.disarm()
	c.close()
	if rs.conn == c {
		rs.conn = nil
	}
}

var errUpgrade = errors.New("upstream switched protocols although the request asked for no upgrade")

// send writes the request head and streams the body. clientErr is set when
// reading the client's body failed (the client went away or sent a short body).
func (p *Proxy) send(rs *reqState, c *upConn) (err, clientErr error) {
	h := &rs.head
	writeHead(c.bw, h)
	if h.bodyLength != 0 {
		if err, clientErr = p.sendBody(rs, c); err != nil || clientErr != nil {
			return err, clientErr
		}
	}
	return c.bw.Flush(), nil
}

func (p *Proxy) sendBody(rs *reqState, c *upConn) (err, clientErr error) {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := *bp
	chunked := rs.head.bodyLength < 0
	var total int64
	for {
		n, rerr := rs.body.Read(buf)
		if n > 0 {
			total += int64(n)
			if chunked {
				c.bw.Write(strconv.AppendInt(rs.head.num[:0], int64(n), 16))
				c.bw.WriteString("\r\n")
			}
			if _, err := c.bw.Write(buf[:n]); err != nil {
				return err, nil
			}
			if chunked {
				c.bw.WriteString("\r\n")
			}
			// Flush as the client's bytes come in, so a slow upload streams;
			// the last piece is flushed with the end of the request.
			if rerr == nil && (chunked || total < rs.head.bodyLength) {
				if err := c.bw.Flush(); err != nil {
					return err, nil
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("read client body: %w", rerr)
		}
		if !chunked && total >= rs.head.bodyLength {
			break
		}
	}
	if !chunked && total != rs.head.bodyLength {
		return nil, fmt.Errorf("read client body: %d of %d bytes: %w", total, rs.head.bodyLength, io.ErrUnexpectedEOF)
	}
	rs.body.disarm()
	if chunked {
		c.bw.WriteString("0\r\n\r\n")
	}
	return nil, nil // a write error is sticky in bufio: the final Flush reports it
}

// setResponseHeader fills dst with the client's header for the upstream's
// response: the upstream's fields less the hop-by-hop ones, the plugins'
// headers, and Kong's own (latencies, Via, request id, Server, upstream
// status) as the `headers` setting enables them. respond and tunnel both
// write their head from it, so a 101 carries what any proxied response does.
func (p *Proxy) setResponseHeader(rs *reqState, dst http.Header, upstreamStart, now time.Time) {
	u := &rs.up
	// One allocation backs every header value slice (four more for the
	// gateway's own); it is never pooled memory, because the server may
	// serialise the header map after ServeHTTP returns.
	vals := make([]string, len(u.fields)+4)
	var conn string
	for _, f := range u.fields {
		if f.key == "Connection" {
			conn = f.value
		}
	}
	var via []string
	for i, f := range u.fields {
		if rs.dropsResponseField(f.key, conn) {
			continue
		}
		if f.key == "Via" {
			via = append(via, f.value)
			continue
		}
		if prev, ok := dst[f.key]; ok {
			if f.key != "Content-Length" { // repeats were checked equal by the parser
				dst[f.key] = append(prev, f.value) // a repeated field (Set-Cookie)
			}
			continue
		}
		vals[i] = f.value
		dst[f.key] = vals[i : i+1 : i+1]
	}
	rs.addPluginHeaders(dst)
	n := len(u.fields)
	hd := &p.hdr
	if hd.UpstreamLatency {
		vals[n] = strconv.FormatInt(now.Sub(upstreamStart).Milliseconds(), 10)
		dst["X-Kong-Upstream-Latency"] = vals[n : n+1 : n+1]
	}
	if hd.ProxyLatency {
		vals[n+1] = strconv.FormatInt(upstreamStart.Sub(rs.start).Milliseconds(), 10)
		dst["X-Kong-Proxy-Latency"] = vals[n+1 : n+2 : n+2]
	}
	switch {
	case hd.Via:
		vals[n+2] = p.via
		if len(via) > 0 {
			vals[n+2] = strings.Join(via, ", ") + ", " + p.via
		}
		dst["Via"] = vals[n+2 : n+3 : n+3]
	case len(via) > 0:
		dst["Via"] = via // the upstream's, unchanged
	}
	if hd.RequestID {
		vals[n+3] = rs.requestID
		dst["X-Kong-Request-Id"] = vals[n+3 : n+4 : n+4]
	}
	if _, ok := dst["Server"]; !ok && hd.Server {
		dst["Server"] = p.serverHeader // Kong names itself when the upstream did not
	}
	if hd.UpstreamStatus {
		dst["X-Kong-Upstream-Status"] = []string{strconv.Itoa(u.status)}
	}
}

// dropsResponseField reports whether the upstream's response field key stays
// off the client's response; conn is the upstream's Connection header. A 101
// keeps Connection and Upgrade, they are the handshake, and loses only the
// body framing and Keep-Alive. Any other response loses the fields that
// describe the upstream connection, including those its Connection names.
func (rs *reqState) dropsResponseField(key, conn string) bool {
	if rs.up.status == http.StatusSwitchingProtocols {
		return key == "Transfer-Encoding" || key == "Content-Length" || key == "Keep-Alive"
	}
	switch {
	case skipDownstream[key] && !(key == "Trailer" && rs.head.teTrailers):
		// Kong removes Trailer only when the client did not ask for
		// trailers (TE: trailers).
		return true
	case conn != "" && headerHasToken(conn, key):
		return true
	}
	return key == "Content-Length" && rs.up.chunked // framing is the server's business now
}

// respond streams the upstream response to the client with Kong's headers.
func (p *Proxy) respond(rs *reqState, c *upConn, upstreamStart time.Time) {
	u := &rs.up
	w := rs.w
	dst := w.Header()
	p.setResponseHeader(rs, dst, upstreamStart, time.Now())
	if u.chunked && !u.noBody && rs.r.ProtoMajor == 1 && rs.r.ProtoMinor == 1 {
		// nginx keeps a chunked upstream response chunked (it streams it);
		// without this net/http would give a small body that arrived whole a
		// Content-Length (03-upstream_headers_spec.lua:163).
		dst["Transfer-Encoding"] = teChunked
	}
	rs.wroteHeader = true
	rs.status = u.status
	w.WriteHeader(u.status)

	var upErr, clientErr error
	if !u.noBody {
		upErr, clientErr = p.copyBody(w, u.body, u.length, c, rs.r.ProtoMajor == 2)
	}
	if clientErr != nil && isTimeout(clientErr) {
		p.log.Debug("client stopped reading the response", "request_id", rs.requestID, "err", clientErr)
	}
	if len(u.trailer) > 0 && upErr == nil && clientErr == nil {
		// Trailers need a chunked response: flushing now stops the server from
		// turning a small, complete body into a Content-Length one.
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		for k, vv := range u.trailer {
			dst[http.TrailerPrefix+k] = vv
		}
	}
	res := balancer.Result{Status: u.status}
	if upErr != nil {
		res.Timeout = isTimeout(upErr)
		res.TCPFailure = !res.Timeout
	}
	rs.conn = nil
	armed := rs.disarm()
	if upErr != nil && rs.r.Context().Err() != nil {
		upErr, clientErr = nil, upErr // the client left; the upstream did nothing wrong
		res = balancer.Result{Status: u.status}
	}
	if upErr == nil && clientErr == nil && !u.close && armed {
		p.tr.put(c)
	} else {
		c.close()
	}
	rs.release(res)
	if upErr != nil {
		// The status line is gone already; all that is left is to cut the
		// stream so the client sees a truncated response, not a complete one.
		p.log.Warn("upstream failed while streaming the response", "request_id", rs.requestID, "err", upErr)
		panic(http.ErrAbortHandler)
	}
}

// writeDeadliner is implemented by both net/http servers' ResponseWriters: the
// connection's write deadline on HTTP/1.x, the stream's on HTTP/2.
type writeDeadliner interface {
	SetWriteDeadline(time.Time) error
}

const defaultSendTimeout = 60 * time.Second // nginx's send_timeout

// armSend bounds the next write to the client (nginx's send_timeout: between
// two successive writes). The deadline is left set when the handler returns,
// so the server's final flush of the response is bounded too; the next
// response on the connection arms its own before writing.
func (p *Proxy) armSend(wd writeDeadliner) {
	if wd != nil {
		wd.SetWriteDeadline(time.Now().Add(p.sendTimeout))
	}
}

// copyBody streams the response body. Whatever was written to the client is
// flushed before a read that has to wait for the network, so the client sees
// the upstream's progress (event streams, slow bodies, and the status line of
// a response whose body then stalls), while a response that arrived whole goes
// out in one write.
func (p *Proxy) copyBody(w http.ResponseWriter, body io.Reader, length int64, c *upConn, http2 bool) (upErr, clientErr error) {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := *bp
	flusher, _ := w.(http.Flusher)
	wd, _ := w.(writeDeadliner)
	if p.sendTimeout <= 0 {
		wd = nil
	}
	// An HTTP/2 stream whose write deadline passes is reset even when no
	// write is pending, which would cut a stream that merely waits for a slow
	// upstream: there the deadline is cleared after each write. On HTTP/1.x
	// an expired deadline matters only to a write, so it stays armed and
	// bounds the server's final flush too.
	h2 := wd != nil && http2
	remaining := length // -1: until EOF
	pending := true     // the header is not flushed yet
	for remaining != 0 {
		if pending && flusher != nil && c.br.Buffered() == 0 {
			p.armSend(wd)
			flusher.Flush()
			if h2 {
				wd.SetWriteDeadline(time.Time{})
			}
			pending = false
		}
		n, err := body.Read(buf)
		if n > 0 {
			p.armSend(wd)
			_, werr := w.Write(buf[:n])
			if h2 {
				wd.SetWriteDeadline(time.Time{})
			}
			if werr != nil {
				return nil, werr // the client is gone, or stopped reading for sendTimeout
			}
			pending = true
			if remaining > 0 {
				remaining -= int64(n)
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
	return nil, nil
}
