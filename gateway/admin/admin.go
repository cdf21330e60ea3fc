// Package admin serves Kong's Admin API over the gateway's store: entity
// collections and items (by id or endpoint key), nested endpoints, upstream
// health, schemas, declarative /config, and the node's info and status.
//
// Every write is one store transaction: it validates against the schema,
// foreign keys and unique keys of the configuration it will replace, and an
// error of any kind leaves the store (and its file) exactly as it was.
//
// Deliberate differences from Kong 3.x:
//   - DELETE of a service also deletes its routes and their plugins (Kong
//     answers 400 "an existing 'routes' entity references this 'services'
//     entity"); the tutorial this project grew from relies on the cascade.
//   - POST /config also works with the embedded store (Kong allows it only with
//     database=off); there it replaces and persists the whole configuration.
//   - An explicit null on an optional field that has a default (retries,
//     timeouts, healthchecks) stores the default, not null.
//   - Declarative entities without an id get a UUIDv5 of their table, parents
//     and key, so reloading the same kong.yml keeps ids.
//   - Pagination offsets are opaque positions in creation order.
package admin

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/store"
)

// Options configure the Admin API.
type Options struct {
	Store         *store.Store
	DBLess        bool          // database=off: writes other than POST /config answer Kong's error
	Token         string        // when set every request needs Authorization: Bearer <t> or Kong-Admin-Token: <t>
	Plugins       PluginSchemas // nil: any plugin name with any config is accepted
	Health        HealthSource  // nil: health endpoints answer from config only (HEALTHCHECKS_OFF)
	Status        StatusSource  // nil: zero counters
	Metrics       http.Handler  // nil: no GET /metrics
	Version       string        // "": config.KongVersion
	NodeID        string
	Hostname      string
	Configuration map[string]any // echoed under "configuration" in GET / (should include "database")
	Logger        *slog.Logger
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// maxURIArgs is Kong's lua_max_uri_args for the Admin API.
const maxURIArgs = 1000

// DefaultMaxBodyBytes is Kong's Admin API body limit: its admin server's
// client_max_body_size is 10m (nginx_admin_client_max_body_size). Larger
// bodies get 413 {"message":"Payload too large"}, as from Kong.
const DefaultMaxBodyBytes = 10 << 20

// PluginInfo is one plugin the gateway can run.
type PluginInfo struct {
	Name, Version string
	Priority      int
}

// PluginSchemas is what the Admin API needs from the plugin registry.
type PluginSchemas interface {
	Available() []PluginInfo
	// Validate fills defaults and checks a plugin's config; fieldErrs is Kong's nested "config" errors.
	Validate(name string, cfg map[string]any) (normalized map[string]any, fieldErrs map[string]any, known bool)
	Schema(name string) (schema any, ok bool)
}

// HealthSource reports and overrides target health (gateway/health).
type HealthSource interface {
	TargetsHealth(upstreamID string) map[string]string // target id -> HEALTHY|UNHEALTHY|HEALTHCHECKS_OFF|DNS_ERROR
	BalancerHealth(upstreamID string) (health string, details map[string]any)
	SetTargetHealth(upstreamID, targetID string, healthy bool) error
}

// StatusSource reports the proxy's connection counters for GET /status.
type StatusSource interface {
	ServerStatus() map[string]int64 // total_requests, connections_active, _accepted, _handled, _reading, _writing, _waiting
}

type api struct {
	opts  Options
	store *store.Store
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns the Admin API handler.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Version == "" {
		opts.Version = config.KongVersion
	}
	if opts.Store == nil {
		opts.Store = store.OpenMemory()
	}
	a := &api{opts: opts, store: opts.Store, log: opts.Logger, mux: http.NewServeMux()}
	a.routes()
	return a
}

func (a *api) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &latencyWriter{ResponseWriter: rw, start: time.Now()}
	w.Header().Set("Server", "kong/"+a.opts.Version)
	// Kong's admin CORS filter (api_helpers.lua): the request's Origin (or
	// *), credentials allowed, and on a preflight the headers it asks for.
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	if r.Method == http.MethodOptions {
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		}
	}
	// Kong's router (lapis) takes a route with or without a trailing slash:
	// /upstreams/u/targets/ is /upstreams/u/targets.
	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		r.URL.Path = strings.TrimRight(p, "/")
		if r.URL.Path == "" {
			r.URL.Path = "/"
		}
		r.URL.RawPath = ""
	}
	// Kong reads at most lua_max_uri_args (1000) query arguments and refuses
	// a request with more (21-truncated_arguments_spec).
	if q := r.URL.RawQuery; q != "" && strings.Count(q, "&") >= maxURIArgs {
		n := 0
		for _, part := range strings.Split(q, "&") {
			if part != "" {
				n++
			}
		}
		if n > maxURIArgs {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Too many arguments"})
			return
		}
	}
	if a.opts.Token != "" && !a.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes)
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.Error("admin: handler panic", "method", r.Method, "path", r.URL.Path, "panic", v,
				"stack", string(debug.Stack()))
			writeJSON(w, http.StatusInternalServerError, map[string]any{"message": "An unexpected error occurred"})
		}
	}()
	a.mux.ServeHTTP(w, r)
}

