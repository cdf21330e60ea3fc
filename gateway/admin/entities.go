package admin

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/health"
	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
	"github.com/google/uuid"
)

// collection is one entity table as reached through one URL: top level, or
// nested under a parent whose entity the child's foreign field must match.
type collection struct {
	table  string
	parent *parentRef
	// newestFirst lists the most recent rows first (Kong's targets
	// page_for_upstream walks them backwards).
	newestFirst bool
	// nextWithoutSize leaves size out of "next" (Kong's /targets/all).
	nextWithoutSize bool
	// putAsPatch makes PUT on an item an update of an existing one (Kong's
	// targets: update_target_cb for both PUT and PATCH).
	putAsPatch bool
}

type parentRef struct {
	col   *collection
	param string // path wildcard naming the parent
	field string // the child's foreign field
}

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// entity registers the collection at base and its items at base/{param}.
func (a *api) entity(base, param string, col *collection) {
	itemParam := strings.Trim(param, "{}")
	a.handle(base, methods{
		"GET":  func(w http.ResponseWriter, r *http.Request) { a.list(w, r, col) },
		"POST": func(w http.ResponseWriter, r *http.Request) { a.create(w, r, col) },
	})
	item := func(f itemFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			f(w, r, col, func(c *config.Config) (config.Entity, config.Entity, error) {
				return a.resolve(c, r, col, r.PathValue(itemParam))
			}, r.PathValue(itemParam))
		}
	}
	put := item(a.putItem)
	if col.putAsPatch {
		put = item(a.patchItem)
	}
	a.handle(base+"/"+param, methods{
		"GET":    item(a.getItem),
		"PUT":    put,
		"PATCH":  item(a.patchItem),
		"DELETE": item(a.deleteItem),
	})
}

// finder locates an item (and its parent) in a configuration. A missing
// parent is errNotFound; a missing item is a nil entity.
type finder func(c *config.Config) (item, parent config.Entity, err error)

type itemFunc func(w http.ResponseWriter, r *http.Request, col *collection, find finder, key string)

// resolveParent finds the parent named in the URL, nil at top level.
func (a *api) resolveParent(c *config.Config, r *http.Request, col *collection) (config.Entity, error) {
	if col.parent == nil {
		return nil, nil
	}
	p, _, err := a.resolve(c, r, col.parent.col, r.PathValue(col.parent.param))
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errNotFound
	}
	return p, nil
}

// resolve finds key (id or endpoint key) in col, within its parent if nested.
func (a *api) resolve(c *config.Config, r *http.Request, col *collection, key string) (config.Entity, config.Entity, error) {
	parent, err := a.resolveParent(c, r, col)
	if err != nil {
		return nil, nil, err
	}
	if col.table == config.TableTargets {
		if parent == nil {
			return nil, nil, errNotFound
		}
		t := c.FindTarget(parent.EntityID(), key)
		if t == nil {
			return nil, parent, nil
		}
		return t, parent, nil
	}
	if err := checkUniqueKey(col.table, key); err != nil {
		return nil, nil, err
	}
	e := c.Find(col.table, key)
	if e != nil && parent != nil && config.ForeignID(e, col.parent.field) != parent.EntityID() {
		e = nil
	}
	return e, parent, nil
}

// checkUniqueKey validates an item URL's endpoint key as Kong's
// select_by_<key> does before looking it up: an invalid value is 400, code 10
// "invalid unique <key>", with the field's own message (PUT /upstreams/1.2.3.4:
// "Invalid name ('1.2.3.4'); no ip addresses allowed").
func checkUniqueKey(table, key string) error {
	if config.IsUUID(key) {
		return nil
	}
	ek := config.EndpointKey(table)
	if ek == "" {
		return nil
	}
	f := config.Schemas[table].Field(ek)
	if f == nil || f.Check == nil {
		return nil
	}
	if msg := f.Check(key); msg != "" {
		return &config.Error{Code: 10, Name: "invalid unique " + ek, Message: msg, Status: http.StatusBadRequest}
	}
	return nil
}

