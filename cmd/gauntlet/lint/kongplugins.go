package lint

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// kongBundledVersion is the Kong OSS release whose bundled plugins are listed
// below.
const kongBundledVersion = "3.9"

// kongBundledPlugins is every plugin Kong OSS 3.9 bundles: Kong's
// kong/constants.lua, `local plugins = { ... }` exported as BUNDLED_PLUGINS
// (tags 3.9.0 and 3.9.3, github.com/Kong/kong). Every Kong 3.x release bundles
// a subset of it (3.0.0 lacks the ai-* plugins, redirect and
// standard-webhooks). Enterprise plugins (rate-limiting-advanced,
// openid-connect, ...) are not bundled in OSS: Kong OSS refuses a file that
// uses one, and so does lint.
var kongBundledPlugins = map[string]bool{
	"jwt": true, "acl": true, "correlation-id": true, "cors": true, "oauth2": true,
	"tcp-log": true, "udp-log": true, "file-log": true, "http-log": true,
	"key-auth": true, "hmac-auth": true, "basic-auth": true, "ip-restriction": true,
	"request-transformer": true, "response-transformer": true, "request-size-limiting": true,
	"rate-limiting": true, "response-ratelimiting": true,
	"syslog": true, "loggly": true, "datadog": true, "ldap-auth": true, "statsd": true,
	"bot-detection": true, "aws-lambda": true, "request-termination": true, "prometheus": true,
	"proxy-cache": true, "session": true, "acme": true, "grpc-gateway": true, "grpc-web": true,
	"pre-function": true, "post-function": true, "azure-functions": true, "zipkin": true,
	"opentelemetry": true, "ai-proxy": true, "ai-prompt-decorator": true, "ai-prompt-template": true,
	"ai-prompt-guard": true, "ai-request-transformer": true, "ai-response-transformer": true,
	"standard-webhooks": true, "redirect": true,
}

// kongNoConsumerPlugins are the bundled plugins whose schema has
// `consumer = typedefs.no_consumer` in Kong 3.9 (kong/plugins/*/schema.lua):
// Kong refuses them scoped to a consumer ("consumer: value must be null").
var kongNoConsumerPlugins = map[string]bool{
	"acl": true, "acme": true, "ai-request-transformer": true, "basic-auth": true,
	"bot-detection": true, "cors": true, "hmac-auth": true, "jwt": true, "key-auth": true,
	"ldap-auth": true, "oauth2": true, "session": true, "standard-webhooks": true,
}

// kongPluginEntities are the declarative entity lists the bundled plugins add
// to a kong.yml (their daos.lua in Kong 3.9, those exported with the
// configuration), with the plugin that owns each. nestedInConsumer marks those
// with a foreign key to consumers, which a kong.yml may nest in a consumer.
// keyauth_credentials is missing: the gateway implements key-auth.
var kongPluginEntities = map[string]struct {
	plugin           string
	nestedInConsumer bool
}{
	"acls":                  {"acl", true},
	"basicauth_credentials": {"basic-auth", true},
	"hmacauth_credentials":  {"hmac-auth", true},
	"jwt_secrets":           {"jwt", true},
	"oauth2_credentials":    {"oauth2", true},
	"oauth2_tokens":         {"oauth2", false},
	"acme_storage":          {"acme", false},
}

// implemented reports whether the gateway under test has the plugin.
func implemented(name string) bool {
	_, ok := plugins.Protocols(name)
	return ok
}

// notImplemented reports whether name is a plugin Kong bundles and the
// gateway under test does not have: lint leaves such plugins out.
func notImplemented(name string) bool {
	return kongBundledPlugins[name] && !implemented(name)
}

// customPlugins are the names the node's `plugins` setting (KONG_PLUGINS)
// adds to Kong's bundled ones: a node with plugins = bundled,my-auth loads a
// file that uses my-auth. lint cannot know their schemas, nor can the
// gateway under test run them: they are left out like the bundled ones it
// lacks.
func customPlugins(s *Settings) map[string]bool {
	out := map[string]bool{}
	if s == nil {
		return out
	}
	for _, n := range strings.Split(s.Get("plugins"), ",") {
		n = strings.TrimSpace(n)
		if n != "" && n != "bundled" && n != "off" && !kongBundledPlugins[n] && !implemented(n) {
			out[n] = true
		}
	}
	return out
}

