package lint

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// MaxFileSize bounds every file lint reads; a kong.yml is kilobytes, so
// anything near this is a mistake (a wrong path, a binary) and not read.
const MaxFileSize = 50 << 20

// InputError is bad input: a missing, oversized or invalid file. The CLI
// prints it as one line and exits 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, a ...any) error { return &InputError{fmt.Errorf(format, a...)} }

// ReadFile reads path after checking its size, so a huge file is refused
// before any of it is read.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &InputError{err}
	}
	if st.IsDir() {
		return nil, inputErr("%s: is a directory", path)
	}
	if st.Size() > MaxFileSize {
		return nil, inputErr("%s: %d bytes is over the %d MB limit", path, st.Size(), MaxFileSize>>20)
	}
	// The limit also holds for files that grow after Stat (pipes, /dev files).
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, inputErr("%s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, inputErr("%s: over the %d MB limit", path, MaxFileSize>>20)
	}
	return data, nil
}

// Location is a place in a file; Line 0 means the file as a whole.
type Location struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// strong marks a setting from a GATEWAY_* variable (wins over KONG_*).
	strong bool
}

// entityPos is where one entity sits in the kong.yml.
type entityPos struct {
	path string         // services[0].routes[1]
	line int            // line of the entity's first key
	keys map[string]int // line of each of its own keys
}

// Parsed is a validated kong.yml: the gateway's own view of it plus where
// each entity was written.
type Parsed struct {
	File   string
	Config *config.Config
	// LeftOut is what Kong accepts and the gateway under test does not
	// implement: plugin entries of bundled plugins it lacks and those plugins'
	// entity lists. None of it is in Config.
	LeftOut []LeftOut
	pos     map[string]*entityPos // entity id → position
	custom  map[string]bool       // the node's custom plugins
}

// lintNS names the ids lint gives entities without one, so each id is also a
// key back to the entity's place in the file.
var lintNS = uuid.MustParse("0b8f1c3e-61a4-4c8e-9a57-6c696e742d31")

// Parse validates data exactly as the gateway does at start (the same loader
// and plugin schemas) and maps every entity to its path and line. Invalid
// input is an *InputError carrying Kong's per-entity messages. Plugins Kong
// bundles and the gateway does not implement are left out (Parsed.LeftOut).
func Parse(file string, data []byte) (*Parsed, error) {
	return parse(file, data, nil)
}

// parse is Parse for a node whose plugins setting adds custom plugins.
func parse(file string, data []byte, custom map[string]bool) (*Parsed, error) {
	// An over-limit document gets the loader's error before yaml.v3 builds
	// its node tree (seconds and GBs for tens of MB).
	if err := config.PrecheckDeclarative(data); err != nil {
		return nil, &InputError{fmt.Errorf("%s: %s", file, describeLoadError(err))}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, inputErr("%s: invalid YAML: %s", file, oneLine(err.Error()))
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, inputErr("%s: empty file, want a kong.yml mapping with _format_version", file)
	}
	top := deref(root.Content[0])
	if top.Kind != yaml.MappingNode {
		return nil, inputErr("%s:%d: the document is a %s, want a mapping (a kong.yml with _format_version)", file, top.Line, kindName(top))
	}
	// Entity lists of plugins Kong bundles and the gateway does not implement
	// (basicauth_credentials, acls, ...) are left out: the loader would refuse
	// them as unknown fields.
	leftOut, err := cutPluginEntities(top)
	if err != nil {
		return nil, inputErr("%s: %s", file, err)
	}
	if len(leftOut) > 0 {
		cut, err := yaml.Marshal(top)
		if err != nil {
			return nil, inputErr("%s: leaving out %s: %s", file, leftOut[0].Path, oneLine(err.Error()))
		}
		data = cut
	}
	// First the gateway's own load of the bytes: its verdict and its messages
	// are the ones a user gets when the gateway starts with this file. Plugins
	// Kong bundles and the gateway does not implement pass with any config
	// here; the second load below goes without them.
	lenient := config.DeclarativeOptions{Plugins: leniently{custom: custom}, Now: time.Unix(0, 0)}
	if _, err := config.LoadDeclarativeWith(data, lenient); err != nil {
		return nil, &InputError{fmt.Errorf("%s: %s", file, describeLoadError(err))}
	}
	// Then the same load again with an id stamped on every entity that has
	// none, so each loaded entity leads back to its place in the file.
	var raw any
	if err := top.Decode(&raw); err != nil {
		return nil, inputErr("%s: %s", file, oneLine(err.Error()))
	}
	doc, ok := config.JSONShape(raw).(map[string]any)
	if !ok {
		return nil, inputErr("%s: want a mapping", file)
	}
	p := &Parsed{File: file, pos: map[string]*entityPos{}, LeftOut: leftOut, custom: custom}
	for _, kv := range pairs(top) {
		table := kv[0].Value
		if config.Schemas[table] == nil || strings.HasPrefix(table, "_") {
			continue
		}
		if list, ok := doc[table].([]any); ok {
			doc[table] = p.walkList(table, table, deref(kv[1]), list)
		}
	}
	opts := config.DeclarativeOptions{Plugins: pluginSchemas{}, Now: time.Unix(0, 0)}
	c, err := config.FromDeclarativeMap(doc, opts)
	if err != nil {
		return nil, &InputError{fmt.Errorf("%s: %s", file, describeLoadError(err))}
	}
	p.Config = c
	return p, nil
}