// targetInsertCheck is Kong's targets DAO insert: a target that is no
// hostname or IP fails before schema validation, with its own message and
// no other field errors.
func targetInsertCheck(table string, values map[string]any) error {
	if table != config.TableTargets {
		return nil
	}
	if t, ok := values["target"].(string); ok && config.Schemas[table].Field("target").Check(t) != "" {
		return config.SchemaViolation(map[string]any{"target": "Invalid target; not a valid hostname or ip address"})
	}
	return nil
}

func (a *api) writeOpts() config.WriteOptions {
	o := config.WriteOptions{Now: time.Now()}
	if a.opts.Plugins != nil {
		o.Plugins = a.opts.Plugins
		if a.opts.DBLess {
			o.Plugins = dblessPlugins{a.opts.Plugins}
		}
	}
	return o
}

// dblessPlugins adds the checks Kong's plugin schemas make only without a
// database (plugins.DBLessConfigErrors) to the validator it wraps, keeping
// its optional interfaces.
type dblessPlugins struct{ PluginSchemas }

func (d dblessPlugins) Validate(name string, cfg map[string]any) (map[string]any, map[string]any, bool) {
	norm, errs, known := d.PluginSchemas.Validate(name, cfg)
	return norm, mergeErrs(errs, plugins.DBLessConfigErrors(name, cfg)), known
}

func (d dblessPlugins) ValidateEntity(name string, cfg map[string]any) (map[string]any, map[string]any, []any, bool) {
	ev, ok := d.PluginSchemas.(config.PluginEntityValidator)
	if !ok {
		norm, errs, known := d.Validate(name, cfg)
		return norm, errs, nil, known
	}
	norm, errs, ent, known := ev.ValidateEntity(name, cfg)
	return norm, mergeErrs(errs, plugins.DBLessConfigErrors(name, cfg)), ent, known
}

func (d dblessPlugins) Protocols(name string) ([]string, bool) {
	if ps, ok := d.PluginSchemas.(config.PluginScopes); ok {
		return ps.Protocols(name)
	}
	return nil, false
}

func (d dblessPlugins) ConsumerScopable(name string) bool {
	if ps, ok := d.PluginSchemas.(config.PluginScopes); ok {
		return ps.ConsumerScopable(name)
	}
	return true
}

func mergeErrs(a, b map[string]any) map[string]any {
	if len(b) == 0 {
		return a
	}
	out := map[string]any{}
	for k, v := range a {
		if k != config.PluginConfigMessage {
			out[k] = v
		}
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// dbless answers Kong's error for writes in database=off mode.
func (a *api) dbless(w http.ResponseWriter, table, verb string) bool {
	if !a.opts.DBLess {
		return false
	}
	writeJSON(w, http.StatusMethodNotAllowed, config.OperationUnsupported("cannot "+verb+" '"+table+"' entities when not using a database"))
	return true
}

func (a *api) readEntityInput(w http.ResponseWriter, r *http.Request, table string) (map[string]any, bool) {
	in, err := readInput(r, false, config.MaxEntityValues)
	if err != nil {
		a.writeError(w, r, err)
		return nil, false
	}
	if in.form {
		if a.opts.Plugins != nil {
			// The plugin registry reads form strings by its own schema.
			config.Schemas[table].CoerceTyped(in.values)
		} else {
			config.Schemas[table].Coerce(in.values)
		}
	}
	return in.values, true
}

func (a *api) list(w http.ResponseWriter, r *http.Request, col *collection) {
	c := a.store.Current()
	parent, err := a.resolveParent(c, r, col)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	size := defaultPageSize
	if s := q.Get("size"); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			a.writeError(w, r, config.InvalidSize("size must be a number"))
			return
		}
		if n != float64(int(n)) || n < 1 || n > maxPageSize {
			a.writeError(w, r, config.InvalidSize("size must be an integer between 1 and 1000"))
			return
		}
		size = int(n)
	}
	start := 0
	if off := q.Get("offset"); off != "" {
		b, err := base64.RawURLEncoding.DecodeString(off)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			a.writeError(w, r, config.InvalidOffset(off, "bad base64 encoding"))
			return
		}
		start = n
	}
	// Kong's /consumers?custom_id= (kong/api/routes/consumers.lua).
	if col.table == config.TableConsumers && q.Has("custom_id") && q.Get("custom_id") == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "custom_id must be an unempty string"})
		return
	}
	match, terr := tagFilter(q)
	if terr != nil {
		a.writeError(w, r, terr)
		return
	}
	var rows []config.Entity
	all := c.Rows(col.table)
	if col.newestFirst {
		all = slices.Clone(all)
		slices.Reverse(all)
	}
	for _, e := range all {
		if parent != nil && config.ForeignID(e, col.parent.field) != parent.EntityID() {
			continue
		}
		// Kong filters by tags only at the top level: page_for_<parent>
		// ignores them (14-tags_spec "ignores tags when filtering by multiple
		// filters #6779"), though a bad filter is still refused.
		if col.parent == nil && !match(e.EntityTags()) {
			continue
		}
		if col.table == config.TableConsumers {
			if cid := q.Get("custom_id"); cid != "" {
				if cons := e.(*config.Consumer); cons.CustomID == nil || *cons.CustomID != cid {
					continue
				}
			}
		}
		rows = append(rows, e)
	}
	if start > len(rows) {
		start = len(rows)
	}
	end := min(start+size, len(rows))
	resp := map[string]any{"data": rows[start:end], "next": nil}
	if end < len(rows) {
		off := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		// Kong's get_collection_endpoint: offset, then tags and size as
		// given (escape_uri), at the top level; a nested collection's next
		// carries the offset only.
		next := r.URL.EscapedPath() + "?offset=" + escapeURI(off)
		if col.parent == nil && !col.nextWithoutSize {
			if q.Has("tags") {
				next += "&tags=" + escapeURI(q.Get("tags"))
			}
			if q.Has("size") {
				next += "&size=" + escapeURI(q.Get("size"))
			}
		}
		resp["offset"] = off
		resp["next"] = next
	}
	if rows == nil {
		resp["data"] = []any{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// tagFilter parses Kong's ?tags= (endpoints.lua extract_options and
// dao validate_options_value): "a,b" needs all, "a/b" needs any; a present
// but empty filter is "cannot be null"; bytes outside printable ASCII
// (except , and /) and UTF-8 lead/continuation bytes are "invalid filter
// syntax"; at most 5 tags.
func tagFilter(q url.Values) (func([]string) bool, error) {
	if !q.Has("tags") {
		return func([]string) bool { return true }, nil
	}
	s := q.Get("tags")
	if s == "" {
		return nil, invalidOption("tags", "cannot be null")
	}
	var want []string
	any := false
	switch {
	case tagsMatch(s, ','):
		want = strings.Split(strings.TrimSuffix(s, ","), ",")
	case tagsMatch(s, '/'):
		want, any = strings.Split(strings.TrimSuffix(s, "/"), "/"), true
	default:
		return nil, invalidOption("tags", "invalid filter syntax")
	}
	if len(want) > 5 {
		return nil, invalidOption("tags", "cannot query more than 5 tags")
	}
	if any {
		return func(tags []string) bool {
			return slices.ContainsFunc(want, func(t string) bool { return slices.Contains(tags, t) })
		}, nil
	}
	return func(tags []string) bool {
		for _, t := range want {
			if !slices.Contains(tags, t) {
				return false
			}
		}
		return true
	}, nil
}

// tagsMatch is Kong's TAGS_AND_REGEX (sep ',') or TAGS_OR_REGEX (sep '/'),
// matched on bytes as PCRE does without the u flag: non-empty runs of tag
// bytes (printable ASCII except , and /, and 0x80-0xF4), each ended by sep
// or the end of the string.
func tagsMatch(s string, sep byte) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == sep:
			if run == 0 {
				return false
			}
			run = 0
		case c >= 0x20 && c <= 0x7E && c != ',' && c != '/', c >= 0x80 && c <= 0xF4:
			run++
		default:
			return false
		}
	}
	return len(s) > 0 && (run > 0 || s[len(s)-1] == sep)
}

// invalidOption is Kong's code 11 (errors.lua invalid_options) for one option.
func invalidOption(name, msg string) *config.Error {
	return &config.Error{Code: 11, Name: "invalid options", Message: "invalid option (" + name + ": " + msg + ")",
		Fields: map[string]any{name: msg}, Status: http.StatusBadRequest}
}

// commitFunc stores a write that was validated outside the store's lock. It
// runs inside the lock on the configuration the write will replace and
// returns errStale when that configuration changed under the validation.
type commitFunc func(next *config.Config) (config.Entity, error)

// prepareFunc validates one write against a snapshot of the configuration,
// without the store's lock, and returns how to commit it.
type prepareFunc func(snap *config.Config, values map[string]any) (commitFunc, error)

// errStale aborts a commit whose preparation read something another write
// has changed since: the write is prepared again on the new configuration.
var errStale = errors.New("configuration changed during validation")

// maxPrepareAttempts is how often a write is validated outside the lock
// before it is validated under it. A retry needs another write to commit
// that very entity (or its parent) in between, so two are rare and the
// fallback exists only to guarantee progress.
const maxPrepareAttempts = 3

// write runs one Admin API write: the DB-less refusal, input decoding,
// validation, then Kong's error or the entity with status. Validation (and
// normalisation, the costly part for a large body) runs on a snapshot
// outside the store's lock, which then covers only the commit: resolving
// references, uniqueness, persisting. So one huge write delays other writes
// by its commit, not by its validation. A failed write leaves the store as
// it was.
func (a *api) write(w http.ResponseWriter, r *http.Request, col *collection, verb string, status int, prepare prepareFunc) {
	if a.dbless(w, col.table, verb) {
		return
	}
	values, ok := a.readEntityInput(w, r, col.table)
	if !ok {
		return
	}
	var out config.Entity
	err := errStale
	for attempt := 1; errors.Is(err, errStale) && attempt <= maxPrepareAttempts; attempt++ {
		var commit commitFunc
		// Each attempt gets its own copy: preparing sets top-level keys
		// (the parent, the id) that must not leak into the next attempt.
		commit, err = prepare(a.store.Current(), maps.Clone(values))
		if err == nil {
			err = a.store.Update(func(next *config.Config) (err error) {
				out, err = commit(next)
				return err
			})
		}
	}
	if errors.Is(err, errStale) {
		err = a.store.Update(func(next *config.Config) error {
			commit, err := prepare(next, values)
			if err == nil {
				out, err = commit(next)
			}
			return err
		})
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, out)
}

// setParent points a nested endpoint's entity at the parent in its URL
// (POST /services/{s}/routes sets the route's service).
func setParent(values map[string]any, col *collection, parent config.Entity) {
	if parent != nil && col.parent != nil {
		values[col.parent.field] = map[string]any{"id": parent.EntityID()}
	}
}

// fieldOf is a nested collection's foreign field, "" at top level.
func fieldOf(col *collection) string {
	if col.parent == nil {
		return ""
	}
	return col.parent.field
}

// sameParent checks at commit that the parent a write was prepared under is
// still the one the URL names.
func sameParent(prepared, now config.Entity) error {
	if (prepared == nil) != (now == nil) || (now != nil && now.EntityID() != prepared.EntityID()) {
		return errStale
	}
	return nil
}

func (a *api) create(w http.ResponseWriter, r *http.Request, col *collection) {
	a.write(w, r, col, "create", http.StatusCreated, func(snap *config.Config, values map[string]any) (commitFunc, error) {
		parent, err := a.resolveParent(snap, r, col)
		if err != nil {
			return nil, err
		}
		setParent(values, col, parent)
		if err := config.ResolveForeign(snap, col.table, values); err != nil {
			return nil, err
		}
		if err := targetInsertCheck(col.table, values); err != nil {
			return nil, err
		}
		m, perr := config.Prepare(col.table, values, nil, a.writeOpts().Plugins)
		if perr != nil {
			return nil, perr
		}
		return func(next *config.Config) (config.Entity, error) {
			p, err := a.resolveParent(next, r, col)
			if err != nil {
				return nil, err
			}
			if err := sameParent(parent, p); err != nil {
				return nil, err
			}
			return next.Save(col.table, m, nil, a.writeOpts())
		}, nil
	})
}

func (a *api) getItem(w http.ResponseWriter, r *http.Request, col *collection, find finder, _ string) {
	e, _, err := find(a.store.Current())
	if err == nil && e == nil {
		err = errNotFound
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (a *api) patchItem(w http.ResponseWriter, r *http.Request, col *collection, find finder, _ string) {
	a.write(w, r, col, "update", http.StatusOK, func(snap *config.Config, values map[string]any) (commitFunc, error) {
		e, parent, err := find(snap)
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, errNotFound
		}
		// Kong sets the parent only when the body does not name the foreign
		// field: an explicit {"service": null} through
		// /services/{s}/plugins/{p} detaches the plugin from the service.
		if _, named := values[fieldOf(col)]; !named {
			setParent(values, col, parent)
		}
		if err := config.ResolveForeign(snap, col.table, values); err != nil {
			return nil, err
		}
		m, err := config.PreparePatch(col.table, e, values, a.writeOpts().Plugins)
		if err != nil {
			return nil, err
		}
		return func(next *config.Config) (config.Entity, error) {
			cur, p, err := find(next)
			if err != nil {
				return nil, err
			}
			if cur == nil {
				return nil, errNotFound
			}
			// A PATCH merges over the entity as it was read: if another
			// write changed it since, merging again keeps that change.
			if err := sameParent(parent, p); err != nil || !config.SameEntity(e, cur) {
				return nil, errStale
			}
			return next.Save(col.table, m, cur, a.writeOpts())
		}, nil
	})
}

// putItem is Kong's upsert: replace the item named in the URL, or create it
// with that id or endpoint key.
func (a *api) putItem(w http.ResponseWriter, r *http.Request, col *collection, find finder, key string) {
	// An upsert: in DB-less mode Kong says "cannot create or update".
	a.write(w, r, col, "create or update", http.StatusOK, func(snap *config.Config, values map[string]any) (commitFunc, error) {
		e, parent, err := find(snap)
		if err != nil {
			return nil, err
		}
		setParent(values, col, parent)
		if err := config.ResolveForeign(snap, col.table, values); err != nil {
			return nil, err
		}
		// A URL naming the item by endpoint key sets that key, on replace
		// and on create alike (PUT /services/foo names the service foo).
		if !config.IsUUID(key) && key != "" {
			if ek := config.EndpointKey(col.table); ek != "" {
				values[ek] = key
			}
		}
		var m map[string]any
		if e != nil {
			m, err = config.PrepareReplace(col.table, e.EntityID(), values, a.writeOpts().Plugins)
		} else {
			if config.IsUUID(key) {
				values["id"] = key
			}
			var perr *config.Error
			if m, perr = config.Prepare(col.table, values, nil, a.writeOpts().Plugins); perr != nil {
				err = perr
			}
		}
		if err != nil {
			return nil, err
		}
		return func(next *config.Config) (config.Entity, error) {
			cur, p, err := find(next)
			if err != nil {
				return nil, err
			}
			// A replace does not depend on the old content, only on which
			// entity (if any) it replaces.
			if err := sameParent(parent, p); err != nil {
				return nil, err
			}
			if err := sameParent(e, cur); err != nil {
				return nil, err
			}
			return next.Save(col.table, m, cur, a.writeOpts())
		}, nil
	})
}

func (a *api) deleteItem(w http.ResponseWriter, r *http.Request, col *collection, find finder, _ string) {
	if a.dbless(w, col.table, "delete") {
		return
	}
	err := a.store.Update(func(next *config.Config) error {
		e, _, err := find(next)
		if err != nil {
			return err
		}
		if e == nil {
			// Kong answers 204 for a missing top-level entity, but a nested
			// endpoint (/consumers/{c}/plugins/{p}) selects it first: 404.
			if col.parent != nil {
				return errNotFound
			}
			return errGone
		}
		next.Delete(col.table, e.EntityID())
		return nil
	})
	if err != nil && err != errGone {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errGone aborts a delete of something already absent: Kong answers 204 and
// nothing is written.
var errGone = &httpError{http.StatusNoContent, "already gone"}

// foreignEntity serves a foreign-entity endpoint with the item handlers:
// /routes/{route}/service is the service a route points at,
// /key-auths/{keyauth}/consumer the consumer a credential belongs to. The
// child is found by id or endpoint key; a missing child or reference is 404.
func (a *api) foreignEntity(child, param, field, parent string, f itemFunc) http.HandlerFunc {
	col := &collection{table: parent}
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue(param)
		find := func(c *config.Config) (config.Entity, config.Entity, error) {
			if err := checkUniqueKey(child, key); err != nil {
				return nil, nil, err
			}
			e := c.Find(child, key)
			if e == nil {
				return nil, nil, errNotFound
			}
			id := config.ForeignID(e, field)
			if id == "" {
				return nil, nil, errNotFound
			}
			p := c.Get(parent, id)
			if p == nil {
				return nil, nil, errNotFound
			}
			return p, nil, nil
		}
		f(w, r, col, find, "")
	}
}

// foreignEntityEndpoint registers a foreign-entity endpoint: GET, PATCH and
// PUT act on the referenced entity; DELETE is Kong's 405 once both exist.
func (a *api) foreignEntityEndpoint(path, child, param, field, parent string) {
	fe := func(f itemFunc) http.HandlerFunc { return a.foreignEntity(child, param, field, parent, f) }
	a.handle(path, methods{
		"GET":   fe(a.getItem),
		"PATCH": fe(a.patchItem),
		"PUT": func(w http.ResponseWriter, r *http.Request) {
			// Kong's put_entity_endpoint: a child without a reference gets a
			// new entity with a fresh id, and the child is pointed at it.
			if e := a.store.Current().Find(child, r.PathValue(param)); e != nil && config.ForeignID(e, field) == "" {
				a.associate(w, r, child, r.PathValue(param), field, parent)
				return
			}
			fe(a.putItem)(w, r)
		},
		"DELETE": fe(func(w http.ResponseWriter, r *http.Request, _ *collection, find finder, _ string) {
			if _, _, err := find(a.store.Current()); err != nil {
				a.writeError(w, r, err)
				return
			}
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Method not allowed"})
		}),
	})
}

// upstreamHealth is Kong's GET /upstreams/{u}/health: targets newest first
// (page_for_upstream walks them backwards) with their health, paginated with
// size and offset; ?balancer_health=1 is the balancer's own health.
func (a *api) upstreamHealth(w http.ResponseWriter, r *http.Request) {
	c := a.store.Current()
	key := r.PathValue("upstream")
	if err := checkUniqueKey(config.TableUpstreams, key); err != nil {
		a.writeError(w, r, err)
		return
	}
	u := c.Upstream(key)
	if u == nil {
		notFound(w)
		return
	}
	targets := slices.Clone(c.TargetsOf(u.ID))
	q := r.URL.Query()
	if bh := q.Get("balancer_health"); bh == "1" {
		balancer, details := "", map[string]any(nil)
		if a.opts.Health != nil {
			balancer, details = a.opts.Health.BalancerHealth(u.ID)
		}
		if balancer == "" {
			balancer, details = configBalancerHealth(targets)
		}
		state := balancer
		if !health.NewPolicy(u.Healthchecks).Enabled {
			state = health.HealthchecksOff
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"health": state, "balancer_health": balancer, "id": u.ID, "details": details,
		}, "next": nil, "node_id": a.opts.NodeID})
		return
	}
	slices.Reverse(targets)
	size := defaultPageSize
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			a.writeError(w, r, config.InvalidSize("size must be a number"))
			return
		}
		size = min(max(n, 1), maxPageSize)
	}
	start := 0
	if off := q.Get("offset"); off != "" {
		n, err := strconv.Atoi(off)
		if err != nil || n < 0 {
			a.writeError(w, r, config.InvalidOffset(off, "bad offset"))
			return
		}
		start = min(n, len(targets))
	}
	end := min(start+size, len(targets))
	var states map[string]string
	if a.opts.Health != nil {
		states = a.opts.Health.TargetsHealth(u.ID)
	}
	data := make([]any, 0, end-start)
	for _, t := range targets[start:end] {
		m := config.EntityMap(t)
		state := states[t.ID]
		if state == "" || t.Weight == 0 {
			// Kong's health checker does not track a weight-0 address.
			state = health.HealthchecksOff
		}
		m["health"] = state
		host, port, _ := config.SplitHostPort(t.Target)
		addr := map[string]any{"ip": host, "port": port, "health": state, "weight": t.Weight}
		avail := availableWeight(state, t.Weight)
		m["data"] = map[string]any{"addresses": []any{addr},
			"weight": map[string]any{"total": t.Weight, "available": avail, "unavailable": t.Weight - avail}}
		data = append(data, m)
	}
	resp := map[string]any{"data": data, "next": nil, "node_id": a.opts.NodeID}
	if end < len(targets) {
		off := strconv.Itoa(end)
		resp["offset"] = off
		resp["next"] = "/upstreams/" + url.PathEscape(key) + "/health?offset=" + url.QueryEscape(off)
	}
	writeJSON(w, http.StatusOK, resp)
}