// LeftOut is something in the kong.yml that Kong accepts but the gateway
// under test does not implement: a plugin entry, or a list of a plugin's
// entities (credentials). It is not in Parsed.Config.
type LeftOut struct {
	Plugin string // the plugin's name
	// Table is the entity list, for a plugin's entities (basicauth_credentials);
	// empty for a plugin entry. Count is how many entities that list holds.
	Table string
	Count int
	// InstanceName is the plugin entry's instance_name, if any.
	InstanceName string
	Disabled     bool // the plugin entry says enabled: false
	// Custom marks a plugin Kong does not bundle that the node's plugins
	// setting names.
	Custom bool
	Path   string // plugins[1], services[0].plugins[0], consumers[2].acls
	Line   int
}

// leniently is the loader's plugin validator for lint's first load: the
// gateway's schemas for the plugins it has, and for the other plugins Kong
// bundles, any config (the gateway under test ignores them; their schemas are
// Kong's to check). A name Kong does not bundle stays unknown.
// The node's custom plugins pass likewise.
type leniently struct {
	pluginSchemas
	custom map[string]bool
}

func (l leniently) leftOut(name string) bool { return notImplemented(name) || l.custom[name] }

func (l leniently) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	if l.leftOut(name) {
		return cfg, nil, true
	}
	return l.pluginSchemas.Validate(name, cfg)
}

func (l leniently) ValidateEntity(name string, cfg map[string]any) (map[string]any, map[string]any, []any, bool) {
	if l.leftOut(name) {
		return cfg, nil, nil, true
	}
	return l.pluginSchemas.ValidateEntity(name, cfg)
}

func (l leniently) ConsumerScopable(name string) bool {
	if l.leftOut(name) {
		return !kongNoConsumerPlugins[name]
	}
	return l.pluginSchemas.ConsumerScopable(name)
}

var (
	_ config.PluginEntityValidator = leniently{}
	_ config.PluginScopes          = leniently{}
)

// maxCopiedValues bounds the values the copies of cutPluginEntities add, so
// a file of many aliases to one large removed list cannot make the re-encoded
// document huge. The gateway's loader bounds a document at a million values.
const maxCopiedValues = 1_000_000

// cutPluginEntities removes from the document the entity lists of bundled
// plugins the gateway does not implement (top-level, and nested in
// consumers), which the gateway's loader would refuse as unknown fields, and
// reports each list removed. It changes top in place; an alias elsewhere to
// an anchor inside a removed list becomes a copy of the anchored value.
func cutPluginEntities(top *yaml.Node) ([]LeftOut, error) {
	var out []LeftOut
	removed := map[*yaml.Node]bool{}
	cut := func(m *yaml.Node, prefix string, nestedOnly bool) {
		kept := m.Content[:0:0]
		for _, kv := range pairs(m) {
			e, ok := kongPluginEntities[kv[0].Value]
			if !ok || (nestedOnly && !e.nestedInConsumer) || !notImplemented(e.plugin) {
				kept = append(kept, kv[0], kv[1])
				continue
			}
			n := 0
			if v := deref(kv[1]); v != nil && v.Kind == yaml.SequenceNode {
				n = len(v.Content)
			}
			out = append(out, LeftOut{Plugin: e.plugin, Table: kv[0].Value, Count: n,
				Path: prefix + kv[0].Value, Line: kv[0].Line})
			markTree(kv[1], removed)
		}
		m.Content = kept
	}
	cut(top, "", false)
	for _, kv := range pairs(top) {
		if kv[0].Value != config.TableConsumers {
			continue
		}
		if seq := deref(kv[1]); seq != nil && seq.Kind == yaml.SequenceNode {
			for i, c := range seq.Content {
				if c = deref(c); c.Kind == yaml.MappingNode {
					cut(c, fmt.Sprintf("%s[%d].", config.TableConsumers, i), true)
				}
			}
		}
	}
	if len(removed) > 0 {
		// Each alias to a removed node gets a copy of its own, so no anchor in
		// a removed list is needed any more.
		for n := range removed {
			n.Anchor = ""
		}
		c := &aliasCopier{removed: removed, size: map[*yaml.Node]int{}, budget: maxCopiedValues}
		c.walk(top)
		if c.budget < 0 {
			return out, fmt.Errorf("aliases to the removed lists would copy more than %d values", maxCopiedValues)
		}
	}
	return out, nil
}

