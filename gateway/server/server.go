// Package server assembles the gateway: it opens the config store, builds the
// balancers, plugin chain, proxy and Admin API, binds the listeners and drains
// them on shutdown. It is the only package that knows all the others.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gauntlet-dev/gauntlet/gateway/admin"
	"github.com/gauntlet-dev/gauntlet/gateway/balancer"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
	"github.com/gauntlet-dev/gauntlet/gateway/proxy"
	"github.com/gauntlet-dev/gauntlet/gateway/store"
)

// maxHeaderBytes bounds a client's request headers; beyond it the client gets 431.
const maxHeaderBytes = 64 << 10

// Gateway is a running gateway.
type Gateway struct {
	log       *slog.Logger
	settings  Settings
	store     *store.Store
	balancers *balancer.Manager
	plugins   *plugins.Manager
	proxy     *proxy.Proxy

	servers    []interface{ Shutdown(context.Context) error }
	proxyAddrs []Bound
	adminAddrs []Bound
	serveErrs  chan error
	closeOnce  sync.Once
}

// Bound is a listener's actual address (port 0 in the settings becomes a real port).
type Bound struct {
	Addr string
	SSL  bool
}

// URL is the listener's base URL, with 127.0.0.1 for a wildcard host.
func (b Bound) URL() string {
	host, port, _ := net.SplitHostPort(b.Addr)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if b.SSL {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// Start opens the store and serves until Shutdown. Listen errors and bad
// configuration are returned with enough context for one clear line.
func Start(s Settings, log *slog.Logger) (*Gateway, error) {
	proxyListens, err := ParseListen(s.ProxyListen)
	if err != nil {
		return nil, fmt.Errorf("proxy-listen: %w", err)
	}
	adminListens, err := ParseListen(s.AdminListen)
	if err != nil {
		return nil, fmt.Errorf("admin-listen: %w", err)
	}
	hdrs, err := s.proxyHeaders()
	if err != nil {
		return nil, err
	}
	g := &Gateway{log: log, settings: s, serveErrs: make(chan error, len(proxyListens)+len(adminListens))}

	if err := g.openStore(); err != nil {
		return nil, err
	}
	nodeID, err := g.nodeID()
	if err != nil {
		g.store.Close()
		return nil, err
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g.balancers = balancer.NewManager(balancer.Options{Logger: log.With("component", "balancer"), Metrics: registry})
	g.plugins = plugins.NewManager(plugins.Options{Logger: log.With("component", "plugins")})
	g.proxy = proxy.New(proxy.Options{
		Balancers: g.balancers,
		Plugins:   g.plugins,
		Version:   config.KongVersion,
		Logger:    log.With("component", "proxy"),
		Metrics:   registry,
		// Same convention as Settings: zero is the default, negative off.
		ClientBodyTimeout:   s.ClientBodyTimeout,
		Headers:             &hdrs.headers,
		NoUpstreamRequestID: !hdrs.upstreamRequestID,
		AllowDebugHeader:    hdrs.debug,
		ErrorDefaultType:    s.ErrorDefaultType,
		RealIP:              &hdrs.realIP,
	})
	// Subscribers run in commit order; balancers and plugins first, so the
	// proxy's new routes never point at an upstream or plugin not yet known.
	g.store.Subscribe(func(c *config.Config) {
		g.balancers.Apply(c)
		g.plugins.Apply(c)
		g.proxy.Apply(c)
	})

	hostname, _ := os.Hostname()
	configuration := map[string]any{}
	if s.Database == "postgres" {
		o, _ := s.Postgres.StoreOptions() // checked by ParseSettings and openStore
		configuration = s.Postgres.configuration(o)
	}
	adminHandler := admin.New(admin.Options{
		Store:   g.store,
		DBLess:  s.Database == "off",
		Token:   s.AdminToken,
		Plugins: pluginSchemas{},
		Health:  g.balancers,
		Status:  statusSource{g.proxy},
		Metrics: promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
		Version: config.KongVersion, NodeID: nodeID, Hostname: hostname,
		Configuration: merge(map[string]any{
			"database":           s.Database,
			"proxy_listen":       strings.Split(s.ProxyListen, ","),
			"admin_listen":       strings.Split(s.AdminListen, ","),
			"prefix":             s.DataDir,
			"declarative_config": nilIfEmpty(s.DeclarativeConfig),
			"role":               "traditional",
			"headers":            headerList(s.Headers, "server_tokens, latency_tokens, x-kong-request-id"),
			"headers_upstream":   headerList(s.HeadersUpstream, "x-kong-request-id"),
			"error_default_type": defaultString(s.ErrorDefaultType, "text/plain"),
			"allow_debug_header": hdrs.debug,
			"trusted_ips":        headerList(s.TrustedIPs, ""),
			"real_ip_header":     defaultString(s.RealIPHeader, "X-Real-IP"),
			"real_ip_recursive":  defaultString(s.RealIPRecursive, "off"),
		}, configuration),
		Logger: log.With("component", "admin"),
	})

	if err := g.listen(proxyListens, g.proxy, s.SSLCert, s.SSLCertKey, g.proxy.ConnState, &g.proxyAddrs, newKongErrors(config.KongVersion, hdrs.headers)); err != nil {
		g.Shutdown(context.Background())
		return nil, fmt.Errorf("proxy-listen: %w", err)
	}
	if err := g.listen(adminListens, adminHeaders(adminHandler, hdrs.headers), s.AdminSSLCert, s.AdminSSLCertKey, nil, &g.adminAddrs, nil); err != nil {
		g.Shutdown(context.Background())
		return nil, fmt.Errorf("admin-listen: %w", err)
	}
	for _, a := range g.adminAddrs {
		if !IsLoopback(a.Addr) && s.AdminToken == "" {
			log.Warn("ADMIN API EXPOSED WITHOUT A TOKEN: anyone who reaches this address can reconfigure the gateway; set --admin-token or bind the admin listener to 127.0.0.1",
				"addr", a.Addr)
		}
	}
	log.Info("gateway started", "version", config.KongVersion, "database", s.Database, "node_id", nodeID,
		"proxy", g.proxyAddrs, "admin", g.adminAddrs)
	return g, nil
}

func (g *Gateway) openStore() error {
	s := g.settings
	if s.Database == "off" {
		g.store = store.OpenMemory()
		if s.DeclarativeConfig == "" {
			return nil
		}
		return g.loadDeclarative(s.DeclarativeConfig)
	}
	if s.Database == "postgres" {
		return g.openPostgres()
	}
	st, err := store.Open(s.DataDir)
	if err != nil {
		return fmt.Errorf("open store in %s: %w", s.DataDir, err)
	}
	g.store = st
	// With a persistent store a kong.yml only seeds an empty store, so a restart
	// never overwrites what was changed through the Admin API since.
	if s.DeclarativeConfig != "" && isEmpty(st.Current()) {
		if err := g.loadDeclarative(s.DeclarativeConfig); err != nil {
			st.Close()
			return err
		}
	}
	return nil
}

func (g *Gateway) loadDeclarative(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read declarative config: %w", err)
	}
	c, err := config.LoadDeclarativeWith(data, config.DeclarativeOptions{Plugins: pluginSchemas{}})
	if err != nil {
		return fmt.Errorf("load declarative config %s: %w", path, err)
	}
	if err := g.store.Replace(c); err != nil {
		return fmt.Errorf("apply declarative config %s: %w", path, err)
	}
	return nil
}

func isEmpty(c *config.Config) bool {
	return len(c.Services)+len(c.Routes)+len(c.Upstreams)+len(c.Targets)+len(c.Consumers)+
		len(c.Plugins)+len(c.KeyAuthCredentials) == 0
}

// nodeID is stable across restarts with a persistent store, as Kong's kong.id is.
func (g *Gateway) nodeID() (string, error) {
	if id := g.settings.NodeID; id != "" {
		return strings.ToLower(id), nil // checked by proxyHeaders
	}
	if g.settings.Database == "off" {
		return newUUID(), nil
	}
	path := filepath.Join(g.settings.DataDir, "node_id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) == 36 {
		return strings.TrimSpace(string(b)), nil
	}
	id := newUUID()
	if err := os.WriteFile(path, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (g *Gateway) listen(listens []Listen, h http.Handler, certFile, keyFile string,
	connState func(net.Conn, http.ConnState), bound *[]Bound, kerr *kongErrors) error {
	var cert *tls.Certificate
	for _, l := range listens {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return err
		}
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(true)
		protocols.SetUnencryptedHTTP2(true)
		srv := &http.Server{
			Handler:           h,
			ConnState:         connState,
			Protocols:         &protocols,
			ReadHeaderTimeout: headerTimeout(g.settings.ClientHeaderTimeout), // Kong's client_header_timeout
			IdleTimeout:       60 * time.Second,                              // Kong's keepalive_timeout
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		}
		if l.SSL {
			if cert == nil {
				c, err := LoadOrGenerateCert(certFile, keyFile)
				if err != nil {
					ln.Close()
					return err
				}
				cert = &c
			}
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
		}
		*bound = append(*bound, Bound{Addr: ln.Addr().String(), SSL: l.SSL})
		if kerr != nil && !l.SSL && g.settings.ProxyHTTP1 != "net/http" {
			// The proxy's own HTTP/1.1 loop; net/http keeps h2c (and TLS).
			loop := &proxy.HTTP1Server{Proxy: g.proxy, H2C: srv, Log: g.log,
				HeaderTimeout: srv.ReadHeaderTimeout, IdleTimeout: srv.IdleTimeout}
			g.servers = append(g.servers, loop)
			go func() {
				if err := loop.Serve(ln); err != nil && !errors.Is(err, proxy.ErrServerClosed) {
					g.serveErrs <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
				}
			}()
			continue
		}
		g.servers = append(g.servers, srv)
		if kerr != nil && !l.SSL {
			ln = kongErrListener{Listener: ln, k: kerr} // Kong's words for net/http's own refusals
		}
		go func() {
			var err error
			if l.SSL {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.serveErrs <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
		}()
	}
	return nil
}

// ProxyAddrs and AdminAddrs are the bound listeners, in the order configured.
func (g *Gateway) ProxyAddrs() []Bound { return g.proxyAddrs }
func (g *Gateway) AdminAddrs() []Bound { return g.adminAddrs }

// Errors reports a listener that stopped serving on its own.
func (g *Gateway) Errors() <-chan error { return g.serveErrs }

// Shutdown stops accepting connections, waits for in-flight requests until ctx
// ends, then stops health probers and closes the store.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var firstErr error
	g.closeOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, len(g.servers))
		for i, srv := range g.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = srv.Shutdown(ctx)
			}()
		}
		wg.Wait()
		firstErr = errors.Join(errs...)
		if g.proxy != nil {
			g.proxy.Close()
		}
		if g.balancers != nil {
			g.balancers.Close()
		}
		if g.plugins != nil {
			g.plugins.Close()
		}
		if err := g.store.Close(); err != nil {
			firstErr = errors.Join(firstErr, fmt.Errorf("close store: %w", err))
		}
	})
	return firstErr
}

