package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"
)

// declarativeNS is the namespace of the UUIDv5 ids given to declarative
// entities that arrive without one, so reloading the same file keeps ids.
var declarativeNS = uuid.MustParse("6d4c7c4e-2f5b-4c1e-9d0a-6761756e746c")

// children lists, per table, the entity lists that may nest inside one of its
// rows and the foreign field that nesting fills in.
var children = map[string][]struct{ key, table, field string }{
	TableServices:  {{"routes", TableRoutes, "service"}, {"plugins", TablePlugins, "service"}},
	TableRoutes:    {{"plugins", TablePlugins, "route"}},
	TableUpstreams: {{"targets", TableTargets, "upstream"}},
	TableConsumers: {{"keyauth_credentials", TableKeyAuth, "consumer"}, {"plugins", TablePlugins, "consumer"}},
}

// pending is one entity of a declarative file, flattened out of its nesting.
type pending struct {
	table string
	m     map[string]any
	path  []any // where its errors go in the error tree: "services", 0, "routes", 1
}

// DeclarativeOptions tunes LoadDeclarativeWith.
type DeclarativeOptions struct {
	Plugins PluginValidator
	Now     time.Time
}

// LoadDeclarative parses a kong.yml (YAML or JSON) into a validated Config.
// Errors are *Error with code 14 and Kong's per-entity error tree.
func LoadDeclarative(data []byte) (*Config, error) {
	return LoadDeclarativeWith(data, DeclarativeOptions{})
}

// LoadDeclarativeWith is LoadDeclarative with a plugin validator.
func LoadDeclarativeWith(data []byte, opts DeclarativeOptions) (*Config, error) {
	raw, err := decodeYAML(data)
	if err != nil {
		return nil, DeclarativeError(map[string]any{"error": "failed parsing declarative configuration: " + err.Error()})
	}
	doc, ok := JSONShape(raw).(map[string]any)
	if !ok {
		return nil, DeclarativeError(map[string]any{"error": "failed parsing declarative configuration: expected an object"})
	}
	return FromDeclarativeMap(doc, opts)
}

// PrecheckDeclarative refuses a declarative document past MaxNesting or
// MaxDeclarativeValues with the error LoadDeclarative gives it, without
// parsing it (ScanYAML): for callers that parse the text themselves first.
func PrecheckDeclarative(data []byte) error {
	if err := ScanYAML(data, MaxDeclarativeValues); err != nil {
		return DeclarativeError(map[string]any{"error": "failed parsing declarative configuration: " + err.Error()})
	}
	return nil
}

// FromDeclarativeMap builds a Config from an already decoded declarative document.
func FromDeclarativeMap(doc map[string]any, opts DeclarativeOptions) (*Config, error) {
	errTree := map[string]any{}
	if f, ok := doc["_format_version"].(float64); ok {
		// An unquoted 3.0 in YAML is a number; read it as the version it means.
		doc["_format_version"] = strconv.FormatFloat(f, 'f', 1, 64)
	}
	switch v := doc["_format_version"].(type) {
	case nil:
		errTree["_format_version"] = MsgRequired
	case string:
		if v != "1.1" && v != "2.1" && v != "3.0" {
			errTree["_format_version"] = "expected one of: 1.1, 2.1, 3.0"
		}
	default:
		errTree["_format_version"] = msgString
	}
	var all []*pending
	keys := sortedKeys(doc)
	// Tables first in dependency order so entity order (and so the output)
	// does not depend on map iteration.
	sort.SliceStable(keys, func(i, j int) bool { return tableRank(keys[i]) < tableRank(keys[j]) })
	for _, k := range keys {
		v := doc[k]
		if strings.HasPrefix(k, "_") {
			continue
		}
		if Schemas[k] == nil {
			errTree[k] = MsgUnknown
			continue
		}
		list, ok := v.([]any)
		if v != nil && !ok {
			errTree[k] = "expected an array"
			continue
		}
		for i, item := range list {
			flatten(k, item, []any{k, i}, nil, &all, errTree)
		}
	}
	if len(errTree) > 0 {
		return nil, DeclarativeError(errTree)
	}
	// Parents before children, file order within a table.
	order := map[string]int{}
	for i, t := range Tables {
		order[t] = i
	}
	sort.SliceStable(all, func(i, j int) bool { return order[all[i].table] < order[all[j].table] })

	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := &Config{idx: newIndex()}
	defer func() { c.idx = nil }() // the Config returned scans, as any other
	wo := WriteOptions{Plugins: opts.Plugins, Now: now, NewID: declarativeID, KeepTimestamps: true}
	// failed holds ids of entities that did not load: their nested children
	// are skipped quietly, their own error already says what is wrong.
	failed := map[string]bool{}
	for _, p := range all {
		if id, ok := p.m["id"].(string); !ok || id == "" {
			p.m["id"] = declarativeID(p.table, p.m)
		}
		id, _ := p.m["id"].(string)
		if refersToFailed(p, failed) {
			failed[id] = true
			continue
		}
		if err := resolveRefs(c, p); err != "" {
			setErr(errTree, p.path, err)
			failed[id] = true
			continue
		}
		m, perr := Prepare(p.table, p.m, nil, opts.Plugins)
		if perr != nil {
			setErr(errTree, p.path, perr.Fields)
			failed[id] = true
			continue
		}
		if _, err := c.Save(p.table, m, nil, wo); err != nil {
			var fields any = err.Error()
			path := p.path
			if e, ok := err.(*Error); ok {
				fields = declarativeMsg(p.table, e)
				// Kong reports a clash on a unique field other than the
				// endpoint key under the entity's endpoint key (or id), not
				// its index: consumers: {bar: "uniqueness violation: ..."}.
				if e.Code == CodeUniqueViolation && len(path) == 2 {
					ek := EndpointKey(p.table)
					if _, onKey := e.Fields[ek]; !onKey || ek == "" {
						key, _ := m[ek].(string)
						if key == "" {
							key = id
						}
						path = []any{p.table, key}
					}
				}
			}
			setErr(errTree, path, fields)
			failed[id] = true
		}
	}
	if len(errTree) > 0 {
		return nil, DeclarativeError(errTree)
	}
	return c, nil
}

// declarativeMsg turns a store error into the per-entity message Kong gives
// in a declarative file.
func declarativeMsg(table string, e *Error) any {
	switch e.Code {
	case CodeUniqueViolation:
		parts := make([]string, 0, len(e.Fields))
		for _, k := range sortedKeys(e.Fields) {
			parts = append(parts, fmt.Sprintf("%s set to '%s'", k, msgValue(e.Fields[k])))
		}
		return fmt.Sprintf("uniqueness violation: '%s' entity with %s already declared", table, strings.Join(parts, ", "))
	case CodeForeignKeyViolation:
		return e.Fields
	}
	return e.Message
}

// flatten walks one entity and its nested children into all.
func flatten(table string, item any, path []any, parent *struct{ field, id string }, all *[]*pending, errTree map[string]any) {
	m, ok := item.(map[string]any)
	if !ok {
		setErr(errTree, path, MsgRecord)
		return
	}
	m = deepCopyMap(m)
	p := &pending{table: table, m: m, path: path}
	if parent != nil {
		m[parent.field] = map[string]any{"id": parent.id}
	}
	var nested []func(id string)
	for _, ch := range children[table] {
		list, present := m[ch.key]
		if !present {
			continue
		}
		delete(m, ch.key)
		items, ok := list.([]any)
		if list != nil && !ok {
			setErr(errTree, append(path, ch.key), "expected an array")
			continue
		}
		nested = append(nested, func(id string) {
			for i, it := range items {
				flatten(ch.table, it, appendPath(path, ch.key, i), &struct{ field, id string }{ch.field, id}, all, errTree)
			}
		})
	}
	if len(nested) > 0 {
		// Children need their parent's id now, so the parent gets its
		// deterministic id before its children are flattened.
		if id, ok := m["id"].(string); !ok || id == "" {
			m["id"] = declarativeID(table, m)
		}
		for _, n := range nested {
			n(m["id"].(string))
		}
	}
	*all = append(*all, p)
}