// markTree adds n and every node under it (not through aliases) to set.
func markTree(n *yaml.Node, set map[*yaml.Node]bool) {
	if n == nil || set[n] {
		return
	}
	set[n] = true
	for _, c := range n.Content {
		markTree(c, set)
	}
}

// aliasCopier turns each alias to a node of removed into a copy of that node.
// It does not descend into the copies, so it ends on any tree; an alias inside
// a copy to a removed node (a list that refers to itself) fails the
// re-encoding, which is bad input.
type aliasCopier struct {
	removed map[*yaml.Node]bool
	size    map[*yaml.Node]int // values under a removed node, once counted
	budget  int                // values the copies may still add
}

func (c *aliasCopier) walk(n *yaml.Node) {
	if n == nil || c.budget < 0 {
		return
	}
	if n.Kind == yaml.AliasNode {
		if t := n.Alias; c.removed[t] {
			if _, ok := c.size[t]; !ok {
				c.size[t] = countValues(t)
			}
			c.budget -= c.size[t]
			cp := *t
			cp.Line, cp.Column = n.Line, n.Column
			*n = cp
		}
		return
	}
	for _, ch := range n.Content {
		c.walk(ch)
	}
}

// countValues counts the nodes of a tree, not through aliases.
func countValues(n *yaml.Node) int {
	total := 1
	for _, ch := range n.Content {
		total += countValues(ch)
	}
	return total
}

// leftOutPlugin reports a plugin entry of the file when the gateway does not
// implement its plugin.
func leftOutPlugin(m map[string]any, path string, line int, custom map[string]bool) (LeftOut, bool) {
	name, _ := m["name"].(string)
	if !notImplemented(name) && !custom[name] {
		return LeftOut{}, false
	}
	lo := LeftOut{Plugin: name, Path: path, Line: line, Custom: custom[name]}
	lo.InstanceName, _ = m["instance_name"].(string)
	if on, ok := m["enabled"].(bool); ok && !on {
		lo.Disabled = true
	}
	return lo, true
}

func checkPluginNotImplemented(in *Input) []Finding {
	var out []Finding
	for _, lo := range in.LeftOut {
		f := Finding{Entity: "plugin " + lo.Plugin, Path: lo.Path, Location: Location{File: in.File, Line: lo.Line}}
		if lo.InstanceName != "" {
			f.Entity = fmt.Sprintf("plugin %q", lo.InstanceName)
		}
		switch {
		case lo.Table != "":
			f.Entity = lo.Table
			f.Message = fmt.Sprintf("%s (%d, entities of plugin %s) belong to a plugin Kong %s bundles and the gateway "+
				"under test does not implement: left out of what lint and check load", lo.Table, lo.Count, lo.Plugin, kongBundledVersion)
		case lo.Custom:
			f.Message = fmt.Sprintf("plugin %s is not bundled with Kong; the node's plugins setting names it, so Kong "+
				"loads it, but the gateway under test does not implement it: left out of what lint and check load", lo.Plugin)
		default:
			f.Message = fmt.Sprintf("plugin %s is bundled with Kong %s but the gateway under test does not implement it: "+
				"left out of what lint and check load", lo.Plugin, kongBundledVersion)
			if lo.Disabled {
				f.Message += " (it is disabled in the file anyway)"
			}
		}
		out = append(out, f)
	}
	return out
}
