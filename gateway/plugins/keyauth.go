package plugins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Upstream request headers Kong sets after authentication (kong/constants.lua),
// in Go's canonical form.
const (
	hdrConsumerID       = "X-Consumer-Id"
	hdrConsumerCustomID = "X-Consumer-Custom-Id"
	hdrConsumerUsername = "X-Consumer-Username"
	hdrCredentialID     = "X-Credential-Identifier"
	hdrAnonymous        = "X-Anonymous-Consumer"
)

// maxKeyBody caps how much of a request body key_in_body reads. Kong only sees
// bodies that fit nginx's client body buffer; a larger body is passed on
// untouched and not searched.
const maxKeyBody = 1 << 20

// identity is a consumer ready to be attached to a request; the header values
// are built once in Apply. Each slice has len == cap == 1, so a later
// Header.Add on the request copies rather than writing into the shared array.
type identity struct {
	consumer   *config.Consumer
	credential *config.KeyAuthCredential
	expiresAt  int64 // Unix seconds; 0 = never (credential ttl)
	id         []string
	username   []string
	customID   []string
	credID     []string
}

func newIdentity(c *config.Consumer, cred *config.KeyAuthCredential) *identity {
	id := &identity{consumer: c, credential: cred, id: []string{c.ID}}
	if c.Username != nil {
		id.username = []string{*c.Username}
	}
	if c.CustomID != nil {
		id.customID = []string{*c.CustomID}
	}
	if cred != nil {
		id.credID = []string{cred.ID}
		if cred.TTL != nil && *cred.TTL > 0 {
			id.expiresAt = cred.CreatedAt + int64(*cred.TTL)
		}
	}
	return id
}

// keyIndex is what key-auth looks up per request, built once per Apply.
type keyIndex struct {
	byKey      map[string]*identity
	byConsumer map[string]*identity // id and username → consumer, for anonymous
}

func buildKeyIndex(cfg *config.Config, log *slog.Logger) *keyIndex {
	idx := &keyIndex{byKey: map[string]*identity{}, byConsumer: map[string]*identity{}}
	consumers := make(map[string]*config.Consumer, len(cfg.Consumers))
	for _, c := range cfg.Consumers {
		consumers[c.ID] = c
		anon := newIdentity(c, nil)
		idx.byConsumer[c.ID] = anon
		if c.Username != nil {
			// An id match wins over a username that happens to equal another id.
			if _, taken := idx.byConsumer[*c.Username]; !taken {
				idx.byConsumer[*c.Username] = anon
			}
		}
	}
	for _, cred := range cfg.KeyAuthCredentials {
		if cred.Consumer == nil {
			continue
		}
		c, ok := consumers[cred.Consumer.ID]
		if !ok {
			log.Warn("key-auth: credential of an unknown consumer ignored", "credential", cred.ID, "consumer", cred.Consumer.ID)
			continue
		}
		idx.byKey[cred.Key] = newIdentity(c, cred)
	}
	return idx
}

type keyAuthConfig struct {
	keyNames        []string
	canonical       []string // header form of each key name
	hideCredentials bool
	anonymous       string
	inHeader        bool
	inQuery         bool
	inBody          bool
	runOnPreflight  bool
	wwwAuthenticate []string
}

func parseKeyAuthConfig(cfg map[string]any) (keyAuthConfig, error) {
	var c keyAuthConfig
	names, _ := config.ToArray(cfg["key_names"])
	for _, n := range names {
		s, ok := n.(string)
		if !ok || s == "" {
			return c, fmt.Errorf("key_names: bad entry %v", n)
		}
		c.keyNames = append(c.keyNames, s)
		c.canonical = append(c.canonical, http.CanonicalHeaderKey(s))
	}
	if len(c.keyNames) == 0 {
		return c, errors.New("key_names is empty")
	}
	c.hideCredentials, _ = cfg["hide_credentials"].(bool)
	c.anonymous, _ = cfg["anonymous"].(string)
	c.inHeader, _ = cfg["key_in_header"].(bool)
	c.inQuery, _ = cfg["key_in_query"].(bool)
	c.inBody, _ = cfg["key_in_body"].(bool)
	c.runOnPreflight, _ = cfg["run_on_preflight"].(bool)
	www := "Key"
	if realm, ok := cfg["realm"].(string); ok && realm != "" {
		www = `Key realm="` + realm + `"`
	}
	c.wwwAuthenticate = []string{www}
	return c, nil
}

type keyAuth struct {
	cfg      keyAuthConfig
	idx      *keyIndex
	clock    func() time.Time
	log      *slog.Logger
	pluginID string
}

func newKeyAuth(b *builder, p *config.Plugin, cfg map[string]any) (handler, error) {
	c, err := parseKeyAuthConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &keyAuth{cfg: c, idx: b.keys, clock: b.m.clock, log: b.m.log, pluginID: p.ID}, nil
}

// authFailure is a 401 (or 500) the plugin would answer unless anonymous is set.
type authFailure struct {
	status  int
	message string
	www     bool
}

