package config

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Entity is any row of a Config table.
type Entity interface {
	EntityID() string
	EntityTags() []string
}

func (e *Service) EntityID() string           { return e.ID }
func (e *Route) EntityID() string             { return e.ID }
func (e *Upstream) EntityID() string          { return e.ID }
func (e *Target) EntityID() string            { return e.ID }
func (e *Consumer) EntityID() string          { return e.ID }
func (e *Plugin) EntityID() string            { return e.ID }
func (e *KeyAuthCredential) EntityID() string { return e.ID }

func (e *Service) EntityTags() []string           { return e.Tags }
func (e *Route) EntityTags() []string             { return e.Tags }
func (e *Upstream) EntityTags() []string          { return e.Tags }
func (e *Target) EntityTags() []string            { return e.Tags }
func (e *Consumer) EntityTags() []string          { return e.Tags }
func (e *Plugin) EntityTags() []string            { return e.Tags }
func (e *KeyAuthCredential) EntityTags() []string { return e.Tags }

// EndpointKey is the field Kong accepts in place of the id in item URLs.
func EndpointKey(table string) string {
	switch table {
	case TableServices, TableRoutes, TableUpstreams:
		return "name"
	case TableConsumers:
		return "username"
	case TableTargets:
		return "target"
	case TablePlugins:
		return "instance_name"
	case TableKeyAuth:
		return "key"
	}
	return ""
}

// KeyOf returns e's endpoint-key value, "" when unset.
func KeyOf(e Entity) string {
	switch x := e.(type) {
	case *Service:
		return deref(x.Name)
	case *Route:
		return deref(x.Name)
	case *Upstream:
		return x.Name
	case *Consumer:
		return deref(x.Username)
	case *Target:
		return x.Target
	case *Plugin:
		return deref(x.InstanceName)
	case *KeyAuthCredential:
		return x.Key
	}
	return ""
}