// nested mirrors the declarative format's nesting (config's children table).
var nested = map[string][]struct{ key, table string }{
	config.TableServices:  {{"routes", config.TableRoutes}, {"plugins", config.TablePlugins}},
	config.TableRoutes:    {{"plugins", config.TablePlugins}},
	config.TableUpstreams: {{"targets", config.TableTargets}},
	config.TableConsumers: {{"keyauth_credentials", config.TableKeyAuth}, {"plugins", config.TablePlugins}},
}

// walkList records where each entity of list (the decoded seq) sits and
// returns list without the plugin entries the gateway does not implement,
// which it records in p.LeftOut.
func (p *Parsed) walkList(table, path string, seq *yaml.Node, list []any) []any {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return list
	}
	drop := map[int]bool{}
	for i, item := range seq.Content {
		item = deref(item)
		if i >= len(list) || item.Kind != yaml.MappingNode {
			continue
		}
		m, ok := list[i].(map[string]any)
		if !ok {
			continue
		}
		ipath := fmt.Sprintf("%s[%d]", path, i)
		id, _ := m["id"].(string)
		if id == "" {
			id = uuid.NewSHA1(lintNS, []byte(ipath)).String()
			m["id"] = id
		}
		pos := &entityPos{path: ipath, line: item.Line, keys: map[string]int{}}
		for _, kv := range pairs(item) {
			pos.keys[kv[0].Value] = kv[0].Line
			if kv[0].Value == "healthchecks" {
				collectKeys(pos.keys, "healthchecks", deref(kv[1]))
			}
		}
		p.pos[id] = pos
		if table == config.TablePlugins {
			if lo, ok := leftOutPlugin(m, ipath, item.Line, p.custom); ok {
				p.LeftOut = append(p.LeftOut, lo)
				drop[i] = true
				continue
			}
		}
		for _, ch := range nested[table] {
			for _, kv := range pairs(item) {
				if kv[0].Value == ch.key {
					if sub, ok := m[ch.key].([]any); ok {
						m[ch.key] = p.walkList(ch.table, ipath+"."+ch.key, deref(kv[1]), sub)
					}
				}
			}
		}
	}
	if len(drop) == 0 {
		return list
	}
	kept := make([]any, 0, len(list)-len(drop))
	for i, e := range list {
		if !drop[i] {
			kept = append(kept, e)
		}
	}
	return kept
}

// collectKeys records the line of every dotted key under a mapping, so a
// finding about healthchecks.active.timeout points at that line.
func collectKeys(into map[string]int, prefix string, n *yaml.Node) {
	for _, kv := range pairs(n) {
		k := prefix + "." + kv[0].Value
		into[k] = kv[0].Line
		collectKeys(into, k, deref(kv[1]))
	}
}

func pairs(n *yaml.Node) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "scalar " + strconv.Quote(n.Value)
	}
	return "non-mapping value"
}

// describeLoadError renders the loader's error tree as one line of
// "path: message" items, Kong's per-entity messages in file terms.
func describeLoadError(err error) string {
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Fields) == 0 {
		return oneLine(err.Error())
	}
	var items []string
	flattenErrs("", ce.Fields, &items)
	sort.Strings(items)
	const max = 10
	more := ""
	if len(items) > max {
		more = fmt.Sprintf("; and %d more", len(items)-max)
		items = items[:max]
	}
	return "invalid declarative configuration: " + oneLine(strings.Join(items, "; ")) + more
}

func flattenErrs(path string, v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if k == "@entity" {
				p = path
			}
			flattenErrs(p, e, out)
		}
	case []any:
		allStrings := true
		for _, e := range x {
			if _, ok := e.(string); !ok {
				allStrings = false
			}
		}
		if allStrings && len(x) > 0 {
			for _, e := range x {
				flattenErrs(path, e, out)
			}
			return
		}
		for i, e := range x {
			if e != nil {
				flattenErrs(fmt.Sprintf("%s[%d]", path, i), e, out)
			}
		}
	case nil:
	default:
		if path == "" || path == "error" {
			*out = append(*out, fmt.Sprint(x))
			return
		}
		*out = append(*out, fmt.Sprintf("%s: %v", path, x))
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// pluginSchemas hands the gateway's bundled plugin schemas to the loader, as
// the gateway's server does.
type pluginSchemas struct{}

func (pluginSchemas) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	return plugins.Validate(name, cfg)
}
func (pluginSchemas) ValidateEntity(name string, cfg map[string]any) (map[string]any, map[string]any, []any, bool) {
	return plugins.ValidateEntity(name, cfg)
}
func (pluginSchemas) Protocols(name string) ([]string, bool) { return plugins.Protocols(name) }
func (pluginSchemas) ConsumerScopable(name string) bool      { return plugins.ConsumerScopable(name) }

var (
	_ config.PluginEntityValidator = pluginSchemas{}
	_ config.PluginScopes          = pluginSchemas{}
)

// ParseFor is Parse for the node these settings describe: custom plugins its
// plugins setting names are left out as well (gauntlet check loads what
// remains).
func ParseFor(file string, data []byte, s *Settings) (*Parsed, error) {
	if s == nil {
		s = NewSettings()
	}
	return parse(file, data, customPlugins(s))
}