// latencyWriter stamps X-Kong-Admin-Latency (milliseconds since the request
// arrived) on the response head, as Kong's admin_header_filter does.
type latencyWriter struct {
	http.ResponseWriter
	start       time.Time
	wroteHeader bool
}

func (w *latencyWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.Header().Set("X-Kong-Admin-Latency", strconv.FormatInt(time.Since(w.start).Milliseconds(), 10))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *latencyWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *latencyWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *latencyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (a *api) authorized(r *http.Request) bool {
	got := r.Header.Get("Kong-Admin-Token")
	if got == "" {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			got = strings.TrimSpace(h[7:])
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(a.opts.Token)) == 1
}

// methods maps HTTP methods to handlers for one path.
type methods map[string]http.HandlerFunc

// handle registers path with its methods; other methods get Kong's 405 JSON
// and OPTIONS lists what is allowed.
func (a *api) handle(path string, m methods) {
	allowed := make([]string, 0, len(m)+2)
	for k := range m {
		allowed = append(allowed, k)
	}
	// Kong (lapis) answers HEAD wherever GET is served, and lists it.
	if _, ok := m[http.MethodGet]; ok {
		allowed = append(allowed, http.MethodHead)
	}
	allowed = append(allowed, http.MethodOptions)
	sort.Strings(allowed)
	allow := strings.Join(allowed, ", ")
	a.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if h, ok := m[r.Method]; ok {
			h(w, r)
			return
		}
		if r.Method == http.MethodHead {
			if h, ok := m[http.MethodGet]; ok {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", allow)
			if w.Header().Get("Access-Control-Allow-Headers") == "" {
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
	})
}

func (a *api) routes() {
	a.handle("/{$}", methods{"GET": a.handleRoot})
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	a.handle("/status", methods{"GET": a.handleStatus})
	a.handle("/config", methods{"GET": a.handleGetConfig, "POST": a.handlePostConfig})
	a.handle("/plugins/enabled", methods{"GET": a.handlePluginsEnabled})
	a.handle("/plugins/schema/{name}", methods{"GET": a.handlePluginSchema})
	a.handle("/schemas/{entity}", methods{"GET": a.handleEntitySchema})
	// One pattern for /schemas/plugins/{name} and /schemas/{entity}/validate:
	// ServeMux cannot rank the two against each other.
	a.handle("/schemas/{entity}/{name}", methods{
		"GET": func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("entity") != "plugins" {
				notFound(w)
				return
			}
			a.handlePluginSchema(w, r)
		},
		"POST": func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.PathValue("name") != "validate":
				notFound(w)
			case r.PathValue("entity") == "plugins":
				a.handleValidatePlugin(w, r)
			default:
				a.handleValidateEntity(w, r)
			}
		},
	})
	if a.opts.Metrics != nil {
		a.handle("/metrics", methods{"GET": a.opts.Metrics.ServeHTTP})
	}

	services := &collection{table: config.TableServices}
	routes := &collection{table: config.TableRoutes}
	upstreams := &collection{table: config.TableUpstreams}
	consumers := &collection{table: config.TableConsumers}
	plugins := &collection{table: config.TablePlugins}
	keyAuths := &collection{table: config.TableKeyAuth}

	a.entity("/services", "{service}", services)
	a.entity("/routes", "{route}", routes)
	a.entity("/upstreams", "{upstream}", upstreams)
	a.entity("/consumers", "{consumer}", consumers)
	a.entity("/plugins", "{plugin}", plugins)
	a.entity("/key-auths", "{keyauth}", keyAuths)

	a.entity("/services/{service}/routes", "{route}", &collection{table: config.TableRoutes, parent: &parentRef{services, "service", "service"}})
	a.entity("/services/{service}/plugins", "{plugin}", &collection{table: config.TablePlugins, parent: &parentRef{services, "service", "service"}})
	a.entity("/routes/{route}/plugins", "{plugin}", &collection{table: config.TablePlugins, parent: &parentRef{routes, "route", "route"}})
	a.entity("/consumers/{consumer}/plugins", "{plugin}", &collection{table: config.TablePlugins, parent: &parentRef{consumers, "consumer", "consumer"}})
	a.entity("/consumers/{consumer}/key-auth", "{keyauth}", &collection{table: config.TableKeyAuth, parent: &parentRef{consumers, "consumer", "consumer"}})
	// Kong's targets endpoints (kong/api/routes/upstreams.lua): the list is
	// newest first; PUT on a target is an update like PATCH (a new "target"
	// renames it, the weight is kept) and 404 when the target is missing.
	targets := &collection{table: config.TableTargets, parent: &parentRef{upstreams, "upstream", "upstream"}, newestFirst: true, putAsPatch: true}
	a.entity("/upstreams/{upstream}/targets", "{target}", targets)
	allTargets := &collection{table: config.TableTargets, parent: targets.parent, nextWithoutSize: true}

	// The service a route points at, as an item of its own. Kong generates
	// no DELETE for a foreign-entity endpoint: it is 405, never a delete of
	// the service (and, here, of its sibling routes).
	a.foreignEntityEndpoint("/routes/{route}/service", config.TableRoutes, "route", "service", config.TableServices)
	a.foreignEntityEndpoint("/key-auths/{keyauth}/consumer", config.TableKeyAuth, "keyauth", "consumer", config.TableConsumers)

	a.handle("/tags", methods{"GET": a.tagsList})
	a.handle("/tags/{tag}", methods{"GET": a.tagsList})
	a.handle("/upstreams/{upstream}/targets/all", methods{"GET": func(w http.ResponseWriter, r *http.Request) { a.list(w, r, allTargets) }})
	a.handle("/upstreams/{upstream}/health", methods{"GET": a.upstreamHealth})
	for _, verb := range []string{"healthy", "unhealthy"} {
		h := a.setTargetHealth(verb == "healthy")
		a.handle("/upstreams/{upstream}/targets/{target}/"+verb, methods{"PUT": h, "POST": h})
		// Kong's per-address form; the gateway keeps health per target, so
		// the address sets its target's health.
		a.handle("/upstreams/{upstream}/targets/{target}/{address}/"+verb, methods{"PUT": h, "POST": h})
	}
}

// writeJSON writes v as Kong does: JSON, no HTML escaping. It encodes before
// sending the status, so an encoding failure can still become a 500 instead
// of a 200 with a broken body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Errorf("encode %T: %w", v, err))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found"})
}

// errNotFound aborts a store transaction whose target is missing.
var errNotFound = errors.New("not found")

// writeError renders err: Kong DAO errors with their status, the rest as 500.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ke *config.Error
	var he *httpError
	switch {
	case errors.Is(err, errNotFound):
		notFound(w)
	case errors.As(err, &ke):
		writeJSON(w, ke.Status, ke)
	case errors.As(err, &he):
		writeJSON(w, he.status, map[string]any{"message": he.msg})
	default:
		a.log.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"message": "An unexpected error occurred"})
	}
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }
