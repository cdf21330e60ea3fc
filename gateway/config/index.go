package config

import "encoding/json"

// index makes the lookups of a bulk load constant time. Without it every
// Save scanned whole tables (foreign keys, unique keys, the id), so loading a
// declarative file of n entities was quadratic: 4,000 services with a route
// each took 2.1 s, and a 10 MiB kong.yml would have run for many minutes.
// Only FromDeclarativeMap builds one, on a Config nobody else sees yet, and
// drops it before returning: every change in between goes through put, which
// keeps it current. A Config without an index (any other) scans as before,
// which is linear per Admin API write.
type index struct {
	byID   map[string]map[string]Entity // table → id → row
	byKey  map[string]map[string]Entity // table → endpoint key → first row with it
	unique map[string]map[string]string // table → unique-key value → id
}

func newIndex() *index {
	return &index{byID: map[string]map[string]Entity{}, byKey: map[string]map[string]Entity{}, unique: map[string]map[string]string{}}
}

func (x *index) add(table string, e Entity) {
	if x.byID[table] == nil {
		x.byID[table], x.byKey[table], x.unique[table] = map[string]Entity{}, map[string]Entity{}, map[string]string{}
	}
	x.byID[table][e.EntityID()] = e
	if k := KeyOf(e); k != "" {
		if _, taken := x.byKey[table][k]; !taken {
			x.byKey[table][k] = e
		}
	}
	for _, key := range uniqueKeys(table) {
		vals := make([]any, len(key))
		for i, f := range key {
			vals[i] = uniqueValue(e, f)
		}
		if s, ok := uniqueIndexKey(key, vals); ok {
			x.unique[table][s] = e.EntityID()
		}
	}
}

// uniqueIndexKey is the index entry of one unique constraint's values, in
// JSON so that it is equal exactly when checkUnique's equalJSON is. ok is
// false where checkUnique skips the constraint (a single null field).
func uniqueIndexKey(key []string, vals []any) (string, bool) {
	if len(key) == 1 && vals[0] == nil {
		return "", false
	}
	b, err := json.Marshal(append([]any{key}, vals...))
	if err != nil {
		return "", false
	}
	return string(b), true
}