func appendPath(path []any, more ...any) []any {
	out := make([]any, 0, len(path)+len(more))
	return append(append(out, path...), more...)
}

func refersToFailed(p *pending, failed map[string]bool) bool {
	for _, f := range foreignFields(p.table) {
		if r, ok := p.m[f.Name].(map[string]any); ok {
			if id, ok := r["id"].(string); ok && failed[id] {
				return true
			}
		}
	}
	return false
}

// resolveRefs turns foreign references written as a name (or a bare id) into
// {"id": ...}, looking them up among entities already loaded.
func resolveRefs(c *Config, p *pending) any {
	errs := map[string]any{}
	for _, f := range foreignFields(p.table) {
		v, present := p.m[f.Name]
		if !present || v == nil {
			continue
		}
		var key string
		switch x := v.(type) {
		case string:
			key = x
		case map[string]any:
			if id, ok := x["id"].(string); ok {
				if c.Get(f.Reference, id) == nil {
					errs[f.Name] = fmt.Sprintf("invalid reference '%s' (no such entry in '%s')", id, f.Reference)
				}
				continue
			}
			for _, k := range []string{"name", "username"} {
				if s, ok := x[k].(string); ok {
					key = s
				}
			}
		default:
			continue
		}
		e := c.Find(f.Reference, key)
		if e == nil {
			errs[f.Name] = fmt.Sprintf("invalid reference '%s' (no such entry in '%s')", key, f.Reference)
			continue
		}
		p.m[f.Name] = map[string]any{"id": e.EntityID()}
	}
	if len(errs) > 0 {
		return errs
	}
	return ""
}

// setErr puts v at path in the error tree, building arrays (with null at
// valid positions, as Kong renders them) and objects on the way.
func setErr(tree map[string]any, path []any, v any) {
	setErrAt(tree, path, v)
}

func setErrAt(node any, path []any, v any) any {
	if len(path) == 0 {
		return mergeErr(node, v)
	}
	switch step := path[0].(type) {
	case string:
		m, ok := node.(map[string]any)
		if !ok {
			m = map[string]any{}
		}
		m[step] = setErrAt(m[step], path[1:], v)
		return m
	case int:
		a, _ := node.([]any)
		for len(a) <= step {
			a = append(a, nil)
		}
		a[step] = setErrAt(a[step], path[1:], v)
		return a
	}
	return node
}

func mergeErr(old, v any) any {
	om, ok1 := old.(map[string]any)
	vm, ok2 := v.(map[string]any)
	if ok1 && ok2 {
		for k, x := range vm {
			om[k] = x
		}
		return om
	}
	return v
}

// declarativeID is a UUIDv5 of the entity's table, its parents and its key (or
// its whole content when it has no key), so a reload of the same file gives
// the same ids.
func declarativeID(table string, m map[string]any) string {
	var b strings.Builder
	b.WriteString(table)
	for _, f := range []string{"service", "route", "upstream", "consumer"} {
		if r, ok := m[f].(map[string]any); ok {
			fmt.Fprintf(&b, "|%s=%v", f, r["id"])
		} else if s, ok := m[f].(string); ok {
			fmt.Fprintf(&b, "|%s=%s", f, s)
		}
	}
	key := ""
	if k, ok := m[EndpointKey(table)].(string); ok && k != "" {
		key = k
		if table == TableTargets {
			key = NormalizeTarget(k)
		}
	}
	if table == TablePlugins {
		if n, ok := m["name"].(string); ok {
			b.WriteString("|plugin=" + n)
		}
	}
	if key != "" {
		b.WriteString("|key=" + key)
	} else if table != TablePlugins {
		content := deepCopyMap(m)
		for _, k := range []string{"id", "created_at", "updated_at"} {
			delete(content, k)
		}
		j, _ := json.Marshal(content) // map keys marshal sorted: stable
		b.Write(j)
	}
	return uuid.NewSHA1(declarativeNS, []byte(b.String())).String()
}