// tagsList is Kong's /tags and /tags/{tag} (the tags entity): one row per
// tag of every entity, {"entity_name", "entity_id", "tag"}, paginated; a
// ?tags= filter is ignored. An invalid {tag} is code 10, as page_by_tag's
// validate_field.
func (a *api) tagsList(w http.ResponseWriter, r *http.Request) {
	want, byTag := r.PathValue("tag"), r.PathValue("tag") != ""
	if byTag {
		if !utf8.ValidString(want) {
			i := 0
			for i < len(want) {
				c, n := utf8.DecodeRuneInString(want[i:])
				if c == utf8.RuneError && n <= 1 {
					break
				}
				i += n
			}
			a.writeError(w, r, &config.Error{Code: 10, Name: "invalid unique tag",
				Message: fmt.Sprintf("invalid utf-8 character sequence detected at position %d", i+1), Status: http.StatusBadRequest})
			return
		}
		if msg := config.Schemas[config.TableServices].Field("tags").Elem.Check(want); msg != "" {
			a.writeError(w, r, &config.Error{Code: 10, Name: "invalid unique tag", Message: msg, Status: http.StatusBadRequest})
			return
		}
	}
	c := a.store.Current()
	var rows []any
	for _, table := range config.Tables {
		for _, e := range c.Rows(table) {
			for _, t := range e.EntityTags() {
				if !byTag || t == want {
					rows = append(rows, map[string]any{"entity_name": table, "entity_id": e.EntityID(), "tag": t})
				}
			}
		}
	}
	q := r.URL.Query()
	size := defaultPageSize
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			a.writeError(w, r, config.InvalidSize("size must be an integer between 1 and 1000"))
			return
		}
		size = n
	}
	start := 0
	if off := q.Get("offset"); off != "" {
		b, err := base64.RawURLEncoding.DecodeString(off)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			a.writeError(w, r, config.InvalidOffset(off, "bad base64 encoding"))
			return
		}
		start = min(n, len(rows))
	}
	end := min(start+size, len(rows))
	page := rows[start:end]
	if page == nil {
		page = []any{}
	}
	resp := map[string]any{"data": page, "next": nil}
	if end < len(rows) {
		off := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		resp["offset"] = off
		resp["next"] = r.URL.EscapedPath() + "?offset=" + url.QueryEscape(off)
	}
	writeJSON(w, http.StatusOK, resp)
}

