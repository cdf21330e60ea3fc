package admin

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

func (a *api) handleRoot(w http.ResponseWriter, r *http.Request) {
	available := map[string]any{}
	if a.opts.Plugins != nil {
		for _, p := range a.opts.Plugins.Available() {
			available[p.Name] = map[string]any{"version": p.Version, "priority": p.Priority}
		}
	}
	enabled := []string{}
	seen := map[string]bool{}
	for _, p := range a.store.Current().Plugins {
		if !seen[p.Name] {
			seen[p.Name] = true
			enabled = append(enabled, p.Name)
		}
	}
	sort.Strings(enabled)
	conf := map[string]any{}
	for k, v := range a.opts.Configuration {
		conf[k] = v
	}
	if _, ok := conf["database"]; !ok {
		if a.opts.DBLess {
			conf["database"] = "off"
		} else {
			conf["database"] = "embedded"
		}
	}
	hostname := a.opts.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tagline":     "Welcome to kong",
		"version":     a.opts.Version,
		"edition":     "community",
		"hostname":    hostname,
		"node_id":     a.opts.NodeID,
		"lua_version": "Go " + runtime.Version(),
		"plugins": map[string]any{
			"available_on_server": available,
			"enabled_in_cluster":  enabled,
		},
		"configuration": conf,
		"timers":        map[string]any{"running": 0, "pending": 0},
		"pids":          map[string]any{"master": os.Getpid(), "workers": []int{os.Getpid()}},
	})
}

func (a *api) handleStatus(w http.ResponseWriter, r *http.Request) {
	// Kong's unit and scale arguments (kong/api/routes/health.lua, checked
	// with bytes_to_str before anything else).
	q := r.URL.Query()
	unit, scale := "m", 2
	if v, ok := q["unit"]; ok && len(v) > 0 {
		unit = v[0]
	}
	if v := q.Get("scale"); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			if n < 0 {
				writeJSON(w, http.StatusBadRequest, map[string]any{"message": "scale must be equal or greater than 0"})
				return
			}
			scale = int(n)
		}
	}
	if _, err := bytesToStr(0, unit, scale); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": err.Error()})
		return
	}
	server := map[string]int64{}
	for _, k := range []string{"total_requests", "connections_active", "connections_accepted", "connections_handled",
		"connections_reading", "connections_writing", "connections_waiting"} {
		server[k] = 0
	}
	if a.opts.Status != nil {
		for k, v := range a.opts.Status.ServerStatus() {
			server[k] = v
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc, _ := bytesToStr(ms.HeapAlloc, unit, scale)
	resp := map[string]any{
		"server": server,
		"memory": map[string]any{
			"lua_shared_dicts": map[string]any{},
			"workers_lua_vms": []any{map[string]any{
				"pid":               os.Getpid(),
				"http_allocated_gc": gc,
			}},
		},
	}
	// Kong reports the configuration's hash only where the configuration is
	// declarative (DB-less), all zeros until one is loaded, and then has no
	// database to report on; with a database it is the other way round.
	if a.opts.DBLess {
		resp["configuration_hash"] = a.declarativeHash()
	} else {
		// False while a shared database (postgres) is down: the node
		// then serves its cached configuration and refuses writes.
		resp["database"] = map[string]any{"reachable": a.store.Reachable()}
	}
	writeJSON(w, http.StatusOK, resp)
}

// bytesToStr is Kong's kong.tools.string.bytes_to_str: a plain number for
// unit "b" or "", else "%.<scale>f KiB|MiB|GiB".
func bytesToStr(n uint64, unit string, scale int) (any, error) {
	f := float64(n)
	switch strings.ToLower(unit) {
	case "", "b":
		return n, nil
	case "k":
		return fmt.Sprintf("%.*f KiB", scale, f/(1<<10)), nil
	case "m":
		return fmt.Sprintf("%.*f MiB", scale, f/(1<<20)), nil
	case "g":
		return fmt.Sprintf("%.*f GiB", scale, f/(1<<30)), nil
	}
	return nil, fmt.Errorf("invalid unit '%s' (expected 'k/K', 'm/M', or 'g/G')", unit)
}

// emptyConfigHash is Kong's DECLARATIVE_EMPTY_CONFIG_HASH.
const emptyConfigHash = "00000000000000000000000000000000"

// declarativeHash is the DB-less configuration's hash: the one POST /config
// recorded for the configuration now loaded, else a hash of the loaded
// configuration, or all zeros while it is empty.
func (a *api) declarativeHash() string {
	c := a.store.Current()
	if h, ok := loadedHashes.Load(a); ok {
		if lh := h.(loadedHash); lh.cfg == c {
			return lh.hash
		}
	}
	if configEmpty(c) {
		return emptyConfigHash
	}
	return configHash(c)
}

func configEmpty(c *config.Config) bool {
	for _, t := range config.Tables {
		if len(c.Rows(t)) > 0 {
			return false
		}
	}
	return true
}

// configHash identifies the loaded configuration.
func configHash(c *config.Config) string {
	b, _ := json.Marshal(c)
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func (a *api) handlePluginsEnabled(w http.ResponseWriter, r *http.Request) {
	names := []string{}
	if a.opts.Plugins != nil {
		for _, p := range a.opts.Plugins.Available() {
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	writeJSON(w, http.StatusOK, map[string]any{"enabled_plugins": names})
}

func (a *api) handlePluginSchema(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if a.opts.Plugins != nil {
		if s, ok := a.opts.Plugins.Schema(name); ok {
			writeJSON(w, http.StatusOK, s)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "No plugin named '" + name + "'"})
}

// schemaTable maps the entity names Kong accepts under /schemas to tables.
func schemaTable(name string) string {
	switch name {
	case "key-auth", "keyauth_credentials", "key_auth_credentials":
		return config.TableKeyAuth
	}
	if config.Schemas[name] != nil {
		return name
	}
	return ""
}

func (a *api) handleEntitySchema(w http.ResponseWriter, r *http.Request) {
	t := schemaTable(r.PathValue("entity"))
	if t == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "No entity named '" + r.PathValue("entity") + "'"})
		return
	}
	writeJSON(w, http.StatusOK, schemaJSON(config.Schemas[t]))
}

// schemaJSON renders a schema the way Kong's /schemas/{entity} does: an
// ordered list of single-key field objects.
func schemaJSON(s *config.Schema) map[string]any {
	fields := make([]any, 0, len(s.Fields))
	for _, f := range s.Fields {
		fields = append(fields, map[string]any{f.Name: fieldJSON(f)})
	}
	// Kong's schema_to_jsonable keeps entity_checks, which every entity has
	// (02-kong_routes_spec.lua:431 asserts a table for each).
	out := map[string]any{"fields": fields, "entity_checks": []any{}}
	switch s.Name {
	case config.TableRoutes:
		out["entity_checks"] = []any{map[string]any{"conditional_at_least_one_of": map[string]any{
			"if_field": "protocols", "if_match": map[string]any{"elements": map[string]any{"type": "string", "one_of": []string{"http"}}},
			"then_at_least_one_of": []string{"methods", "hosts", "headers", "paths"},
		}}}
	case config.TableConsumers:
		out["entity_checks"] = []any{map[string]any{"at_least_one_of": []string{"custom_id", "username"}}}
	}
	return out
}

func fieldJSON(f *config.Field) map[string]any {
	m := map[string]any{"type": f.Type.String()}
	if f.Type == config.TForeign {
		m["reference"] = f.Reference
	}
	if f.Type == config.TAny {
		m["type"] = "record"
		m["fields"] = []any{}
	}
	if f.Required {
		m["required"] = true
	}
	if f.Auto {
		m["auto"] = true
	}
	if f.UUID {
		m["uuid"] = true
	}
	if f.Unique {
		m["unique"] = true
	}
	if f.Default != nil {
		m["default"] = f.Default
	}
	if len(f.OneOf) > 0 {
		m["one_of"] = f.OneOf
	}
	if f.Between != nil {
		m["between"] = []float64{f.Between[0], f.Between[1]}
	}
	if f.LenMin > 0 {
		m["len_min"] = f.LenMin
	}
	if f.Elem != nil {
		key := "elements"
		if f.Type == config.TMap {
			key = "values"
			m["keys"] = map[string]any{"type": "string"}
		}
		m[key] = fieldJSON(f.Elem)
	}
	if len(f.Fields) > 0 {
		sub := make([]any, 0, len(f.Fields))
		for _, sf := range f.Fields {
			sub = append(sub, map[string]any{sf.Name: fieldJSON(sf)})
		}
		m["fields"] = sub
	}
	return m
}

// handleValidateEntity is POST /schemas/{entity}/validate (decK's online
// validation): the body is checked but nothing is stored.
func (a *api) handleValidateEntity(w http.ResponseWriter, r *http.Request) {
	t := schemaTable(r.PathValue("entity"))
	if t == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "No entity named '" + r.PathValue("entity") + "'"})
		return
	}
	a.validateOnly(w, r, t)
}

