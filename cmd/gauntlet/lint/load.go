package lint

import (
	"errors"
	"fmt"
	"io"
	"math"
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
	pos    map[string]*entityPos // entity id → position
}

// lintNS names the ids lint gives entities without one, so each id is also a
// key back to the entity's place in the file.
var lintNS = uuid.MustParse("0b8f1c3e-61a4-4c8e-9a57-6c696e742d31")

// Parse validates data exactly as the gateway does at start (the same loader
// and plugin schemas) and maps every entity to its path and line. Invalid
// input is an *InputError carrying Kong's per-entity messages.
func Parse(file string, data []byte) (*Parsed, error) {
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
	// First the gateway's own load of the untouched bytes: its verdict and its
	// messages are the ones a user gets when the gateway starts with this file.
	opts := config.DeclarativeOptions{Plugins: pluginSchemas{}, Now: time.Unix(0, 0)}
	if _, err := config.LoadDeclarativeWith(data, opts); err != nil {
		return nil, &InputError{fmt.Errorf("%s: %s", file, describeLoadError(err))}
	}
	// Then the same load again with an id stamped on every entity that has
	// none, so each loaded entity leads back to its place in the file.
	var raw any
	if err := top.Decode(&raw); err != nil {
		return nil, inputErr("%s: %s", file, oneLine(err.Error()))
	}
	doc, ok := jsonShape(raw).(map[string]any)
	if !ok {
		return nil, inputErr("%s: want a mapping", file)
	}
	p := &Parsed{File: file, pos: map[string]*entityPos{}}
	for _, kv := range pairs(top) {
		table := kv[0].Value
		if config.Schemas[table] == nil || strings.HasPrefix(table, "_") {
			continue
		}
		list, _ := doc[table].([]any)
		p.walkList(table, table, deref(kv[1]), list)
	}
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

func (p *Parsed) walkList(table, path string, seq *yaml.Node, list []any) {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return
	}
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
		for _, ch := range nested[table] {
			for _, kv := range pairs(item) {
				if kv[0].Value == ch.key {
					sub, _ := m[ch.key].([]any)
					p.walkList(ch.table, ipath+"."+ch.key, deref(kv[1]), sub)
				}
			}
		}
	}
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

// jsonShape turns a YAML-decoded tree into encoding/json's shapes (float64
// numbers, string keys), which is what the config package validates.
func jsonShape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonShape(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonShape(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = jsonShape(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Sprint(x)
		}
		return x
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return v
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