// statusSource adds the gateway's goroutine count to the proxy's connection
// counters, so scenarios can check that a fault leaks nothing.
type statusSource struct{ p *proxy.Proxy }

func (s statusSource) ServerStatus() map[string]int64 {
	m := s.p.ServerStatus()
	m["goroutines"] = int64(runtime.NumGoroutine())
	return m
}

// pluginSchemas adapts the plugins package to the Admin API's view of it.
type pluginSchemas struct{}

func (pluginSchemas) Available() []admin.PluginInfo {
	var out []admin.PluginInfo
	for _, p := range plugins.Available() {
		out = append(out, admin.PluginInfo{Name: p.Name, Version: p.Version, Priority: p.Priority})
	}
	return out
}

func (pluginSchemas) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	return plugins.Validate(name, cfg)
}

func (pluginSchemas) Schema(name string) (any, bool) { return plugins.Schema(name) }

// ValidateEntity, Protocols and ConsumerScopable let the config package place
// plugin-level errors, default protocols and consumer scoping exactly as Kong.
func (pluginSchemas) ValidateEntity(name string, cfg map[string]any) (map[string]any, map[string]any, []any, bool) {
	return plugins.ValidateEntity(name, cfg)
}

func (pluginSchemas) Protocols(name string) ([]string, bool) { return plugins.Protocols(name) }
func (pluginSchemas) ConsumerScopable(name string) bool      { return plugins.ConsumerScopable(name) }

var (
	_ config.PluginEntityValidator = pluginSchemas{}
	_ config.PluginScopes          = pluginSchemas{}
)

// headerTimeout maps the setting (zero: default, negative: off) onto
// http.Server's ReadHeaderTimeout (zero: none, with no ReadTimeout set).
func headerTimeout(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return 60 * time.Second // nginx's client_header_timeout default
	case d < 0:
		return 0
	}
	return d
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// headerList is a comma-separated setting as Kong's /configuration shows it:
// an array of its entries, def when unset.
func headerList(v, def string) []string {
	if strings.TrimSpace(v) == "" {
		v = def
	}
	out := []string{}
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func defaultString(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}
