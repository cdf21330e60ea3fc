package admin

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// handleGetConfig is GET /config: Kong's {"config": "<yaml>"} by default,
// the bare YAML with ?format=yaml (or Accept: application/yaml), the
// declarative document as JSON with ?format=json.
func (a *api) handleGetConfig(w http.ResponseWriter, r *http.Request) {
	c := a.store.Current()
	format := r.URL.Query().Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "yaml") {
		format = "yaml"
	}
	switch format {
	case "json":
		writeJSON(w, http.StatusOK, config.DeclarativeMap(c))
		return
	}
	out, err := config.DumpDeclarative(c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if format == "yaml" {
		w.Header().Set("Content-Type", "application/x-yaml")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"config": string(out)})
}

// handlePostConfig is POST /config: replace the whole configuration with a
// declarative one. Accepted bodies: JSON {"config": "<yaml or json string>"}
// (what Kong's docs and decK send), JSON {"config": {...}}, the declarative
// document itself as JSON, raw YAML, form or multipart config=. Unlike Kong it
// is also accepted with the embedded store, where it persists.
func (a *api) handlePostConfig(w http.ResponseWriter, r *http.Request) {
	in, err := readInput(r, true, config.MaxDeclarativeValues)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	opts := config.DeclarativeOptions{Plugins: a.writeOpts().Plugins}
	var (
		cfg  *config.Config
		doc  map[string]any // a document already decoded from JSON or a form
		data []byte         // YAML or JSON text still to decode
	)
	switch v := in.values["config"].(type) {
	case string:
		data = []byte(v)
	case map[string]any:
		doc = v
	}
	switch {
	case data != nil || doc != nil:
	case in.files["config"] != nil:
		data = in.files["config"]
	case in.values["_format_version"] != nil:
		doc = in.values
	case len(in.raw) > 0:
		data = in.raw
	default:
		// Kong's hydrate_config_from_request: nothing to load.
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "expected a declarative configuration"})
		return
	}
	// Kong's check_hash=1 (query or body): the same configuration as the one
	// loaded is answered 304 and not loaded again.
	checkHash := r.URL.Query().Get("check_hash") == "1" || fmt.Sprint(in.values["check_hash"]) == "1"
	if doc != nil {
		delete(doc, "check_hash")
		delete(doc, "flatten_errors")
	}
	hash := inputHash(data, doc)
	if checkHash && a.opts.DBLess && hash == a.declarativeHash() {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	// A decoded document goes to the loader as it is: re-encoding it would
	// turn invalid UTF-8 into U+FFFD before the schema could refuse it.
	if doc != nil {
		cfg, err = config.FromDeclarativeMap(doc, opts)
	} else {
		cfg, err = config.LoadDeclarativeWith(data, opts)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.store.Replace(cfg); err != nil {
		a.writeError(w, r, err)
		return
	}
	loadedHashes.Store(a, loadedHash{cfg: a.store.Current(), hash: hash})
	a.log.Info("admin: configuration replaced", "services", len(cfg.Services), "routes", len(cfg.Routes),
		"upstreams", len(cfg.Upstreams), "targets", len(cfg.Targets), "consumers", len(cfg.Consumers), "plugins", len(cfg.Plugins))
	// Kong answers with the loaded entities keyed by table and id.
	resp := map[string]any{}
	for _, t := range config.Tables {
		byID := map[string]any{}
		for _, e := range cfg.Rows(t) {
			byID[e.EntityID()] = e
		}
		resp[t] = byID
	}
	writeJSON(w, http.StatusCreated, resp)
}

// loadedHash is the hash of the declarative input behind a configuration
// POST /config loaded (Kong's declarative.get_current_hash), kept per Admin
// API instance: cfg is the configuration it produced, so a later change
// (none happen through the Admin API in DB-less mode) makes it stale.
type loadedHash struct {
	cfg  *config.Config
	hash string
}

var loadedHashes sync.Map // *api → loadedHash

// inputHash is the declarative input's md5: of its text, or of a decoded
// document's JSON (keys sorted, so the same document hashes the same).
func inputHash(data []byte, doc map[string]any) string {
	if doc != nil {
		data, _ = json.Marshal(doc)
	}
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}
