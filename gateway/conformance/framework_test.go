package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/server"
	"github.com/gauntlet-dev/gauntlet/gateway/store"
	"github.com/gauntlet-dev/gauntlet/gateway/store/pgtest"
)

// databaseEnv=postgres runs every case that is not DB-less on the postgres
// store (a fresh schema on a throwaway server each), to show the Admin
// API, kong.yml and the proxy behave there exactly as on the embedded store.
// `make test` runs the suite both ways.
const databaseEnv = "GAUNTLET_CONFORMANCE_DATABASE"

func postgresDatabase(t *testing.T) server.PostgresSettings {
	t.Helper()
	srv := pgtest.Shared(t)
	p := server.PostgresSettings{Host: "127.0.0.1", Port: strconv.Itoa(srv.Port()), User: pgtest.User,
		Database: "postgres", Schema: srv.UniqueName("c")}
	o, err := p.StoreOptions()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := store.Bootstrap(ctx, o); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	return p
}

// notApplicablePrefix starts the Skip of a row that checks Kong's own test
// fixtures with no gateway in the path: not a missing feature.
const notApplicablePrefix = "not applicable:"

// Case is one Kong it(...) block ported as a table row.
type Case struct {
	Spec string // Kong's spec file and line of the it(...), e.g. "spec/02-integration/04-admin_api/10-services_routes_spec.lua:123"
	Name string // the it(...) text

	// DBLess starts the gateway with database=off; Declarative, if set, is
	// the kong.yml it loads at start (the text may use {{vars}}).
	DBLess      bool
	Declarative string
	// Settings, if set, adjusts the gateway's start-up settings.
	Settings func(s *server.Settings)

	Setup []Step // requests that build state first; each must succeed (2xx unless Status says otherwise)
	Steps []Step // the request(s) under test, with expectations
	// Run, if set, runs after Setup and Steps: for assertions a table cannot say.
	Run func(t *testing.T, g *GW)

	Skip    string // non-empty: the missing feature; the row is counted as skipped
	Differs string // non-empty: a documented difference from Kong; the row asserts OUR behaviour
}

// Target says which listener a Step is sent to.
type Target int

const (
	Admin    Target = iota // the Admin API (default)
	Proxy                  // the plain HTTP proxy listener
	ProxyTLS               // the HTTPS proxy listener (certificate not verified)
)

// Step is one request and what its response must be.
//
// Strings in Path, Body (recursively), Form, Raw and Header values may hold
// {{var}} references: values saved by earlier steps (Save) and the built-ins
// listed at GW.Vars.
type Step struct {
	Method string // default GET
	Path   string // path and query, e.g. "/services/{{sid}}/routes?size=1"
	To     Target

	Body      any        // sent as JSON (a string is sent as-is with a JSON content type)
	Form      url.Values // sent as application/x-www-form-urlencoded ...
	Multipart bool       // ... or, if set, as multipart/form-data
	Raw       string     // sent as-is; set Content-Type in Header
	Header    http.Header
	Host      string // overrides the Host header

	Status int // expected status; 0: any 2xx in Setup, unchecked in Steps
	// JSON maps a path in the response body to its expected value. Paths are
	// dotted: "fields.host", "data.0.name", "data.#" (array or object length).
	// A value is compared as JSON (1 equals 1.0; nil means JSON null) unless
	// it is a Matcher: Absent, Present, NotNull, Len, Contains, Match, Set, …
	JSON map[string]any
	// Headers maps a response header to its expected value: a string (exact),
	// or a Matcher over the header's value (Absent, Present, Contains, Match).
	Headers map[string]any
	// Seen checks the last request the echo upstream received, with the same
	// paths as JSON over EchoRequest's JSON form ("headers.x-real-ip").
	Seen map[string]any
	// BodyText, if set, is a Matcher (or exact string) for the raw body.
	BodyText any
	// Save stores values from the response body under names for later steps:
	// {"sid": "id"}.
	Save map[string]string
	// Check, if set, runs last with the full response.
	Check func(t *testing.T, r *Resp)
}