var (
	failNoKey     = &authFailure{http.StatusUnauthorized, "No API key found in request", true}
	failBadKey    = &authFailure{http.StatusUnauthorized, "Unauthorized", true}
	failDuplicate = &authFailure{http.StatusUnauthorized, "Duplicate API key found", true}
)

func (ka *keyAuth) access(ctx *Context) *Exit {
	r := ctx.Request
	if !ka.cfg.runOnPreflight && r.Method == http.MethodOptions {
		return nil
	}
	if ka.cfg.anonymous != "" && ctx.Credential != nil {
		// Another auth plugin already authenticated: with anonymous set, auth
		// plugins are a logical OR.
		return nil
	}
	id, fail := ka.authenticate(r)
	if fail == nil {
		ka.attach(ctx, id)
		return nil
	}
	if ka.cfg.anonymous != "" {
		anon := ka.idx.byConsumer[ka.cfg.anonymous]
		if anon == nil {
			ka.log.Error("key-auth: anonymous consumer is configured but doesn't exist",
				"plugin", ka.pluginID, "anonymous", ka.cfg.anonymous)
			return &Exit{Status: http.StatusInternalServerError, Message: "An unexpected error occurred"}
		}
		ka.attach(ctx, anon)
		return nil
	}
	exit := &Exit{Status: fail.status, Message: fail.message}
	if fail.www {
		exit.Header = http.Header{"Www-Authenticate": ka.cfg.wwwAuthenticate}
	}
	return exit
}

func (ka *keyAuth) authenticate(r *http.Request) (*identity, *authFailure) {
	var (
		key   string
		found bool
		query url.Values
		body  *keyBody
	)
	for i, name := range ka.cfg.keyNames {
		var vals []string
		if ka.cfg.inHeader {
			vals = r.Header[ka.cfg.canonical[i]]
		}
		if len(vals) == 0 && ka.cfg.inQuery && r.URL != nil && r.URL.RawQuery != "" {
			if query == nil {
				query = r.URL.Query()
			}
			vals = query[name]
		}
		if len(vals) == 0 && ka.cfg.inBody {
			if body == nil {
				body = readKeyBody(r)
			}
			vals = body.values(name)
		}
		if len(vals) > 1 {
			return nil, failDuplicate
		}
		if len(vals) == 1 {
			key, found = vals[0], true
			if ka.cfg.hideCredentials {
				ka.hide(r, name, i, query, body)
			}
			break
		}
	}
	if !found || key == "" {
		return nil, failNoKey
	}
	id := ka.idx.byKey[key]
	if id == nil {
		return nil, failBadKey
	}
	if id.expiresAt != 0 && ka.clock().Unix() >= id.expiresAt {
		return nil, failBadKey
	}
	return id, nil
}

// hide removes the key from everywhere it may travel upstream.
func (ka *keyAuth) hide(r *http.Request, name string, i int, query url.Values, body *keyBody) {
	r.Header.Del(ka.cfg.canonical[i])
	if r.URL != nil && r.URL.RawQuery != "" {
		if query == nil {
			query = r.URL.Query()
		}
		if _, ok := query[name]; ok {
			query.Del(name)
			r.URL.RawQuery = query.Encode()
		}
	}
	if ka.cfg.inBody {
		if body == nil {
			body = readKeyBody(r)
		}
		body.remove(r, name)
	}
}

// attach makes id the request's consumer, as Kong's set_consumer does: headers
// the consumer lacks are cleared so a client cannot forge them.
func (ka *keyAuth) attach(ctx *Context, id *identity) {
	ctx.Consumer = id.consumer
	ctx.Credential = id.credential
	h := ctx.Request.Header
	setOrDel(h, hdrConsumerID, id.id)
	setOrDel(h, hdrConsumerCustomID, id.customID)
	setOrDel(h, hdrConsumerUsername, id.username)
	setOrDel(h, hdrCredentialID, id.credID)
	if id.credential != nil {
		delete(h, hdrAnonymous)
	} else {
		h[hdrAnonymous] = anonymousTrue
	}
}

var anonymousTrue = []string{"true"}

func setOrDel(h http.Header, k string, v []string) {
	if v == nil {
		delete(h, k)
		return
	}
	h[k] = v
}

// keyBody is a request body read for key_in_body, with its parsed form.
type keyBody struct {
	raw       []byte
	kind      string // "form", "json", "multipart" or "" (unsearchable)
	form      url.Values
	json      map[string]any
	multipart map[string][]string
	boundary  string
}

// readKeyBody reads the body (up to maxKeyBody) and puts it back so the upstream
// receives it unchanged. Bodies too large, or of other types, are not searched.
func readKeyBody(r *http.Request) *keyBody {
	kb := &keyBody{}
	if r.Body == nil || r.Body == http.NoBody {
		return kb
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxKeyBody+1))
	if err != nil || len(buf) > maxKeyBody {
		// Put back what was read in front of the rest.
		orig := r.Body
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), orig), orig}
		return kb
	}
	_ = r.Body.Close()
	kb.raw = buf
	setBody(r, buf)
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		if form, err := url.ParseQuery(string(buf)); err == nil {
			kb.kind, kb.form = "form", form
		}
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(buf))
		dec.UseNumber() // re-encoding after hide_credentials keeps numbers as sent
		var m map[string]any
		if dec.Decode(&m) == nil {
			kb.kind, kb.json = "json", m
		}
	case "multipart/form-data":
		if b := params["boundary"]; b != "" {
			if fields, ok := multipartFields(buf, b); ok {
				kb.kind, kb.multipart, kb.boundary = "multipart", fields, b
			}
		}
	}
	return kb
}