func (a *api) handleValidatePlugin(w http.ResponseWriter, r *http.Request) {
	a.validateOnly(w, r, config.TablePlugins)
}

func (a *api) validateOnly(w http.ResponseWriter, r *http.Request, table string) {
	values, ok := a.readEntityInput(w, r, table)
	if !ok {
		return
	}
	if _, err := config.Prepare(table, values, nil, a.writeOpts().Plugins); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "schema validation successful"})
}

func availableWeight(state string, w int) int {
	if state == "UNHEALTHY" || state == "DNS_ERROR" {
		return 0
	}
	return w
}

// healthchecksOn mirrors Kong: checking is on when an active interval or a
// passive unhealthy threshold is non-zero.
func healthchecksOn(u *config.Upstream) bool {
	h := u.Healthchecks
	p := h.Passive.Unhealthy
	return h.Active.Healthy.Interval > 0 || h.Active.Unhealthy.Interval > 0 ||
		p.TCPFailures > 0 || p.Timeouts > 0 || p.HTTPFailures > 0
}

// configBalancerHealth is the balancer's health when nothing probes targets:
// every target counts as healthy, so it is healthy iff some weight exists.
func configBalancerHealth(targets []*config.Target) (string, map[string]any) {
	total := 0
	for _, t := range targets {
		total += t.Weight
	}
	health := "HEALTHY"
	if total == 0 {
		health = "UNHEALTHY"
	}
	return health, map[string]any{"weight": map[string]any{"total": total, "available": total, "unavailable": 0}, "healthy": health == "HEALTHY"}
}

// setTargetHealth is PUT|POST /upstreams/{u}/targets/{t}/healthy|unhealthy.
func (a *api) setTargetHealth(healthy bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := a.store.Current()
		u := c.Upstream(r.PathValue("upstream"))
		if u == nil {
			notFound(w)
			return
		}
		t := c.FindTarget(u.ID, r.PathValue("target"))
		if t == nil {
			notFound(w)
			return
		}
		if a.opts.Health == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "health checks are not available on this node"})
			return
		}
		if err := a.opts.Health.SetTargetHealth(u.ID, t.ID, healthy); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