// Resp is a response read in full.
type Resp struct {
	*http.Response
	Body []byte
	JSON any // the decoded body, nil if not JSON
}

// Get returns the value at a dotted path in the JSON body.
func (r *Resp) Get(path string) (any, bool) { return lookup(r.JSON, path) }

// --- registry and reporter -------------------------------------------------

type group struct {
	name  string
	cases []Case
}

var (
	groups   []group
	resultMu sync.Mutex
	results  = map[string]string{} // group/index → "pass" | "fail"
)

// register adds a table to the suite; call it from a package-level var:
//
//	var _ = register("services", servicesCases)
func register(name string, cases []Case) bool {
	groups = append(groups, group{name, cases})
	return true
}

func record(key, outcome string) {
	resultMu.Lock()
	results[key] = outcome
	resultMu.Unlock()
}

// TestConformance runs every registered table; a failing applicable row
// fails it.
func TestConformance(t *testing.T) {
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for i, c := range g.cases {
				key := fmt.Sprintf("%s/%d", g.name, i)
				name := fmt.Sprintf("%03d_%s", i, c.Name)
				t.Run(name, func(t *testing.T) {
					if c.Skip != "" {
						t.Skipf("%s: not implemented: %s", c.Spec, c.Skip)
					}
					t.Parallel()
					record(key, "fail")
					runCase(t, c)
					if !t.Failed() {
						record(key, "pass")
					}
				})
			}
		})
	}
}

// TestTableRows checks every row is well formed: a spec reference with a
// line, a name, and something to check.
func TestTableRows(t *testing.T) {
	specRe := regexp.MustCompile(`^spec/[^:]+_spec\.lua:\d+$`)
	seen := map[string]bool{}
	for _, g := range groups {
		for i, c := range g.cases {
			if !specRe.MatchString(c.Spec) {
				t.Errorf("%s row %d (%q): Spec %q is not spec/…_spec.lua:LINE", g.name, i, c.Name, c.Spec)
			}
			if c.Name == "" {
				t.Errorf("%s row %d: no Name", g.name, i)
			}
			if c.Skip == "" && len(c.Steps) == 0 && c.Run == nil {
				t.Errorf("%s row %d (%q): nothing to check", g.name, i, c.Name)
			}
			k := c.Spec + "|" + c.Name
			if seen[k] {
				t.Errorf("%s row %d: duplicate row %s %q", g.name, i, c.Spec, c.Name)
			}
			seen[k] = true
		}
	}
}

// TestSpecCoverage logs, per Kong spec file, how many rows the tables hold
// and how many of them are skipped (go test -v -run TestSpecCoverage).
func TestSpecCoverage(t *testing.T) {
	type tally struct{ rows, skipped, differs int }
	by := map[string]*tally{}
	for _, g := range groups {
		for _, c := range g.cases {
			file, _, _ := strings.Cut(c.Spec, ":")
			if by[file] == nil {
				by[file] = &tally{}
			}
			by[file].rows++
			if c.Skip != "" {
				by[file].skipped++
			}
			if c.Differs != "" {
				by[file].differs++
			}
		}
	}
	for _, f := range sortedKeys(by) {
		x := by[f]
		t.Logf("%-70s %4d rows, %4d skipped, %d documented differences", f, x.rows, x.skipped, x.differs)
	}
}

