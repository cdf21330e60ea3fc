package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Admin is a typed client of the gateway's Kong-compatible Admin API, with
// just what scenarios configure and read. Requests are JSON, as go-kong sends
// them.
type Admin struct {
	base string
	hc   *http.Client
}

// NewAdmin returns a client of the Admin API at base (http://host:port).
func NewAdmin(base string) *Admin {
	return &Admin{base: strings.TrimSuffix(base, "/"), hc: &http.Client{Timeout: 10 * time.Second}}
}

// APIError is a non-2xx answer of the Admin API.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends body (JSON, if not nil) and decodes a 2xx answer into out (if not nil).
func (a *Admin) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("admin %s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("admin %s %s: read: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("admin %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// ServiceSpec is a service to create; nil fields take Kong's defaults
// (retries 5, timeouts 60000 ms).
type ServiceSpec struct {
	Name           string `json:"name"`
	URL            string `json:"url,omitempty"`
	Host           string `json:"host,omitempty"`
	Port           int    `json:"port,omitempty"`
	Retries        *int   `json:"retries,omitempty"`
	ConnectTimeout *int   `json:"connect_timeout,omitempty"`
	ReadTimeout    *int   `json:"read_timeout,omitempty"`
	WriteTimeout   *int   `json:"write_timeout,omitempty"`
}

// Int is a helper for the optional fields of specs.
func Int(v int) *int { return &v }

// CreateService creates a service.
func (a *Admin) CreateService(ctx context.Context, s ServiceSpec) (config.Service, error) {
	var out config.Service
	err := a.Do(ctx, http.MethodPost, "/services", s, &out)
	return out, err
}

// RouteSpec is a route to create under a service.
type RouteSpec struct {
	Name      string   `json:"name,omitempty"`
	Paths     []string `json:"paths,omitempty"`
	Methods   []string `json:"methods,omitempty"`
	StripPath *bool    `json:"strip_path,omitempty"`
}

// CreateRoute creates a route under the service (id or name).
func (a *Admin) CreateRoute(ctx context.Context, service string, r RouteSpec) (config.Route, error) {
	var out config.Route
	err := a.Do(ctx, http.MethodPost, "/services/"+url.PathEscape(service)+"/routes", r, &out)
	return out, err
}

// UpstreamSpec is an upstream to create. Healthchecks is sent as given (a
// partial tree; the gateway fills Kong's defaults).
type UpstreamSpec struct {
	Name         string         `json:"name"`
	Algorithm    string         `json:"algorithm,omitempty"`
	Healthchecks map[string]any `json:"healthchecks,omitempty"`
}

// CreateUpstream creates an upstream.
func (a *Admin) CreateUpstream(ctx context.Context, u UpstreamSpec) (config.Upstream, error) {
	var out config.Upstream
	err := a.Do(ctx, http.MethodPost, "/upstreams", u, &out)
	return out, err
}

// AddTarget adds host:port with weight (0: Kong's default 100) to the upstream.
func (a *Admin) AddTarget(ctx context.Context, upstream, target string, weight int) error {
	body := map[string]any{"target": target}
	if weight > 0 {
		body["weight"] = weight
	}
	return a.Do(ctx, http.MethodPost, "/upstreams/"+url.PathEscape(upstream)+"/targets", body, nil)
}

// GetService reads a service by id or name.
func (a *Admin) GetService(ctx context.Context, idOrName string) (config.Service, error) {
	var out config.Service
	err := a.Do(ctx, http.MethodGet, "/services/"+url.PathEscape(idOrName), nil, &out)
	return out, err
}

// Targets lists an upstream's targets.
func (a *Admin) Targets(ctx context.Context, upstream string) ([]config.Target, error) {
	var out struct {
		Data []config.Target `json:"data"`
	}
	err := a.Do(ctx, http.MethodGet, "/upstreams/"+url.PathEscape(upstream)+"/targets", nil, &out)
	return out.Data, err
}

// TargetHealth is one entry of GET /upstreams/{u}/health.
type TargetHealth struct {
	Target string `json:"target"`
	Health string `json:"health"`
}

// Health lists the upstream's targets with their health.
func (a *Admin) Health(ctx context.Context, upstream string) ([]TargetHealth, error) {
	var out struct {
		Data []TargetHealth `json:"data"`
	}
	err := a.Do(ctx, http.MethodGet, "/upstreams/"+url.PathEscape(upstream)+"/health", nil, &out)
	return out.Data, err
}

// Status is GET /status: Kong's server counters plus the gateway's goroutines.
type Status struct {
	Server struct {
		TotalRequests       int64 `json:"total_requests"`
		ConnectionsActive   int64 `json:"connections_active"`
		ConnectionsAccepted int64 `json:"connections_accepted"`
		ConnectionsHandled  int64 `json:"connections_handled"`
		Goroutines          int64 `json:"goroutines"`
	} `json:"server"`
}

// Status reads GET /status.
func (a *Admin) Status(ctx context.Context) (Status, error) {
	var out Status
	err := a.Do(ctx, http.MethodGet, "/status", nil, &out)
	return out, err
}

// PluginSpec is a plugin to create; Config is sent as given (the gateway fills
// the schema's defaults).
type PluginSpec struct {
	Name    string         `json:"name"`
	Config  map[string]any `json:"config,omitempty"`
	Enabled *bool          `json:"enabled,omitempty"`
}

// CreatePlugin creates a plugin under parent, Kong's nested endpoint of the
// scope: "" (global), "/services/{s}", "/routes/{r}" or "/consumers/{c}".
func (a *Admin) CreatePlugin(ctx context.Context, parent string, p PluginSpec) (config.Plugin, error) {
	var out config.Plugin
	err := a.Do(ctx, http.MethodPost, parent+"/plugins", p, &out)
	return out, err
}

// CreateConsumer creates a consumer with a username.
func (a *Admin) CreateConsumer(ctx context.Context, username string) (config.Consumer, error) {
	var out config.Consumer
	err := a.Do(ctx, http.MethodPost, "/consumers", map[string]any{"username": username}, &out)
	return out, err
}

// AddKeyAuth gives the consumer a key-auth credential with key.
func (a *Admin) AddKeyAuth(ctx context.Context, consumer, key string) error {
	return a.Do(ctx, http.MethodPost, "/consumers/"+url.PathEscape(consumer)+"/key-auth", map[string]any{"key": key}, nil)
}
