package plugins

import (
	"sort"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Info is what GET / reports for a plugin under plugins.available_on_server.
type Info struct {
	Name     string
	Version  string
	Priority int
}

// handler runs one configured plugin instance in the access phase.
type handler interface {
	access(ctx *Context) *Exit
}

// definition is a bundled plugin: its schema, Kong's entity checks and how to
// build a runnable instance from a validated config.
type definition struct {
	info      Info
	protocols []string // default plugin.protocols
	// noConsumer marks plugins that cannot be scoped to a consumer (Kong's
	// typedefs.no_consumer: authentication plugins run before a consumer exists).
	noConsumer bool
	fields     []*config.Field
	// shorthand translates deprecated top-level config fields into their current
	// place before validation (Kong's shorthand_fields).
	shorthand func(in map[string]any) map[string]any
	// check runs Kong's entity_checks and custom_validator on the normalized config.
	// It may add to cfgErrs (errors inside "config") and returns "@entity" errors
	// of the plugin entity.
	check func(cfg map[string]any, cfgErrs map[string]any) (entityErrs []any)
	// entityJSON lists the schema's entity_checks for /schemas/plugins/{name}.
	entityJSON []any
	build      func(b *builder, p *config.Plugin, cfg map[string]any) (handler, error)
}

var registry = map[string]*definition{}

func register(d *definition) { registry[d.info.Name] = d }

// Available lists the bundled plugins, highest priority first (the order they run).
func Available() []Info {
	out := make([]Info, 0, len(registry))
	for _, d := range registry {
		out = append(out, d.info)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Protocols returns the default plugin.protocols for a bundled plugin.
func Protocols(name string) ([]string, bool) {
	d, ok := registry[name]
	if !ok {
		return nil, false
	}
	return append([]string(nil), d.protocols...), true
}

// ConsumerScopable reports whether a plugin may be configured on a consumer.
// Kong refuses consumer-scoped authentication plugins (the consumer field must be
// null); the Admin API enforces that with this.
func ConsumerScopable(name string) bool {
	d, ok := registry[name]
	return ok && !d.noConsumer
}

// Validate checks a plugin config against the plugin's schema and Kong's checks,
// in the shape the Admin API consumes. normalized is the config with every field
// present and defaults filled in (what the Admin API stores and returns).
// fieldErrs is nil when the config is valid; otherwise it is Kong's errors for the
// "config" field, e.g. {"minute": "expected a number"} or {"@entity": ["The
// limit for hour(1.0) cannot be lower than the limit for minute(2.0)"]}. Checks
// Kong runs on the plugin entity (at_least_one_of, conditional) are carried in
// the same "@entity" list; ValidateEntity keeps them apart. known is false for a
// plugin this gateway does not have.
func Validate(name string, cfg map[string]any) (normalized map[string]any, fieldErrs map[string]any, known bool) {
	norm, cfgErrs, entityErrs, known := ValidateEntity(name, cfg)
	if !known {
		return nil, nil, false
	}
	if len(entityErrs) > 0 {
		if cfgErrs == nil {
			cfgErrs = map[string]any{}
		}
		prev, _ := cfgErrs["@entity"].([]any)
		cfgErrs["@entity"] = append(append([]any(nil), entityErrs...), prev...)
	}
	return norm, cfgErrs, true
}

// ValidateEntity is Validate with Kong's exact placement of errors: configErrs
// is the "config" member of the schema-violation "fields" object, entityErrs
// its "@entity" member (checks of the plugin entity as a whole).
func ValidateEntity(name string, cfg map[string]any) (normalized, configErrs map[string]any, entityErrs []any, known bool) {
	d, ok := registry[name]
	if !ok {
		return nil, nil, nil, false
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	if d.shorthand != nil {
		cfg = d.shorthand(cfg)
	}
	norm, cfgErrs := config.NormalizePluginConfig(d.fields, cfg)
	if cfgErrs == nil {
		cfgErrs = map[string]any{}
	}
	if d.check != nil {
		entityErrs = d.check(norm, cfgErrs)
	}
	if len(cfgErrs) == 0 {
		cfgErrs = nil
	}
	return norm, cfgErrs, entityErrs, true
}

// Schema returns the Kong-shaped schema served at /schemas/plugins/{name}: the
// plugin entity's fields with "config" as a record, plus entity_checks. go-kong
// and decK read config defaults from it.
func Schema(name string) (any, bool) {
	d, ok := registry[name]
	if !ok {
		return nil, false
	}
	consumer := &config.Field{Name: "consumer", Type: config.TForeign, Reference: "consumers"}
	if d.noConsumer {
		consumer.Extra = map[string]any{"eq": nil} // Kong's typedefs.no_consumer
	}
	s := map[string]any{
		"name": name,
		"fields": config.FieldsJSON([]*config.Field{
			consumer,
			{Name: "protocols", Type: config.TSet, Required: true, Default: config.StringValues(d.protocols...),
				Elem: &config.Field{Type: config.TString, OneOf: config.AllProtocols}},
			{Name: "config", Type: config.TRecord, Required: true, Fields: d.fields},
		}),
	}
	// Kong always sends entity_checks, an empty array when there are none
	// (04-plugins_routes_spec: "returns the schema of all bundled plugins").
	s["entity_checks"] = []any{}
	if len(d.entityJSON) > 0 {
		s["entity_checks"] = d.entityJSON
	}
	return s, true
}

// DBLessConfigErrors is what Kong's plugin schemas refuse only when the node
// has no database (database=off): rate-limiting's policy is one of local and
// redis there (kong/plugins/rate-limiting/schema.lua is_dbless), "cluster"
// needing a database to count in. Nil when cfg is fine.
func DBLessConfigErrors(name string, cfg map[string]any) map[string]any {
	if name == "rate-limiting" {
		if p, _ := cfg["policy"].(string); p == "cluster" {
			return map[string]any{"policy": "expected one of: local, redis"}
		}
	}
	return nil
}