var updateReadme = flag.Bool("update-readme", false,
	"after a full run, write the conformance line into README.md (between its conformance markers)")

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	line := reportLine()
	fmt.Println(line)
	if *updateReadme {
		if err := writeReadmeLine(line); err != nil {
			fmt.Fprintln(os.Stderr, "update-readme:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// writeReadmeLine replaces the text between README.md's conformance markers
// with line, so the figure there is always one a full run printed.
func writeReadmeLine(line string) error {
	if strings.Contains(line, "partial run") {
		return fmt.Errorf("not a full run: %s", line)
	}
	const begin, end = "<!-- conformance:begin -->", "<!-- conformance:end -->"
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s markers", path, begin, end)
	}
	s = s[:i+len(begin)] + "\n" + line + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// reportLine computes the summary line from the tables and the results.
func reportLine() string {
	total, skipped, pass, notRun := 0, 0, 0, 0
	reasons := map[string]int{}
	for _, g := range groups {
		for i, c := range g.cases {
			total++
			if c.Skip != "" {
				skipped++
				reasons[c.Skip]++
				continue
			}
			switch results[fmt.Sprintf("%s/%d", g.name, i)] {
			case "pass":
				pass++
			case "":
				notRun++
			}
		}
	}
	var rs []string
	for r := range reasons {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool {
		if reasons[rs[i]] != reasons[rs[j]] {
			return reasons[rs[i]] > reasons[rs[j]]
		}
		return rs[i] < rs[j]
	})
	// A reason starting "not applicable:" is a row that tests Kong's own
	// fixtures, not a missing feature: listed apart.
	var missing, notApplicable []string
	for _, r := range rs {
		if rest, ok := strings.CutPrefix(r, notApplicablePrefix); ok {
			notApplicable = append(notApplicable, fmt.Sprintf("%s ×%d", strings.TrimSpace(rest), reasons[r]))
		} else {
			missing = append(missing, fmt.Sprintf("%s ×%d", r, reasons[r]))
		}
	}
	if len(missing) == 0 {
		missing = []string{"none"}
	}
	line := fmt.Sprintf("conformance: %d of %d Kong spec cases pass; %d skipped (not implemented: %s",
		pass, total, skipped, strings.Join(missing, ", "))
	if len(notApplicable) > 0 {
		line += "; not applicable: " + strings.Join(notApplicable, ", ")
	}
	line += ")"
	if notRun > 0 {
		line += fmt.Sprintf(" [partial run: %d applicable cases not run]", notRun)
	}
	return line
}

// --- the gateway under test -------------------------------------------------

// GW is a running gateway plus the row's variables and echo upstream.
type GW struct {
	*server.Gateway
	AdminURL, ProxyURL, ProxyTLSURL string
	Echo                            *Echo
	// Vars holds saved values and the built-ins: admin (URL), proxy (URL),
	// proxy_ssl (URL), proxy_host (host:port), echo (host:port of the echo
	// upstream), echo_host, echo_port, echo_url (http://host:port).
	Vars   map[string]string
	client *http.Client
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// startGateway starts a fresh gateway on loopback ports with a temp data dir.
func startGateway(t *testing.T, c Case) *GW {
	t.Helper()
	echo := echoUpstream(t)
	vars := map[string]string{
		"echo": echo.Addr, "echo_url": "http://" + echo.Addr,
	}
	vars["echo_host"], vars["echo_port"], _ = strings.Cut(echo.Addr, ":")
	dir := t.TempDir()
	s := server.Settings{
		ProxyListen: "127.0.0.1:0, 127.0.0.1:0 ssl",
		AdminListen: "127.0.0.1:0",
		Database:    "embedded",
		DataDir:     dir,
	}
	if c.DBLess {
		s.Database = "off"
	} else if os.Getenv(databaseEnv) == "postgres" {
		s.Database, s.Postgres = "postgres", postgresDatabase(t)
	}
	if c.Declarative != "" {
		p := filepath.Join(dir, "kong.yml")
		if err := os.WriteFile(p, []byte(expand(c.Declarative, vars)), 0o600); err != nil {
			t.Fatal(err)
		}
		s.DeclarativeConfig = p
	}
	if c.Settings != nil {
		c.Settings(&s)
	}
	g, err := server.Start(s, discardLog)
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	tr := &http.Transport{
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
		DisableCompression: true,
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = g.Shutdown(context.Background())
	})
	gw := &GW{
		Gateway:  g,
		AdminURL: g.AdminAddrs()[0].URL(),
		ProxyURL: g.ProxyAddrs()[0].URL(),
		Echo:     echo,
		Vars:     vars,
		client: &http.Client{
			Transport:     tr,
			Timeout:       20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if len(g.ProxyAddrs()) > 1 {
		gw.ProxyTLSURL = g.ProxyAddrs()[1].URL()
	}
	vars["admin"], vars["proxy"], vars["proxy_ssl"] = gw.AdminURL, gw.ProxyURL, gw.ProxyTLSURL
	vars["proxy_host"] = strings.TrimPrefix(gw.ProxyURL, "http://")
	return gw
}

func runCase(t *testing.T, c Case) {
	if c.Differs != "" {
		t.Logf("%s: documented difference from Kong: %s", c.Spec, c.Differs)
	}
	g := startGateway(t, c)
	for i, s := range c.Setup {
		r := g.Do(t, s)
		if r == nil {
			t.FailNow()
		}
		want := s.Status
		if (want == 0 && (r.StatusCode < 200 || r.StatusCode > 299)) || (want != 0 && r.StatusCode != want) {
			t.Fatalf("setup %d: %s %s = %d, want %v: %s", i, method(s), expand(s.Path, g.Vars), r.StatusCode, orAny(want), r.Body)
		}
		g.check(t, fmt.Sprintf("setup %d", i), s, r)
		if t.Failed() {
			t.FailNow()
		}
	}
	for i, s := range c.Steps {
		r := g.Do(t, s)
		if r == nil {
			t.FailNow()
		}
		if s.Status != 0 && r.StatusCode != s.Status {
			t.Errorf("step %d: %s %s = %d, want %d: %s", i, method(s), expand(s.Path, g.Vars), r.StatusCode, s.Status, trim(r.Body))
		}
		g.check(t, fmt.Sprintf("step %d: %s %s", i, method(s), expand(s.Path, g.Vars)), s, r)
	}
	if c.Run != nil {
		c.Run(t, g)
	}
}

func orAny(n int) any {
	if n == 0 {
		return "2xx"
	}
	return n
}

func method(s Step) string {
	if s.Method == "" {
		return http.MethodGet
	}
	return s.Method
}

func trim(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Do sends a Step's request and reads the response; nil after t.Error on a
// transport failure.
func (g *GW) Do(t *testing.T, s Step) *Resp {
	t.Helper()
	base := g.AdminURL
	switch s.To {
	case Proxy:
		base = g.ProxyURL
	case ProxyTLS:
		base = g.ProxyTLSURL
	}
	var body io.Reader
	ctype := ""
	switch {
	case s.Raw != "":
		body = strings.NewReader(expand(s.Raw, g.Vars))
	case s.Body != nil:
		if str, ok := s.Body.(string); ok {
			body = strings.NewReader(expand(str, g.Vars))
		} else {
			b, err := json.Marshal(expandAny(s.Body, g.Vars))
			if err != nil {
				t.Fatalf("marshal body: %v", err)
			}
			body = bytes.NewReader(b)
		}
		ctype = "application/json"
	case s.Form != nil && s.Multipart:
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, vs := range s.Form {
			for _, v := range vs {
				_ = w.WriteField(k, expand(v, g.Vars))
			}
		}
		_ = w.Close()
		body, ctype = &buf, w.FormDataContentType()
	case s.Form != nil:
		f := url.Values{}
		for k, vs := range s.Form {
			for _, v := range vs {
				f.Add(k, expand(v, g.Vars))
			}
		}
		body, ctype = strings.NewReader(f.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest(method(s), base+expand(s.Path, g.Vars), body)
	if err != nil {
		t.Errorf("build request: %v", err)
		return nil
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, vs := range s.Header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, expand(v, g.Vars))
		}
	}
	if s.Host != "" {
		req.Host = expand(s.Host, g.Vars)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL, err)
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &Resp{Response: resp, Body: b}
	if len(bytes.TrimSpace(b)) > 0 {
		var v any
		if json.Unmarshal(b, &v) == nil {
			r.JSON = v
		}
	}
	return r
}

func (g *GW) check(t *testing.T, where string, s Step, r *Resp) {
	t.Helper()
	for _, p := range sortedKeys(s.JSON) {
		v, ok := r.Get(p)
		if err := matchValue(s.JSON[p], v, ok, g.Vars); err != nil {
			t.Errorf("%s: body %s: %v\n  body: %s", where, p, err, trim(r.Body))
		}
	}
	for _, h := range sortedKeys(s.Headers) {
		vals, ok := r.Header[http.CanonicalHeaderKey(h)]
		var v any
		if ok {
			v = strings.Join(vals, ", ")
		}
		if err := matchValue(s.Headers[h], v, ok, g.Vars); err != nil {
			t.Errorf("%s: header %s: %v", where, h, err)
		}
	}
	if len(s.Seen) > 0 {
		last := g.Echo.Last()
		if last == nil {
			t.Errorf("%s: the echo upstream saw no request", where)
		} else {
			doc := last.doc()
			for _, p := range sortedKeys(s.Seen) {
				v, ok := lookup(doc, p)
				if err := matchValue(s.Seen[p], v, ok, g.Vars); err != nil {
					t.Errorf("%s: upstream saw %s: %v", where, p, err)
				}
			}
		}
	}
	if s.BodyText != nil {
		if err := matchValue(s.BodyText, string(r.Body), true, g.Vars); err != nil {
			t.Errorf("%s: body text: %v", where, err)
		}
	}
	for name, p := range s.Save {
		v, ok := r.Get(p)
		if !ok {
			t.Errorf("%s: save %s: no %s in body %s", where, name, p, trim(r.Body))
			continue
		}
		switch x := v.(type) {
		case string:
			g.Vars[name] = x
		default:
			b, _ := json.Marshal(x)
			g.Vars[name] = string(b)
		}
	}
	if s.Check != nil {
		s.Check(t, r)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// --- variables ----------------------------------------------------------------

var varRe = regexp.MustCompile(`\{\{([A-Za-z0-9_]+)\}\}`)

func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return varRe.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-2]]; ok {
			return v
		}
		return m
	})
}

// NumVar is a body value replaced by a saved variable as a JSON number
// ("created_at": NumVar("created")).
type NumVar string

func expandAny(v any, vars map[string]string) any {
	switch x := v.(type) {
	case NumVar:
		var f float64
		if _, err := fmt.Sscan(vars[string(x)], &f); err != nil {
			return vars[string(x)]
		}
		return f
	case string:
		return expand(x, vars)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = expandAny(e, vars)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = expandAny(e, vars)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = expand(e, vars)
		}
		return out
	}
	return v
}

// --- JSON paths and matchers ----------------------------------------------------

// lookup walks a dotted path: object keys, array indexes, and "#" for length.
func lookup(doc any, path string) (any, bool) {
	if path == "" || path == "." {
		return doc, true
	}
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			if part == "#" {
				cur = float64(len(x))
				continue
			}
			v, ok := x[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			if part == "#" {
				cur = float64(len(x))
				continue
			}
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Matcher checks a value found (ok) or not found at a path.
type Matcher func(v any, ok bool) error

// Absent: the path is missing (not even null).
var Absent Matcher = func(v any, ok bool) error {
	if ok {
		return fmt.Errorf("got %s, want absent", show(v))
	}
	return nil
}

// Present: the path exists (null allowed).
var Present Matcher = func(v any, ok bool) error {
	if !ok {
		return fmt.Errorf("missing")
	}
	return nil
}

// NotNull: the path exists and is not null.
var NotNull Matcher = func(v any, ok bool) error {
	if !ok || v == nil {
		return fmt.Errorf("got %s, want a non-null value", showOK(v, ok))
	}
	return nil
}

// NullOrAbsent: missing or JSON null.
var NullOrAbsent Matcher = func(v any, ok bool) error {
	if ok && v != nil {
		return fmt.Errorf("got %s, want null or absent", show(v))
	}
	return nil
}

// Len: an array, object or string of length n.
func Len(n int) Matcher {
	return func(v any, ok bool) error {
		l := -1
		switch x := v.(type) {
		case []any:
			l = len(x)
		case map[string]any:
			l = len(x)
		case string:
			l = len(x)
		}
		if l != n {
			return fmt.Errorf("got %s, want length %d", showOK(v, ok), n)
		}
		return nil
	}
}

// Contains: a string containing sub, or an array with an element equal to sub.
func Contains(sub any) Matcher {
	return func(v any, ok bool) error {
		switch x := v.(type) {
		case string:
			if s, isStr := sub.(string); isStr && strings.Contains(x, s) {
				return nil
			}
		case []any:
			for _, e := range x {
				if jsonEqual(sub, e) {
					return nil
				}
			}
		}
		return fmt.Errorf("got %s, want it to contain %s", showOK(v, ok), show(sub))
	}
}

// Match: a string matching the regular expression.
func Match(re string) Matcher {
	rx := regexp.MustCompile(re)
	return func(v any, ok bool) error {
		if s, isStr := v.(string); isStr && rx.MatchString(s) {
			return nil
		}
		return fmt.Errorf("got %s, want a match for /%s/", showOK(v, ok), re)
	}
}

// Set: an array with exactly these elements in any order.
func Set(elems ...any) Matcher {
	return func(v any, ok bool) error {
		arr, isArr := v.([]any)
		if !isArr || len(arr) != len(elems) {
			return fmt.Errorf("got %s, want the set %s", showOK(v, ok), show(elems))
		}
		used := make([]bool, len(arr))
	outer:
		for _, e := range elems {
			for i, a := range arr {
				if !used[i] && jsonEqual(e, a) {
					used[i] = true
					continue outer
				}
			}
			return fmt.Errorf("got %s, want the set %s", show(v), show(elems))
		}
		return nil
	}
}

// Not inverts a matcher or an expected value.
func Not(want any) Matcher {
	return func(v any, ok bool) error {
		if matchValue(want, v, ok, nil) == nil {
			return fmt.Errorf("got %s, want anything but %s", showOK(v, ok), show(want))
		}
		return nil
	}
}

// Num: a number satisfying the predicate, e.g. Num(func(n float64) bool { return n > 0 }).
func Num(desc string, pred func(float64) bool) Matcher {
	return func(v any, ok bool) error {
		n, isNum := v.(float64)
		if !isNum {
			if s, isStr := v.(string); isStr {
				f, err := strconv.ParseFloat(s, 64)
				if err == nil {
					n, isNum = f, true
				}
			}
		}
		if !isNum || !pred(n) {
			return fmt.Errorf("got %s, want a number %s", showOK(v, ok), desc)
		}
		return nil
	}
}

// matchValue compares got with want: a Matcher, or a value compared as JSON.
// Expected strings containing {{var}} are expanded first.
func matchValue(want, got any, ok bool, vars map[string]string) error {
	if m, isM := want.(Matcher); isM {
		return m(got, ok)
	}
	if f, isF := want.(func(any, bool) error); isF {
		return f(got, ok)
	}
	if !ok {
		return fmt.Errorf("missing, want %s", show(want))
	}
	if vars != nil {
		want = expandAny(want, vars)
	}
	if !deepMatch(want, got) {
		return fmt.Errorf("got %s, want %s", show(got), show(want))
	}
	return nil
}

// deepMatch compares like jsonEqual, except that Matchers may appear inside
// expected objects and arrays (obj{"created_at": isNumber, ...}).
func deepMatch(want, got any) bool {
	switch w := want.(type) {
	case Matcher:
		return w(got, true) == nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				if m, isM := wv.(Matcher); isM && m(nil, false) == nil {
					continue
				}
				return false
			}
			if !deepMatch(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !deepMatch(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return jsonEqual(want, got)
}

func jsonEqual(a, b any) bool {
	return show(normalize(a)) == show(normalize(b))
}

func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func show(v any) string {
	if _, ok := v.(Matcher); ok {
		return "<matcher>"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func showOK(v any, ok bool) string {
	if !ok {
		return "nothing"
	}
	return show(v)
}

// --- row builders ------------------------------------------------------------------

// contentTypes expands a row into Kong's it_content_types trio: the Steps'
// JSON bodies (maps) are sent as application/www-form-urlencoded,
// multipart/form-data and application/json. Nested objects become dotted
// form keys and arrays repeated "key[]" keys, as Kong's form decoding reads
// them.
func contentTypes(c Case) []Case {
	var out []Case
	for _, ct := range []string{"application/www-form-urlencoded", "multipart/form-data", "application/json"} {
		r := c
		r.Name = c.Name + " with " + ct
		r.Steps = make([]Step, len(c.Steps))
		for i, s := range c.Steps {
			if m, ok := s.Body.(map[string]any); ok && ct != "application/json" {
				s.Form = formOf(m)
				s.Body = nil
				s.Multipart = ct == "multipart/form-data"
			}
			r.Steps[i] = s
		}
		out = append(out, r)
	}
	return out
}

// formOf flattens a JSON object into form fields.
func formOf(m map[string]any) url.Values {
	f := url.Values{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				walk(key, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		case []string:
			for _, e := range x {
				f.Add(prefix+"[]", e)
			}
		case nil:
			f.Add(prefix, "")
		case NumVar:
			f.Add(prefix, "{{"+string(x)+"}}")
		default:
			f.Add(prefix, fmt.Sprint(x))
		}
	}
	walk("", m)
	return f
}

// rows concatenates rows and row groups into one table.
func rows(parts ...any) []Case {
	var out []Case
	for _, p := range parts {
		switch x := p.(type) {
		case Case:
			out = append(out, x)
		case []Case:
			out = append(out, x...)
		default:
			panic(fmt.Sprintf("rows: %T", p))
		}
	}
	return out
}

// obj is shorthand for a JSON object.
type obj = map[string]any

// arr is shorthand for a JSON array.
type arr = []any

// Some matchers and values Kong's specs assert on every entity.
var (
	isNumber Matcher = Num("", func(float64) bool { return true })
	isString Matcher = Match(`.`)
	isUUID   Matcher = Match(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// post is a setup step: POST body as JSON to path, saving the new entity's id
// under save (if given).
func post(path string, body obj, save ...string) Step {
	s := Step{Method: "POST", Path: path, Body: body}
	if len(save) > 0 && save[0] != "" {
		s.Save = map[string]string{save[0]: "id"}
	}
	return s
}

// get is a GET step expecting status with body fields.
func get(path string, status int, fields obj) Step {
	return Step{Path: path, Status: status, JSON: fields}
}

// svc creates a service on host example.test, saving its id under v; the
// name, if given, names it.
func svc(v string, name ...string) Step {
	b := obj{"host": "example.test"}
	if len(name) > 0 {
		b["name"] = name[0]
	}
	return post("/services", b, v)
}

// invalidJSONBody is a step sending a body that fails if decoded as JSON.
func invalidJSONBody(method, path string, status int) Step {
	return Step{Method: method, Path: path, Raw: "this fails if decoded as json",
		Header: http.Header{"Content-Type": {"application/json"}}, Status: status}
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}