func multipartFields(buf []byte, boundary string) (map[string][]string, bool) {
	mr := multipart.NewReader(bytes.NewReader(buf), boundary)
	fields := map[string][]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return fields, true
		}
		if err != nil {
			return nil, false
		}
		if part.FileName() == "" {
			v, err := io.ReadAll(part)
			if err != nil {
				return nil, false
			}
			fields[part.FormName()] = append(fields[part.FormName()], string(v))
		}
	}
}

func (kb *keyBody) values(name string) []string {
	switch kb.kind {
	case "form":
		return kb.form[name]
	case "multipart":
		return kb.multipart[name]
	case "json":
		switch v := kb.json[name].(type) {
		case string:
			return []string{v}
		case []any:
			// Kong treats a repeated key (a table) as a duplicate.
			if len(v) > 1 {
				return []string{"", ""}
			}
		}
	}
	return nil
}

// remove deletes the key from the body and re-encodes it (hide_credentials).
func (kb *keyBody) remove(r *http.Request, name string) {
	var out []byte
	switch kb.kind {
	case "form":
		if _, ok := kb.form[name]; !ok {
			return
		}
		kb.form.Del(name)
		out = []byte(kb.form.Encode())
	case "json":
		if _, ok := kb.json[name]; !ok {
			return
		}
		delete(kb.json, name)
		b, err := json.Marshal(kb.json)
		if err != nil {
			return
		}
		out = b
	case "multipart":
		if _, ok := kb.multipart[name]; !ok {
			return
		}
		b, ok := stripMultipartField(kb.raw, kb.boundary, name)
		if !ok {
			return
		}
		delete(kb.multipart, name)
		out = b
	default:
		return
	}
	kb.raw = out
	setBody(r, out)
}

// stripMultipartField copies a multipart body without the named non-file field,
// keeping the boundary so the Content-Type stays valid.
func stripMultipartField(raw []byte, boundary, name string) ([]byte, bool) {
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, false
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		if part.FormName() == name && part.FileName() == "" {
			continue
		}
		w, err := mw.CreatePart(part.Header)
		if err != nil {
			return nil, false
		}
		if _, err := io.Copy(w, part); err != nil {
			return nil, false
		}
	}
	if err := mw.Close(); err != nil {
		return nil, false
	}
	return out.Bytes(), true
}

// setBody installs buf as the request body, replayable for upstream retries.
func setBody(r *http.Request, buf []byte) {
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	r.ContentLength = int64(len(buf))
	if r.Header.Get("Content-Length") != "" {
		r.Header.Set("Content-Length", strconv.Itoa(len(buf)))
	}
}

// The key-auth plugin's schema, as Kong 3.9 defines it.
func keyAuthFields() []*config.Field {
	return []*config.Field{
		{Name: "key_names", Type: config.TArray, Required: true, Default: []any{"apikey"},
			Elem:        &config.Field{Type: config.TString, Check: checkHeaderName},
			Description: "Describes an array of parameter names where the plugin will look for a key."},
		{Name: "hide_credentials", Type: config.TBoolean, Required: true, Default: false,
			Description: "An optional boolean value telling the plugin to show or hide the credential from the upstream service."},
		{Name: "anonymous", Type: config.TString,
			Description: "An optional string (consumer UUID or username) value to use as an anonymous consumer if authentication fails."},
		{Name: "key_in_header", Type: config.TBoolean, Required: true, Default: true,
			Description: "If enabled (default), the plugin reads the request header and tries to find the key in it."},
		{Name: "key_in_query", Type: config.TBoolean, Required: true, Default: true,
			Description: "If enabled (default), the plugin reads the query parameter in the request and tries to find the key in it."},
		{Name: "key_in_body", Type: config.TBoolean, Required: true, Default: false,
			Description: "If enabled, the plugin reads the request body and tries to find the key in it."},
		{Name: "run_on_preflight", Type: config.TBoolean, Required: true, Default: true,
			Description: "A boolean value that indicates whether the plugin should run (and try to authenticate) on OPTIONS preflight requests."},
		{Name: "realm", Type: config.TString,
			Description: "When authentication fails the plugin sends WWW-Authenticate header with realm attribute value."},
	}
}

func init() {
	register(&definition{
		info:       Info{Name: "key-auth", Version: config.KongVersion, Priority: 1250},
		protocols:  []string{"grpc", "grpcs", "http", "https"}, // typedefs.protocols_http
		noConsumer: true,
		fields:     keyAuthFields(),
		build:      newKeyAuth,
	})
}