// ForeignID returns the id that e's foreign field refers to, "" when null.
func ForeignID(e Entity, field string) string {
	var r *Ref
	switch x := e.(type) {
	case *Route:
		if field == "service" {
			r = x.Service
		}
	case *Target:
		if field == "upstream" {
			r = x.Upstream
		}
	case *Plugin:
		switch field {
		case "service":
			r = x.Service
		case "route":
			r = x.Route
		case "consumer":
			r = x.Consumer
		}
	case *KeyAuthCredential:
		if field == "consumer" {
			r = x.Consumer
		}
	}
	if r == nil {
		return ""
	}
	return r.ID
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Rows returns table's rows in creation order.
func (c *Config) Rows(table string) []Entity {
	switch table {
	case TableServices:
		return toEntities(c.Services)
	case TableRoutes:
		return toEntities(c.Routes)
	case TableUpstreams:
		return toEntities(c.Upstreams)
	case TableTargets:
		return toEntities(c.Targets)
	case TableConsumers:
		return toEntities(c.Consumers)
	case TablePlugins:
		return toEntities(c.Plugins)
	case TableKeyAuth:
		return toEntities(c.KeyAuthCredentials)
	}
	return nil
}

func toEntities[T Entity](xs []T) []Entity {
	out := make([]Entity, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// Get returns the row of table with this id, or nil.
func (c *Config) Get(table, id string) Entity {
	if c.idx != nil {
		return c.idx.byID[table][id]
	}
	for _, e := range c.Rows(table) {
		if e.EntityID() == id {
			return e
		}
	}
	return nil
}

// Find returns the row of table whose id or endpoint key is idOrKey, or nil.
// Targets are looked up by key only within an upstream (see FindTarget).
func (c *Config) Find(table, idOrKey string) Entity {
	if idOrKey == "" {
		return nil
	}
	if c.idx != nil {
		if e := c.idx.byID[table][idOrKey]; e != nil && IsUUID(idOrKey) {
			return e
		}
		if table == TableTargets {
			return nil
		}
		return c.idx.byKey[table][idOrKey]
	}
	rows := c.Rows(table)
	if IsUUID(idOrKey) {
		for _, e := range rows {
			if e.EntityID() == idOrKey {
				return e
			}
		}
	}
	if table == TableTargets {
		return nil
	}
	for _, e := range rows {
		if KeyOf(e) == idOrKey {
			return e
		}
	}
	return nil
}

// FindTarget finds a target of upstreamID by id or by host:port (port 8000
// when absent, as Kong normalizes it).
func (c *Config) FindTarget(upstreamID, idOrTarget string) *Target {
	norm := NormalizeTarget(idOrTarget)
	for _, t := range c.Targets {
		if t.Upstream == nil || t.Upstream.ID != upstreamID {
			continue
		}
		if t.ID == idOrTarget || t.Target == idOrTarget || t.Target == norm {
			return t
		}
	}
	return nil
}

// Service returns the service with this id or name, or nil.
func (c *Config) Service(idOrName string) *Service {
	if e, ok := c.Find(TableServices, idOrName).(*Service); ok {
		return e
	}
	return nil
}

// Route returns the route with this id or name, or nil.
func (c *Config) Route(idOrName string) *Route {
	if e, ok := c.Find(TableRoutes, idOrName).(*Route); ok {
		return e
	}
	return nil
}

// Upstream returns the upstream with this id or name, or nil.
func (c *Config) Upstream(idOrName string) *Upstream {
	if e, ok := c.Find(TableUpstreams, idOrName).(*Upstream); ok {
		return e
	}
	return nil
}

// Consumer returns the consumer with this id or username, or nil.
func (c *Config) Consumer(idOrName string) *Consumer {
	if e, ok := c.Find(TableConsumers, idOrName).(*Consumer); ok {
		return e
	}
	return nil
}

// UpstreamByName returns the upstream whose name is exactly host, or nil: the
// proxy's test for "service.host names an upstream".
func (c *Config) UpstreamByName(host string) *Upstream {
	for _, u := range c.Upstreams {
		if u.Name == host {
			return u
		}
	}
	return nil
}

// TargetsOf returns upstreamID's targets in creation order.
func (c *Config) TargetsOf(upstreamID string) []*Target {
	var out []*Target
	for _, t := range c.Targets {
		if t.Upstream != nil && t.Upstream.ID == upstreamID {
			out = append(out, t)
		}
	}
	return out
}

// RoutesOf returns serviceID's routes in creation order.
func (c *Config) RoutesOf(serviceID string) []*Route {
	var out []*Route
	for _, r := range c.Routes {
		if r.Service != nil && r.Service.ID == serviceID {
			out = append(out, r)
		}
	}
	return out
}

// EntityMap is e as its Admin API JSON object.
func EntityMap(e Entity) map[string]any {
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", e, err)) // entity types always marshal
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func decodeEntity(table string, m map[string]any) (Entity, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", table, err)
	}
	var e Entity
	switch table {
	case TableServices:
		e = new(Service)
	case TableRoutes:
		e = new(Route)
	case TableUpstreams:
		e = new(Upstream)
	case TableTargets:
		e = new(Target)
	case TableConsumers:
		e = new(Consumer)
	case TablePlugins:
		e = new(Plugin)
	case TableKeyAuth:
		e = new(KeyAuthCredential)
	default:
		return nil, fmt.Errorf("unknown table %q", table)
	}
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", table, err)
	}
	return e, nil
}

// put replaces the row with e's id in place, or appends e.
func (c *Config) put(table string, e Entity) {
	isNew := false // known to be absent: append without a scan
	if c.idx != nil {
		if c.idx.byID[table][e.EntityID()] != nil {
			c.idx = nil // a replace during a load: rare, so just stop indexing
		} else {
			isNew = true
			defer c.idx.add(table, e)
		}
	}
	switch x := e.(type) {
	case *Service:
		c.Services = putRow(c.Services, x, isNew)
	case *Route:
		c.Routes = putRow(c.Routes, x, isNew)
	case *Upstream:
		c.Upstreams = putRow(c.Upstreams, x, isNew)
	case *Target:
		c.Targets = putRow(c.Targets, x, isNew)
	case *Consumer:
		c.Consumers = putRow(c.Consumers, x, isNew)
	case *Plugin:
		c.Plugins = putRow(c.Plugins, x, isNew)
	case *KeyAuthCredential:
		c.KeyAuthCredentials = putRow(c.KeyAuthCredentials, x, isNew)
	default:
		panic("put: unknown entity type for " + table)
	}
}

func putRow[T Entity](rows []T, e T, isNew bool) []T {
	if isNew {
		return append(rows, e)
	}
	for i, r := range rows {
		if r.EntityID() == e.EntityID() {
			rows[i] = e
			return rows
		}
	}
	return append(rows, e)
}

func removeRows[T Entity](rows []T, drop func(T) bool) []T {
	return slices.DeleteFunc(rows, drop)
}

// Clone returns a deep copy: a writer may change anything in it without
// touching the snapshot it came from.
func (c *Config) Clone() *Config {
	if c == nil {
		return &Config{}
	}
	return &Config{
		Services:           cloneRows(c.Services, cloneService),
		Routes:             cloneRows(c.Routes, cloneRoute),
		Upstreams:          cloneRows(c.Upstreams, cloneUpstream),
		Targets:            cloneRows(c.Targets, cloneTarget),
		Consumers:          cloneRows(c.Consumers, cloneConsumer),
		Plugins:            cloneRows(c.Plugins, clonePlugin),
		KeyAuthCredentials: cloneRows(c.KeyAuthCredentials, cloneKeyAuth),
	}
}

func cloneRows[T any](xs []*T, f func(*T) *T) []*T {
	if xs == nil {
		return nil
	}
	out := make([]*T, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func ptr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneHeaders(h map[string][]string) map[string][]string {
	if h == nil {
		return nil
	}
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[k] = slices.Clone(v)
	}
	return out
}

func cloneService(s *Service) *Service {
	n := *s
	n.Name, n.Path, n.ClientCertificate, n.TLSVerify, n.TLSVerifyDepth = ptr(s.Name), ptr(s.Path), ptr(s.ClientCertificate), ptr(s.TLSVerify), ptr(s.TLSVerifyDepth)
	n.Tags, n.CACertificates = slices.Clone(s.Tags), slices.Clone(s.CACertificates)
	return &n
}

func cloneRoute(r *Route) *Route {
	n := *r
	n.Name, n.Service = ptr(r.Name), ptr(r.Service)
	n.Protocols, n.Methods, n.Hosts, n.Paths = slices.Clone(r.Protocols), slices.Clone(r.Methods), slices.Clone(r.Hosts), slices.Clone(r.Paths)
	n.SNIs, n.Tags = slices.Clone(r.SNIs), slices.Clone(r.Tags)
	n.Headers = cloneHeaders(r.Headers)
	n.Sources = cloneCIDRs(r.Sources)
	n.Destinations = cloneCIDRs(r.Destinations)
	return &n
}

func cloneCIDRs(xs []CIDRPort) []CIDRPort {
	if xs == nil {
		return nil
	}
	out := make([]CIDRPort, len(xs))
	for i, x := range xs {
		out[i] = CIDRPort{IP: ptr(x.IP), Port: ptr(x.Port)}
	}
	return out
}

func cloneUpstream(u *Upstream) *Upstream {
	n := *u
	n.HashOnHeader, n.HashFallbackHeader, n.HashOnCookie = ptr(u.HashOnHeader), ptr(u.HashFallbackHeader), ptr(u.HashOnCookie)
	n.HashOnQueryArg, n.HashFallbackQueryArg = ptr(u.HashOnQueryArg), ptr(u.HashFallbackQueryArg)
	n.HashOnURICapture, n.HashFallbackURICapture = ptr(u.HashOnURICapture), ptr(u.HashFallbackURICapture)
	n.HostHeader, n.ClientCertificate = ptr(u.HostHeader), ptr(u.ClientCertificate)
	n.Tags = slices.Clone(u.Tags)
	h := &n.Healthchecks
	h.Active.HTTPSSNI = ptr(u.Healthchecks.Active.HTTPSSNI)
	h.Active.Headers = cloneHeaders(u.Healthchecks.Active.Headers)
	h.Active.Healthy.HTTPStatuses = slices.Clone(u.Healthchecks.Active.Healthy.HTTPStatuses)
	h.Active.Unhealthy.HTTPStatuses = slices.Clone(u.Healthchecks.Active.Unhealthy.HTTPStatuses)
	h.Passive.Healthy.HTTPStatuses = slices.Clone(u.Healthchecks.Passive.Healthy.HTTPStatuses)
	h.Passive.Unhealthy.HTTPStatuses = slices.Clone(u.Healthchecks.Passive.Unhealthy.HTTPStatuses)
	h.HalfOpen = ptr(u.Healthchecks.HalfOpen)
	return &n
}

func cloneTarget(t *Target) *Target {
	n := *t
	n.Upstream, n.Tags = ptr(t.Upstream), slices.Clone(t.Tags)
	return &n
}

func cloneConsumer(c *Consumer) *Consumer {
	n := *c
	n.Username, n.CustomID, n.Tags = ptr(c.Username), ptr(c.CustomID), slices.Clone(c.Tags)
	return &n
}

func clonePlugin(p *Plugin) *Plugin {
	n := *p
	n.InstanceName, n.Service, n.Route, n.Consumer = ptr(p.InstanceName), ptr(p.Service), ptr(p.Route), ptr(p.Consumer)
	n.Protocols, n.Tags = slices.Clone(p.Protocols), slices.Clone(p.Tags)
	if p.Config != nil {
		n.Config = deepCopyMap(p.Config)
	}
	return &n
}

func cloneKeyAuth(k *KeyAuthCredential) *KeyAuthCredential {
	n := *k
	n.Consumer, n.TTL, n.Tags = ptr(k.Consumer), ptr(k.TTL), slices.Clone(k.Tags)
	return &n
}

// DefaultHealthchecks is Kong's healthchecks tree with every default filled
// in: what an upstream created without healthchecks gets.
func DefaultHealthchecks() Healthchecks {
	e, err := (&Config{}).Insert(TableUpstreams, map[string]any{"name": "defaults"}, WriteOptions{})
	if err != nil {
		panic("config: the upstream schema rejects its own defaults: " + err.Error())
	}
	return e.(*Upstream).Healthchecks
}

// FindBy returns the row of table whose unique field equals value, or nil.
func (c *Config) FindBy(table, field, value string) Entity {
	if c.idx != nil && field == EndpointKey(table) {
		return c.idx.byKey[table][value]
	}
	for _, e := range c.Rows(table) {
		if v, ok := uniqueValue(e, field).(string); ok && v == value {
			return e
		}
	}
	return nil
}
