package admin

import (
	"net/http"
	"strings"

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
	case in.raw != nil:
		data = in.raw
	default:
		a.writeError(w, r, config.DeclarativeError(map[string]any{"config": "required field missing"}))
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
