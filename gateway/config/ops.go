package config

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// PluginValidator checks a plugin's config and fills its defaults; fieldErrs
// is Kong's nested "config" errors object. known is false for a plugin the
// gateway does not have. admin.PluginSchemas satisfies it.
type PluginValidator interface {
	Validate(name string, cfg map[string]any) (normalized map[string]any, fieldErrs map[string]any, known bool)
}

// WriteOptions carries what a write needs beyond the input.
type WriteOptions struct {
	Plugins PluginValidator // nil: any plugin name with any config is accepted
	Now     time.Time       // zero: time.Now()
	// NewID makes ids for entities that arrive without one; nil: random UUIDv4.
	NewID func(table string, m map[string]any) string
	// KeepTimestamps keeps a given updated_at (declarative reloads of a dump).
	KeepTimestamps bool
}

func (o WriteOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// Prepare turns raw input into a normalized, schema-valid entity map: it
// expands shorthands (service url), normalizes targets, generates key-auth
// keys, fills defaults and validates, including the plugin's own config. base
// is the existing entity for PATCH (nil otherwise). Checks that need the rest
// of the configuration (foreign keys, uniqueness) happen in Config.Save.
func Prepare(table string, input, base map[string]any, pv PluginValidator) (map[string]any, *Error) {
	s := Schemas[table]
	if s == nil {
		return nil, &Error{Code: CodeSchemaViolation, Name: codeNames[CodeSchemaViolation], Message: "unknown entity " + table, Status: 400}
	}
	input = deepCopyMap(input)
	if input == nil {
		input = map[string]any{}
	}
	pre := map[string]any{}
	switch table {
	case TableServices:
		if err := expandServiceURL(input); err != nil {
			pre["url"] = err.Error()
		}
	case TableTargets:
		if t, ok := input["target"].(string); ok && checkTarget(t) == "" {
			input["target"] = NormalizeTarget(t)
		}
	case TableUpstreams:
		upstreamShorthands(input)
	case TableRoutes:
		// The grpc subschema's strip_path defaults to false.
		if _, given := input["strip_path"]; !given && base == nil {
			if protos, ok := input["protocols"].([]any); ok && routeSubschema(protos) == "grpc" {
				input["strip_path"] = false
			}
		}
	case TableKeyAuth:
		if base == nil {
			if k, present := input["key"]; !present || k == nil {
				input["key"] = randomKey()
			}
		}
	}
	out, errs := s.Normalize(input, base)
	for k, v := range pre {
		if errs == nil {
			errs = map[string]any{}
		}
		errs[k] = v
	}
	if table == TablePlugins && errs == nil {
		_, protocolsGiven := input["protocols"]
		errs = preparePlugin(out, pv, base == nil && !protocolsGiven)
	}
	if errs == nil {
		errs = invalidUTF8Fields(out)
	}
	if errs != nil {
		return nil, SchemaViolation(errs)
	}
	return out, nil
}

// invalidUTF8Fields reports, per top-level field, invalid UTF-8 that the
// typed checks cannot see: map keys and schema-less values (a plugin's
// config). The store's JSON would replace it with U+FFFD. The walk is as deep
// as the input, which the decoders bound to MaxNesting.
func invalidUTF8Fields(m map[string]any) map[string]any {
	var errs map[string]any
	for _, k := range sortedKeys(m) {
		if msg := firstInvalidUTF8(m[k]); msg != "" {
			if errs == nil {
				errs = map[string]any{}
			}
			errs[k] = msg
		}
	}
	return errs
}

func firstInvalidUTF8(v any) string {
	switch x := v.(type) {
	case string:
		return invalidUTF8Msg(x)
	case []any:
		for _, e := range x {
			if msg := firstInvalidUTF8(e); msg != "" {
				return msg
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if msg := invalidUTF8Msg(k); msg != "" {
				return msg
			}
			if msg := firstInvalidUTF8(x[k]); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// PluginConfigMessage is the key of a plugin validator's configErrs that
// holds the message of a check on the config record as a whole (Kong's
// custom_validator on "config"): alone, it becomes the config field's error.
const PluginConfigMessage = "@message"

// PluginEntityValidator is optionally implemented by a PluginValidator that
// can tell checks of the plugin entity as a whole (Kong's "@entity" at the top
// of "fields") from checks inside its config.
type PluginEntityValidator interface {
	ValidateEntity(name string, cfg map[string]any) (normalized, configErrs map[string]any, entityErrs []any, known bool)
}

// PluginScopes is optionally implemented by a PluginValidator that knows a
// plugin's default protocols and whether it may be scoped to a consumer
// (Kong's typedefs.no_consumer for authentication plugins).
type PluginScopes interface {
	Protocols(name string) ([]string, bool)
	ConsumerScopable(name string) bool
}

// preparePlugin validates a plugin's config through pv and applies the
// plugin's own defaults and restrictions; it returns Kong's field errors.
func preparePlugin(out map[string]any, pv PluginValidator, defaultProtocols bool) map[string]any {
	name, _ := out["name"].(string)
	cfg, isMap := out["config"].(map[string]any)
	if out["config"] != nil && !isMap {
		return map[string]any{"config": MsgRecord}
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	if pv == nil {
		out["config"] = cfg
		return nil
	}
	var (
		norm, cfgErrs map[string]any
		entErrs       []any
		known         bool
	)
	if ev, ok := pv.(PluginEntityValidator); ok {
		norm, cfgErrs, entErrs, known = ev.ValidateEntity(name, cfg)
	} else {
		norm, cfgErrs, known = pv.Validate(name, cfg)
	}
	if !known {
		return map[string]any{"name": fmt.Sprintf("plugin '%s' not enabled; add it to the 'plugins' configuration property", name)}
	}
	errs := map[string]any{}
	if msg, ok := cfgErrs[PluginConfigMessage].(string); ok && len(cfgErrs) == 1 {
		// A custom_validator on the whole config record: Kong reports its
		// message as the config field's error ("config": "The limit for
		// hour(10.0) cannot be lower than ...").
		errs["config"] = msg
	} else if len(cfgErrs) > 0 {
		errs["config"] = cfgErrs
	}
	if len(entErrs) > 0 {
		errs["@entity"] = entErrs
	}
	if ps, ok := pv.(PluginScopes); ok {
		if out["consumer"] != nil && !ps.ConsumerScopable(name) {
			errs["consumer"] = "value must be null"
		}
		if protos, ok := ps.Protocols(name); ok && defaultProtocols && len(protos) > 0 {
			list := make([]any, len(protos))
			for i, p := range protos {
				list[i] = p
			}
			out["protocols"] = list
		}
	}
	if len(errs) > 0 {
		return errs
	}
	out["config"] = norm
	return nil
}

// expandServiceURL replaces the url shorthand with protocol, host, port and
// path the way Kong's services schema does: LuaSocket's url.parse splits the
// string, and whatever it yields is validated as the four fields, so a bad
// url is reported per field ("invalid url" has no host and the path "invalid
// url": host: required field missing; path: should start with: /). An empty
// url sets nothing.
func expandServiceURL(m map[string]any) error {
	raw, present := m["url"]
	if !present {
		return nil
	}
	delete(m, "url")
	if raw == nil {
		return nil
	}
	s, ok := raw.(string)
	if !ok {
		return errors.New(msgString)
	}
	u, ok := parseSocketURL(s)
	if !ok {
		return nil
	}
	port, portErr := strconv.Atoi(u.port)
	hasPort := portErr == nil && u.port != ""
	protocol := u.scheme
	if protocol == "" {
		switch {
		case hasPort && port == 80:
			protocol = "http"
		case hasPort && port == 443:
			protocol = "https"
		default:
			protocol = "http"
		}
	}
	m["protocol"] = protocol
	if u.host != "" {
		m["host"] = u.host
	} else {
		m["host"] = nil
	}
	switch {
	case hasPort:
		m["port"] = float64(port)
	case u.hasPort:
		m["port"] = u.port // not a number: the schema says so
	case protocol == "https":
		m["port"] = 443.0
	default:
		m["port"] = 80.0
	}
	if u.path != "" {
		m["path"] = u.path
	} else {
		m["path"] = nil
	}
	return nil
}

// socketURL is what LuaSocket's url.parse yields (the parts Kong reads).
type socketURL struct {
	scheme, host, port, path string
	hasPort                  bool
}

// parseSocketURL splits s as LuaSocket's url.parse (RFC 2396 style, no
// validation): fragment, scheme, //authority, query and params come off in
// that order and whatever is left is the path. The empty string is no url.
func parseSocketURL(s string) (socketURL, bool) {
	var u socketURL
	if s == "" {
		return u, false
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ':'); i > 0 && isSchemeStart(s[0]) && isScheme(s[1:i]) {
		u.scheme, s = s[:i], s[i+1:]
	}
	authority, hasAuthority := "", false
	if strings.HasPrefix(s, "//") {
		rest := s[2:]
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		authority, s, hasAuthority = rest[:end], rest[end:], true
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	u.path = s
	if !hasAuthority {
		return u, true
	}
	if i := strings.IndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.Contains(authority[i+1:], "]") {
		u.port, u.hasPort, authority = authority[i+1:], true, authority[:i]
	}
	if len(authority) > 2 && authority[0] == '[' && authority[len(authority)-1] == ']' {
		authority = authority[1 : len(authority)-1]
	}
	u.host = authority
	return u, true
}

func isSchemeStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isSchemeStart(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// upstreamShorthands are the upstreams schema's shorthand_fields, in order
// (kong/db/schema/entities/upstreams.lua): algorithm least-connections or
// latency clears hash_on; then a hash_on other than none makes the algorithm
// consistent-hashing, none makes it round-robin, and null is none.
func upstreamShorthands(in map[string]any) {
	if alg, present := in["algorithm"]; present {
		if alg == "least-connections" || alg == "latency" {
			in["hash_on"] = nil
		}
	}
	h, present := in["hash_on"]
	if !present {
		return
	}
	switch h {
	case nil:
		in["hash_on"] = "none"
	case "none":
		in["algorithm"] = "round-robin"
	default:
		in["algorithm"] = "consistent-hashing"
	}
}

// ResolveForeign is Kong's resolve_foreign (kong/db/dao/init.lua), run on
// Admin API input before it is validated: a foreign value without a valid
// id that names the referenced entity by a unique field ({"name": "x"}) is
// replaced by that entity's id; a name that matches nothing is code 13 for
// every such field, before any schema violation is reported.
func ResolveForeign(c *Config, table string, input map[string]any) *Error {
	unresolved := map[string]map[string]any{}
	parents := map[string]string{}
	for _, f := range foreignFields(table) {
		ref, ok := input[f.Name].(map[string]any)
		if !ok {
			continue
		}
		if id, ok := ref["id"].(string); ok && IsUUID(id) {
			continue
		}
		rs := Schemas[f.Reference]
		tried := map[string]any{}
		var found Entity
		for _, uf := range rs.Fields {
			if !uf.Unique || uf.Name == "id" {
				continue
			}
			v, ok := ref[uf.Name].(string)
			if !ok {
				continue
			}
			if _, bad := normalizeValue(uf, v, entityValues); bad != nil {
				continue
			}
			if found = c.FindBy(f.Reference, uf.Name, v); found != nil {
				break
			}
			tried[uf.Name] = v
		}
		if found != nil {
			input[f.Name] = map[string]any{"id": found.EntityID()}
			continue
		}
		if len(tried) > 0 {
			unresolved[f.Name] = tried
			parents[f.Name] = f.Reference
		}
	}
	if len(unresolved) > 0 {
		return foreignKeysUnresolved(unresolved, parents)
	}
	return nil
}

// foreignFields lists table's foreign-key fields that point at tables the
// gateway stores (certificates are not stored, so those stay unchecked).
func foreignFields(table string) []*Field {
	var out []*Field
	for _, f := range Schemas[table].Fields {
		if f.Type == TForeign && f.Reference != "certificates" {
			out = append(out, f)
		}
	}
	return out
}

// Save stores a prepared entity map in c: it resolves foreign keys given by
// name, checks that they exist and that unique fields stay unique, keeps the
// id and created_at of existing (nil for a new entity), stamps times, and
// returns the stored entity. On error c is unchanged.
func (c *Config) Save(table string, m map[string]any, existing Entity, o WriteOptions) (Entity, error) {
	m = deepCopyMap(m)
	for _, f := range foreignFields(table) {
		ref, ok := m[f.Name].(map[string]any)
		if !ok {
			continue
		}
		var target Entity
		if id, ok := ref["id"].(string); ok {
			target = c.Get(f.Reference, id)
			if target == nil {
				return nil, ForeignKeyViolation(f.Name, ref, f.Reference)
			}
		} else {
			// Kong's resolve_foreign: try each unique field the reference
			// names; a miss is code 13, foreign keys unresolved.
			unresolved := map[string]any{}
			for _, uf := range Schemas[f.Reference].Fields {
				if !uf.Unique || uf.Name == "id" {
					continue
				}
				v, ok := ref[uf.Name].(string)
				if !ok {
					continue
				}
				if target = c.FindBy(f.Reference, uf.Name, v); target != nil {
					break
				}
				unresolved[uf.Name] = v
			}
			if target == nil {
				if len(unresolved) == 0 {
					return nil, ForeignKeyViolation(f.Name, ref, f.Reference)
				}
				return nil, ForeignKeysUnresolved(f.Name, unresolved, f.Reference)
			}
		}
		m[f.Name] = map[string]any{"id": target.EntityID()}
	}
	now := o.now()
	if existing != nil {
		old := EntityMap(existing)
		m["id"] = existing.EntityID()
		m["created_at"] = old["created_at"]
	} else {
		if id, _ := m["id"].(string); id == "" {
			if o.NewID != nil {
				m["id"] = o.NewID(table, m)
			} else {
				m["id"] = uuid.NewString()
			}
		}
		if m["created_at"] == nil {
			m["created_at"] = stamp(table, now)
		}
	}
	if table != TableKeyAuth && !(o.KeepTimestamps && m["updated_at"] != nil) {
		m["updated_at"] = stamp(table, now)
	}
	self := ""
	if existing != nil {
		self = existing.EntityID()
	}
	if err := c.checkUnique(table, m, self); err != nil {
		return nil, err
	}
	if existing == nil && c.Get(table, m["id"].(string)) != nil {
		return nil, &Error{Code: 3, Name: "primary key violation",
			Message: fmt.Sprintf("primary key violation on key '%s'", luaPretty(map[string]any{"id": m["id"]})),
			Fields:  map[string]any{"id": m["id"]}, Status: 400}
	}
	e, err := decodeEntity(table, m)
	if err != nil {
		return nil, err
	}
	c.put(table, e)
	return e, nil
}

func stamp(table string, t time.Time) float64 {
	if table == TableTargets {
		// Kong's targets carry millisecond float seconds.
		return float64(t.UnixMilli()) / 1000
	}
	return float64(t.Unix())
}

// uniqueKeys are the unique constraints of a table: each is the set of fields
// whose combined value must be unique.
func uniqueKeys(table string) [][]string {
	var out [][]string
	for _, f := range Schemas[table].Fields {
		if f.Unique {
			out = append(out, []string{f.Name})
		}
	}
	switch table {
	case TableTargets:
		out = append(out, []string{"target", "upstream"})
	case TablePlugins:
		// Kong's plugins cache_key: one instance of a plugin per scope.
		out = append(out, []string{"consumer", "name", "route", "service"})
	}
	return out
}

func (c *Config) checkUnique(table string, m map[string]any, self string) error {
	keys := uniqueKeys(table)
	if c.idx != nil {
		for _, key := range keys {
			vals := make([]any, len(key))
			for i, f := range key {
				vals[i] = normRef(m[f])
			}
			s, ok := uniqueIndexKey(key, vals)
			if id, taken := c.idx.unique[table][s]; ok && taken && id != self {
				fields := map[string]any{}
				for i, f := range key {
					fields[f] = vals[i]
				}
				return UniqueViolation(fields)
			}
		}
		return nil
	}
	rows := c.Rows(table)
	for _, key := range keys {
		if len(key) == 1 && m[key[0]] == nil {
			continue
		}
		for _, e := range rows {
			if self != "" && e.EntityID() == self {
				continue
			}
			same := true
			for _, f := range key {
				if !equalJSON(normRef(m[f]), uniqueValue(e, f)) {
					same = false
					break
				}
			}
			if same {
				fields := map[string]any{}
				for _, f := range key {
					fields[f] = normRef(m[f])
				}
				return UniqueViolation(fields)
			}
		}
	}
	return nil
}

// uniqueValue is e's value of a unique-key field in JSON shape, read without
// marshalling the entity (uniqueness is checked against every row on writes).
func uniqueValue(e Entity, field string) any {
	str := func(s *string) any {
		if s == nil {
			return nil
		}
		return *s
	}
	ref := func(r *Ref) any {
		if r == nil {
			return nil
		}
		return map[string]any{"id": r.ID}
	}
	switch x := e.(type) {
	case *Service:
		return str(x.Name)
	case *Route:
		return str(x.Name)
	case *Upstream:
		return x.Name
	case *Consumer:
		if field == "custom_id" {
			return str(x.CustomID)
		}
		return str(x.Username)
	case *Target:
		if field == "upstream" {
			return ref(x.Upstream)
		}
		return x.Target
	case *KeyAuthCredential:
		return x.Key
	case *Plugin:
		switch field {
		case "name":
			return x.Name
		case "instance_name":
			return str(x.InstanceName)
		case "service":
			return ref(x.Service)
		case "route":
			return ref(x.Route)
		case "consumer":
			return ref(x.Consumer)
		}
	}
	return nil
}

func normRef(v any) any {
	if r, ok := v.(map[string]any); ok {
		return map[string]any{"id": r["id"]}
	}
	return v
}

// Delete removes the row of table with id and everything that depends on it:
// a service's routes and plugins (and the routes' plugins), a route's plugins,
// an upstream's targets, a consumer's credentials and plugins. Kong refuses to
// delete a service that still has routes; the tutorial relies on the cascade.
// It reports whether the row existed.
func (c *Config) Delete(table, id string) bool {
	c.idx = nil // the index only follows additions
	if c.Get(table, id) == nil {
		return false
	}
	switch table {
	case TableServices:
		for _, r := range c.RoutesOf(id) {
			c.Delete(TableRoutes, r.ID)
		}
		c.Plugins = removeRows(c.Plugins, func(p *Plugin) bool { return p.Service != nil && p.Service.ID == id })
		c.Services = removeRows(c.Services, func(s *Service) bool { return s.ID == id })
	case TableRoutes:
		c.Plugins = removeRows(c.Plugins, func(p *Plugin) bool { return p.Route != nil && p.Route.ID == id })
		c.Routes = removeRows(c.Routes, func(r *Route) bool { return r.ID == id })
	case TableUpstreams:
		c.Targets = removeRows(c.Targets, func(t *Target) bool { return t.Upstream != nil && t.Upstream.ID == id })
		c.Upstreams = removeRows(c.Upstreams, func(u *Upstream) bool { return u.ID == id })
	case TableTargets:
		c.Targets = removeRows(c.Targets, func(t *Target) bool { return t.ID == id })
	case TableConsumers:
		c.KeyAuthCredentials = removeRows(c.KeyAuthCredentials, func(k *KeyAuthCredential) bool { return k.Consumer != nil && k.Consumer.ID == id })
		c.Plugins = removeRows(c.Plugins, func(p *Plugin) bool { return p.Consumer != nil && p.Consumer.ID == id })
		c.Consumers = removeRows(c.Consumers, func(x *Consumer) bool { return x.ID == id })
	case TablePlugins:
		c.Plugins = removeRows(c.Plugins, func(p *Plugin) bool { return p.ID == id })
	case TableKeyAuth:
		c.KeyAuthCredentials = removeRows(c.KeyAuthCredentials, func(k *KeyAuthCredential) bool { return k.ID == id })
	}
	return true
}

// Insert prepares and saves a new entity.
func (c *Config) Insert(table string, input map[string]any, o WriteOptions) (Entity, error) {
	m, err := Prepare(table, input, nil, o.Plugins)
	if err != nil {
		return nil, err
	}
	return c.Save(table, m, nil, o)
}

// Patch merges input over existing (Kong's PATCH) and saves it.
func (c *Config) Patch(table string, existing Entity, input map[string]any, o WriteOptions) (Entity, error) {
	m, err := PreparePatch(table, existing, input, o.Plugins)
	if err != nil {
		return nil, err
	}
	return c.Save(table, m, existing, o)
}

// PreparePatch is Patch's validation: input merged over existing, ready for
// Save with the same existing entity.
func PreparePatch(table string, existing Entity, input map[string]any, pv PluginValidator) (map[string]any, error) {
	for _, k := range []string{"id", "created_at", "updated_at"} {
		delete(input, k)
	}
	m, err := Prepare(table, input, EntityMap(existing), pv)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Replace validates input as a whole new body for existing (Kong's PUT on an
// existing row): fields not given return to their defaults.
func (c *Config) Replace(table string, existing Entity, input map[string]any, o WriteOptions) (Entity, error) {
	m, err := PrepareReplace(table, existing.EntityID(), input, o.Plugins)
	if err != nil {
		return nil, err
	}
	return c.Save(table, m, existing, o)
}

// PrepareReplace is Replace's validation of input as the new body of the
// entity with id; it does not depend on the entity's current content.
func PrepareReplace(table, id string, input map[string]any, pv PluginValidator) (map[string]any, error) {
	// The stored timestamps win, but a malformed one is still Kong's schema
	// violation (created_at: expected an integer), as on create.
	errs := map[string]any{}
	for _, k := range []string{"created_at", "updated_at"} {
		if v := input[k]; v != nil {
			if f := Schemas[table].Field(k); f != nil {
				if _, e := normalizeValue(f, v, entityValues); e != nil {
					errs[k] = e
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, SchemaViolation(errs)
	}
	delete(input, "created_at")
	delete(input, "updated_at")
	input["id"] = id
	m, err := Prepare(table, input, nil, pv)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// SameEntity reports whether a and b hold the same content: a write prepared
// against a (outside the store's lock) may commit over b only then.
func SameEntity(a, b Entity) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