// decodeYAML decodes a YAML (or JSON) document within MaxNesting and
// MaxDeclarativeValues. It parses to a node tree first, where an alias is one
// node pointing at its anchor, and counts values as decoding would expand
// them: a "billion laughs" document is refused after MaxDeclarativeValues
// steps instead of being expanded. (yaml.v3's own parser stops at 10,000
// levels, and its alias guard lets a few million expanded values through.)
func decodeYAML(data []byte) (any, error) {
	// Refuse an over-limit document before yaml.v3 builds a node per value.
	if err := ScanYAML(data, MaxDeclarativeValues); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	budget := MaxDeclarativeValues
	if err := checkYAMLNode(&doc, 0, &budget); err != nil {
		return nil, err
	}
	var raw any
	if err := doc.Decode(&raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// checkYAMLNode walks n as decoding expands it, stopping at the first
// limit it breaks, so it recurses at most MaxNesting deep and visits at most
// MaxDeclarativeValues nodes whatever the document.
func checkYAMLNode(n *yaml.Node, depth int, budget *int) error {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		// An alias expands to its anchor's value at this depth.
		return checkYAMLNode(n.Alias, depth, budget)
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			if err := checkYAMLNode(c, depth, budget); err != nil {
				return err
			}
		}
		return nil
	}
	*budget--
	if *budget < 0 {
		return TooManyValues(MaxDeclarativeValues)
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		if depth++; depth > MaxNesting {
			return ErrTooDeep
		}
		for _, c := range n.Content {
			if err := checkYAMLNode(c, depth, budget); err != nil {
				return err
			}
		}
	}
	return nil
}

// JSONShape converts YAML-decoded values to the shapes encoding/json produces
// (float64 numbers, map[string]any) so one schema engine validates both; the
// gauntlet lint loader shapes a user's file with it too.
func JSONShape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = JSONShape(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = JSONShape(e)
		}
		return out
	case []any:
		for i := range x {
			x[i] = JSONShape(x[i])
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return v
}

// declarativeOrder is the order of top-level keys in a dump.
var declarativeOrder = []string{TableServices, TableRoutes, TableUpstreams, TableTargets, TableConsumers, TableKeyAuth, TablePlugins}

// DeclarativeMap is c as a flat declarative document: every entity with its
// id, foreign keys as {"id": ...}; LoadDeclarative reads it back unchanged.
func DeclarativeMap(c *Config) map[string]any {
	doc := map[string]any{"_format_version": "3.0", "_transform": false}
	for _, t := range declarativeOrder {
		rows := c.Rows(t)
		if len(rows) == 0 {
			continue
		}
		list := make([]any, 0, len(rows))
		for _, e := range rows {
			// Unset fields stay, as null (Kong's export: custom_id: null);
			// whole-second timestamps are integers, not 1.566863706e+09.
			m := EntityMap(e)
			for k, v := range m {
				if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
					m[k] = int64(f)
				}
			}
			list = append(list, m)
		}
		doc[t] = list
	}
	return doc
}

// DumpDeclarative renders c as kong.yml (YAML, _format_version 3.0).
func DumpDeclarative(c *Config) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("_format_version: \"3.0\"\n_transform: false\n")
	doc := DeclarativeMap(c)
	for _, t := range declarativeOrder {
		list, ok := doc[t]
		if !ok {
			continue
		}
		out, err := yaml.Marshal(map[string]any{t: list})
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", t, err)
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

func tableRank(k string) int {
	for i, t := range Tables {
		if t == k {
			return i
		}
	}
	return len(Tables)
}