// escapeURI is ngx.escape_uri: everything but ALPHA, DIGIT and -._~ is %XX.
func escapeURI(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// associate creates the entity a child's foreign key will point at (PUT
// /routes/{r}/service on a route without a service) and points the child at
// it, in one write.
func (a *api) associate(w http.ResponseWriter, r *http.Request, child, key, field, parent string) {
	col := &collection{table: parent}
	a.write(w, r, col, "create", http.StatusOK, func(snap *config.Config, values map[string]any) (commitFunc, error) {
		values["id"] = uuid.NewString()
		m, perr := config.Prepare(parent, values, nil, a.writeOpts().Plugins)
		if perr != nil {
			return nil, perr
		}
		return func(next *config.Config) (config.Entity, error) {
			e := next.Find(child, key)
			if e == nil {
				return nil, errNotFound
			}
			if config.ForeignID(e, field) != "" {
				return nil, errStale
			}
			p, err := next.Save(parent, m, nil, a.writeOpts())
			if err != nil {
				return nil, err
			}
			cm, err := config.PreparePatch(child, e, map[string]any{field: map[string]any{"id": p.EntityID()}}, a.writeOpts().Plugins)
			if err != nil {
				return nil, err
			}
			if _, err := next.Save(child, cm, e, a.writeOpts()); err != nil {
				return nil, err
			}
			return p, nil
		}, nil
	})
}
