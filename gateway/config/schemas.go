package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Table names, as Kong names them in the Admin API and in kong.yml.
const (
	TableServices   = "services"
	TableRoutes     = "routes"
	TableUpstreams  = "upstreams"
	TableTargets    = "targets"
	TableConsumers  = "consumers"
	TablePlugins    = "plugins"
	TableKeyAuth    = "keyauth_credentials"
	maxTimeout      = 2147483646
	defaultTargetPt = 8000
)

// Tables lists every entity table in dependency order (parents first).
var Tables = []string{TableServices, TableRoutes, TableUpstreams, TableTargets, TableConsumers, TablePlugins, TableKeyAuth}

// AllProtocols is Kong OSS 3.9's protocol list (kong/constants.lua): ws and wss are
// Enterprise-only and not accepted.
var AllProtocols = []any{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"}

func between(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }

func idField() *Field   { return &Field{Name: "id", Type: TString, UUID: true, Auto: true} }
func createdAt() *Field { return &Field{Name: "created_at", Type: TInteger, Auto: true} }
func updatedAt() *Field { return &Field{Name: "updated_at", Type: TInteger, Auto: true} }
func tagsField() *Field {
	return &Field{Name: "tags", Type: TSet, Elem: &Field{Type: TString, Check: checkTag}}
}
func nameField() *Field { return &Field{Name: "name", Type: TString, Unique: true, Check: checkName} }
func foreign(name, ref string, required bool) *Field {
	return &Field{Name: name, Type: TForeign, Reference: ref, Required: required}
}

// nameRe is Kong's utf8_name pattern ^[%w%.%-%_~\128-\244]+$: ASCII
// alphanumerics and . - _ ~, and any non-ASCII character.
var nameRe = regexp.MustCompile(`^(?:[A-Za-z0-9._~-]|[^\x00-\x7f])+$`)

// checkName is typedefs.utf8_name; invalid UTF-8 is refused before it, by
// normalizeValue, with Kong's message.
func checkName(v any) string {
	s := v.(string)
	if !nameRe.MatchString(s) {
		return fmt.Sprintf("invalid value '%s': the only accepted ascii characters are alphanumerics or ., -, _, and ~", s)
	}
	return ""
}

// tagRe is Kong's tag pattern ^[ \033-\043\045\046\048-\126\128-\244]+$:
// printable ASCII and space except , and /, and any non-ASCII character.
var tagRe = regexp.MustCompile(`^[ !-+\-.0-~\x{80}-\x{10FFFF}]+$`)

// checkTag is typedefs.tag (validate_tag); invalid UTF-8 is refused before
// it, by normalizeValue, with Kong's message.
func checkTag(v any) string {
	s := v.(string)
	if !tagRe.MatchString(s) {
		return "invalid tag '" + s + "': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
	}
	return ""
}

var hostnameRe = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.)*[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(\.\*)?\.?$`)

// hostKind classifies a host: "ipv4", "ipv6", "name" or "" when invalid.
func hostKind(h string) string {
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		if ip.To4() != nil && !strings.Contains(h, ":") {
			return "ipv4"
		}
		return "ipv6"
	}
	if len(h) > 0 && len(h) <= 253 && hostnameRe.MatchString(h) && !strings.Contains(h, "*") {
		return "name"
	}
	return ""
}

func checkHost(v any) string {
	s := v.(string)
	if hostKind(s) != "" {
		return ""
	}
	if h, p, ok := SplitHostPort(s); ok && p >= 0 && hostKind(h) != "" {
		return "must not have a port"
	}
	return "invalid value: " + s
}

// SplitHostPort splits "host", "host:port", "[v6]:port" or a bare IPv6 address.
// port is -1 when absent; ok is false when the syntax is invalid.
func SplitHostPort(s string) (host string, port int, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, false
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, -1, net.ParseIP(host) != nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", 0, false
		}
		p, err := strconv.Atoi(rest[1:])
		if err != nil || p < 0 || p > 65535 {
			return "", 0, false
		}
		return host, p, net.ParseIP(host) != nil
	}
	if strings.Count(s, ":") > 1 { // bare IPv6
		return s, -1, net.ParseIP(s) != nil
	}
	h, ps, found := strings.Cut(s, ":")
	if !found {
		return s, -1, hostKind(s) != ""
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, false
	}
	return h, p, hostKind(h) != ""
}

var rfc3986Path = regexp.MustCompile(`^/[A-Za-z0-9._~/%!$&'()*+,;=:@-]*$`)
var goodPercent = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

func checkServicePath(v any) string {
	s := v.(string)
	if !strings.HasPrefix(s, "/") {
		return "should start with: /"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	if !rfc3986Path.MatchString(s) {
		return "invalid path: '" + s + "' (characters outside of the reserved list of RFC 3986 found)"
	}
	// Like Kong: blank out valid escapes, then report a stray % with the
	// (up to) two characters after it.
	if raw := goodPercent.ReplaceAllString(s, "___"); strings.Contains(raw, "%") {
		i := strings.Index(raw, "%")
		return "invalid url-encoded value: '" + raw[i:min(i+3, len(raw))] + "'"
	}
	return ""
}

func checkRoutePath(v any) string {
	s := v.(string)
	if strings.HasPrefix(s, "~") {
		re := s[1:]
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Sprintf("invalid regex: '%s' (%v)", re, err)
		}
		return ""
	}
	if !strings.HasPrefix(s, "/") {
		return "should start with: / (fixed path) or ~/ (regex path)"
	}
	return checkServicePath(v)
}

var methodRe = regexp.MustCompile(`^[A-Z]+$`)

func checkMethod(v any) string {
	if s := v.(string); !methodRe.MatchString(s) {
		return "invalid value: " + s
	}
	return ""
}

// headerNameRe is Kong's header_name (kong/tools/http.lua validate_header_name).
var headerNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// checkHeaders is typedefs.headers: every key a header name, checked in
// sorted order so the first error does not depend on map order (Kong, like
// here, reports one key, flat under the field). Kong leaves the values
// unchecked; a value with CR, LF or NUL can never match a request header
// (no server accepts one) and would split an active health check's request,
// so it is refused too.
func checkHeaders(v any) string { return checkHeaderMap(v, false) }

// checkRouteHeaders is a route's headers: checkHeaders plus Kong's
// match_none on Host, which has its own field.
func checkRouteHeaders(v any) string { return checkHeaderMap(v, true) }

func checkHeaderMap(v any, noHost bool) string {
	m := v.(map[string]any)
	for _, k := range sortedKeys(m) {
		switch {
		case k == "":
			return "length must be at least 1" // Kong's implicit len_min of strings
		case noHost && strings.EqualFold(k, "host"):
			return "cannot contain 'host' header, which must be specified in the 'hosts' attribute"
		case !headerNameRe.MatchString(k):
			return "bad header name '" + k + "', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
		}
		vals, _ := m[k].([]any)
		for _, hv := range vals {
			if s, ok := hv.(string); ok && strings.ContainsAny(s, "\r\n\x00") {
				return "bad header value for '" + k + "': must not contain CR, LF or NUL"
			}
		}
	}
	return ""
}

func checkUpstreamName(v any) string {
	s := v.(string)
	h, port, ok := SplitHostPort(s)
	switch {
	case !ok:
		return fmt.Sprintf("Invalid name ('%s'); must be a valid hostname", s)
	case port >= 0:
		return fmt.Sprintf("Invalid name ('%s'); no port allowed", s)
	case hostKind(h) != "name":
		return fmt.Sprintf("Invalid name ('%s'); no ip addresses allowed", s)
	}
	return ""
}

func checkTarget(v any) string {
	s := v.(string)
	if _, _, ok := SplitHostPort(s); !ok {
		return fmt.Sprintf("Invalid target ('%s'); not a valid hostname or ip address", s)
	}
	return ""
}

// NormalizeTarget applies Kong's target normalization: port 8000 when absent,
// IPv6 in brackets.
func NormalizeTarget(s string) string {
	h, p, ok := SplitHostPort(s)
	if !ok {
		return s
	}
	if p < 0 {
		p = defaultTargetPt
	}
	return net.JoinHostPort(h, strconv.Itoa(p))
}

func ints(xs ...int) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// StringValues is strings as JSON-shaped values (a OneOf, a Default).
func StringValues(xs ...string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func httpStatuses(def []any) *Field {
	return &Field{Name: "http_statuses", Type: TArray, Default: def, Elem: &Field{Type: TInteger, Between: between(100, 999)}}
}

func counter(name string) *Field {
	return &Field{Name: name, Type: TInteger, Default: 0.0, Between: between(0, 255)}
}

func healthchecksField() *Field {
	headersMap := &Field{Name: "headers", Type: TMap, Elem: &Field{Type: TArray, Elem: &Field{Type: TString}}, Check: checkHeaders}
	interval := &Field{Name: "interval", Type: TNumber, Default: 0.0, Between: between(0, 65535)}
	intervalU := *interval
	active := &Field{Name: "active", Type: TRecord, Fields: []*Field{
		{Name: "type", Type: TString, Default: "http", OneOf: StringValues("tcp", "http", "https", "grpc", "grpcs")},
		{Name: "timeout", Type: TNumber, Default: 1.0, Between: between(0, 65535)},
		{Name: "concurrency", Type: TInteger, Default: 10.0, Between: between(1, 2147483648)},
		{Name: "http_path", Type: TString, Default: "/", Check: checkServicePath},
		{Name: "https_sni", Type: TString, Check: checkHost},
		{Name: "https_verify_certificate", Type: TBoolean, Default: true},
		headersMap,
		{Name: "healthy", Type: TRecord, Fields: []*Field{
			interval,
			httpStatuses(ints(200, 302)),
			counter("successes"),
		}},
		{Name: "unhealthy", Type: TRecord, Fields: []*Field{
			&intervalU,
			httpStatuses(ints(429, 404, 500, 501, 502, 503, 504, 505)),
			counter("tcp_failures"),
			counter("timeouts"),
			counter("http_failures"),
		}},
	}}
	passive := &Field{Name: "passive", Type: TRecord, Fields: []*Field{
		{Name: "type", Type: TString, Default: "http", OneOf: StringValues("tcp", "http", "https", "grpc", "grpcs")},
		{Name: "healthy", Type: TRecord, Fields: []*Field{
			httpStatuses(ints(200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308)),
			counter("successes"),
		}},
		{Name: "unhealthy", Type: TRecord, Fields: []*Field{
			httpStatuses(ints(429, 500, 503)),
			counter("tcp_failures"),
			counter("timeouts"),
			counter("http_failures"),
		}},
	}}
	return &Field{Name: "healthchecks", Type: TRecord, Fields: []*Field{
		active, passive,
		{Name: "threshold", Type: TNumber, Default: 0.0, Between: between(0, 100)},
		{Name: "half_open", Type: TRecord, Nullable: true, Fields: []*Field{
			{Name: "cooldown", Type: TNumber, Required: true, Between: between(0.001, 86400)},
		}},
	}}
}

var hashOn = StringValues("none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture")

// Schemas holds every entity's schema by table name.
var Schemas = map[string]*Schema{
	TableServices: {
		Name: TableServices,
		Fields: []*Field{
			idField(), createdAt(), updatedAt(),
			nameField(),
			{Name: "retries", Type: TInteger, Default: 5.0, Between: between(0, 32767)},
			{Name: "protocol", Type: TString, Required: true, Default: "http", OneOf: AllProtocols},
			{Name: "host", Type: TString, Required: true, Check: checkHost},
			{Name: "port", Type: TInteger, Required: true, Default: 80.0, Between: between(0, 65535)},
			{Name: "path", Type: TString, Check: checkServicePath},
			{Name: "connect_timeout", Type: TInteger, Default: 60000.0, Between: between(0, maxTimeout)},
			{Name: "write_timeout", Type: TInteger, Default: 60000.0, Between: between(0, maxTimeout)},
			{Name: "read_timeout", Type: TInteger, Default: 60000.0, Between: between(0, maxTimeout)},
			tagsField(),
			foreign("client_certificate", "certificates", false),
			{Name: "tls_verify", Type: TBoolean},
			{Name: "tls_verify_depth", Type: TInteger, Between: between(0, 64)},
			{Name: "ca_certificates", Type: TArray, Elem: &Field{Type: TString, UUID: true}},
			{Name: "enabled", Type: TBoolean, Required: true, Default: true},
		},
		FieldChecks: []func(map[string]any) (string, string){
			func(m map[string]any) (string, string) {
				p, _ := m["protocol"].(string)
				if m["path"] != nil && (p == "tcp" || p == "tls" || p == "tls_passthrough" || p == "udp" || p == "grpc" || p == "grpcs") {
					return "path", "value must be null"
				}
				return "", ""
			},
		},
	},
	TableRoutes: {
		Name: TableRoutes,
		Fields: []*Field{
			idField(), createdAt(), updatedAt(),
			nameField(),
			{Name: "protocols", Type: TSet, Required: true, Default: StringValues("http", "https"), LenMin: 1, Elem: &Field{Type: TString, OneOf: AllProtocols}},
			{Name: "methods", Type: TSet, Elem: &Field{Type: TString, Check: checkMethod}},
			{Name: "hosts", Type: TArray, Elem: &Field{Type: TString, Check: checkWildcardHost}},
			{Name: "paths", Type: TArray, Elem: &Field{Type: TString, Check: checkRoutePath}},
			{Name: "headers", Type: TMap, Elem: &Field{Type: TArray, Elem: &Field{Type: TString}}, Check: checkRouteHeaders},
			{Name: "https_redirect_status_code", Type: TInteger, Required: true, Default: 426.0, OneOf: ints(426, 301, 302, 307, 308)},
			{Name: "regex_priority", Type: TInteger, Default: 0.0},
			{Name: "strip_path", Type: TBoolean, Required: true, Default: true},
			{Name: "path_handling", Type: TString, Default: "v0", OneOf: StringValues("v0", "v1")},
			{Name: "preserve_host", Type: TBoolean, Required: true, Default: false},
			{Name: "request_buffering", Type: TBoolean, Required: true, Default: true},
			{Name: "response_buffering", Type: TBoolean, Required: true, Default: true},
			{Name: "snis", Type: TSet, Elem: &Field{Type: TString, Check: checkHost}},
			{Name: "sources", Type: TSet, Elem: cidrPortField()},
			{Name: "destinations", Type: TSet, Elem: cidrPortField()},
			tagsField(),
			foreign("service", TableServices, false),
		},
		FieldChecks:  routeFieldChecks(),
		EntityChecks: []func(map[string]any) string{checkRouteMatchers},
	},
	TableUpstreams: {
		Name: TableUpstreams,
		Fields: []*Field{
			idField(), createdAt(), updatedAt(),
			{Name: "name", Type: TString, Required: true, Unique: true, Check: checkUpstreamName},
			{Name: "algorithm", Type: TString, Default: "round-robin", OneOf: StringValues("consistent-hashing", "least-connections", "round-robin", "latency")},
			{Name: "hash_on", Type: TString, Default: "none", OneOf: hashOn},
			{Name: "hash_fallback", Type: TString, Default: "none", OneOf: hashOn},
			{Name: "hash_on_header", Type: TString, Check: checkHeaderName},
			{Name: "hash_fallback_header", Type: TString, Check: checkHeaderName},
			{Name: "hash_on_cookie", Type: TString, Check: checkCookieName},
			{Name: "hash_on_cookie_path", Type: TString, Default: "/", Check: checkServicePath},
			{Name: "hash_on_query_arg", Type: TString, LenMin: 1},
			{Name: "hash_fallback_query_arg", Type: TString, LenMin: 1},
			{Name: "hash_on_uri_capture", Type: TString, LenMin: 1},
			{Name: "hash_fallback_uri_capture", Type: TString, LenMin: 1},
			{Name: "slots", Type: TInteger, Default: 10000.0, Between: between(10, 65536)},
			healthchecksField(),
			tagsField(),
			{Name: "host_header", Type: TString, Check: checkHost},
			foreign("client_certificate", "certificates", false),
			{Name: "use_srv_name", Type: TBoolean, Default: false},
		},
		Checks: upstreamHashChecks(),
	},
	TableTargets: {
		Name: TableTargets,
		Fields: []*Field{
			idField(),
			{Name: "created_at", Type: TNumber, Auto: true},
			{Name: "updated_at", Type: TNumber, Auto: true},
			foreign("upstream", TableUpstreams, true),
			{Name: "target", Type: TString, Required: true, Check: checkTarget},
			{Name: "weight", Type: TInteger, Default: 100.0, Between: between(0, 65535)},
			tagsField(),
		},
	},
	TableConsumers: {
		Name: TableConsumers,
		Fields: []*Field{
			idField(), createdAt(), updatedAt(),
			{Name: "username", Type: TString, Unique: true},
			{Name: "custom_id", Type: TString, Unique: true},
			tagsField(),
		},
		EntityChecks: []func(map[string]any) string{
			func(m map[string]any) string {
				if isBlank(m["username"]) && isBlank(m["custom_id"]) {
					return "at least one of these fields must be non-empty: 'custom_id', 'username'"
				}
				return ""
			},
		},
	},
	TablePlugins: {
		Name: TablePlugins,
		Fields: []*Field{
			idField(), createdAt(), updatedAt(),
			{Name: "name", Type: TString, Required: true},
			{Name: "instance_name", Type: TString, Unique: true, Check: checkName},
			{Name: "config", Type: TAny},
			{Name: "enabled", Type: TBoolean, Required: true, Default: true},
			{Name: "protocols", Type: TSet, Required: true, Default: StringValues("grpc", "grpcs", "http", "https"), Elem: &Field{Type: TString, OneOf: AllProtocols}},
			foreign("service", TableServices, false),
			foreign("route", TableRoutes, false),
			foreign("consumer", TableConsumers, false),
			tagsField(),
		},
	},
	TableKeyAuth: {
		Name: TableKeyAuth,
		Fields: []*Field{
			idField(), createdAt(),
			{Name: "key", Type: TString, Unique: true, LenMin: 1},
			foreign("consumer", TableConsumers, true),
			{Name: "ttl", Type: TInteger, Between: between(0, 100000000)},
			tagsField(),
		},
	},
}

func cidrPortField() *Field {
	return &Field{Type: TRecord, Fields: []*Field{
		{Name: "ip", Type: TString},
		{Name: "port", Type: TInteger, Between: between(0, 65535)},
	}}
}

func checkWildcardHost(v any) string {
	s := v.(string)
	if strings.Count(s, "*") > 1 {
		return "invalid wildcard: must have at most one wildcard"
	}
	if strings.Contains(s, "*") && !strings.HasPrefix(s, "*.") && !strings.HasSuffix(s, ".*") {
		return "invalid wildcard: must be placed at leftmost or rightmost label"
	}
	h := strings.TrimSuffix(strings.TrimPrefix(s, "*."), ".*")
	hh, _, ok := SplitHostPort(h)
	if !ok || hostKind(hh) == "" {
		return "invalid value: " + s
	}
	return ""
}

func isBlank(v any) bool {
	s, ok := v.(string)
	return !ok || s == ""
}

func hasItems(v any) bool {
	switch x := v.(type) {
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return false
}

// routeSubschema is the subschema Kong's routes schema picks by its
// subschema_key "protocols": the first protocol's (http and https → "http",
// grpc and grpcs → "grpc", tcp, tls, tls_passthrough and udp → "tcp").
func routeSubschema(protos []any) string {
	for _, p := range protos {
		switch p {
		case "http", "https":
			return "http"
		case "grpc", "grpcs":
			return "grpc"
		case "tcp", "tls", "tls_passthrough", "udp":
			return "tcp"
		}
	}
	return ""
}

// quoteList renders Kong's %s for a list of field names: 'a', 'b'.
func quoteList(names ...string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

// checkRouteMatchers is the routes subschemas' conditional_at_least_one_of
// (kong/db/schema/entities/routes_subschemas.lua).
func checkRouteMatchers(m map[string]any) string {
	protos, _ := m["protocols"].([]any)
	has := func(p string) bool { return slices.Contains(protos, any(p)) }
	anyOf := func(fields ...string) bool {
		for _, f := range fields {
			if hasItems(m[f]) {
				return true
			}
		}
		return false
	}
	allIn := func(set ...string) bool {
		for _, p := range protos {
			if !slices.Contains(set, p.(string)) {
				return false
			}
		}
		return len(protos) > 0
	}
	switch routeSubschema(protos) {
	case "http":
		if has("https") {
			if f := []string{"methods", "hosts", "headers", "paths", "snis"}; !anyOf(f...) {
				return "must set one of " + quoteList(f...) + " when 'protocols' is 'https'"
			}
		} else if has("http") {
			if f := []string{"methods", "hosts", "headers", "paths"}; !anyOf(f...) {
				return "must set one of " + quoteList(f...) + " when 'protocols' is 'http'"
			}
		}
	case "grpc":
		if has("grpcs") {
			if f := []string{"hosts", "headers", "paths", "snis"}; !anyOf(f...) {
				return "must set one of " + quoteList(f...) + " when 'protocols' is 'grpcs'"
			}
		} else if has("grpc") {
			if f := []string{"hosts", "headers", "paths"}; !anyOf(f...) {
				return "must set one of " + quoteList(f...) + " when 'protocols' is 'grpc'"
			}
		}
	case "tcp":
		if allIn("tcp", "tls", "udp") && !anyOf("sources", "destinations", "snis") {
			return "must set one of " + quoteList("sources", "destinations", "snis") + " when 'protocols' is 'tcp', 'tls' or 'udp'"
		}
		if allIn("tls_passthrough") && !anyOf("snis") {
			return "must set snis when 'protocols' is 'tls_passthrough'"
		}
	}
	return ""
}

// routeFieldChecks are the subschemas' per-field rules: fields a protocol
// family cannot set, reported under the field.
func routeFieldChecks() []func(map[string]any) (string, string) {
	cannot := func(sub, field, msg string, isSet func(v any) bool) func(map[string]any) (string, string) {
		return func(m map[string]any) (string, string) {
			protos, _ := m["protocols"].([]any)
			if routeSubschema(protos) == sub && isSet(m[field]) {
				return field, msg
			}
			return "", ""
		}
	}
	notNull := func(v any) bool { return v != nil }
	isTrue := func(v any) bool { return v == true }
	const grpcErr = "when 'protocols' is 'grpc' or 'grpcs'"
	const httpErr = "when 'protocols' is 'http' or 'https'"
	const tcpErr = "when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"
	return []func(map[string]any) (string, string){
		cannot("http", "sources", "cannot set 'sources' "+httpErr, notNull),
		cannot("http", "destinations", "cannot set 'destinations' "+httpErr, notNull),
		cannot("grpc", "strip_path", "cannot set 'strip_path' "+grpcErr, isTrue),
		cannot("grpc", "methods", "cannot set 'methods' "+grpcErr, notNull),
		cannot("grpc", "sources", "cannot set 'sources' "+grpcErr, notNull),
		cannot("grpc", "destinations", "cannot set 'destinations' "+grpcErr, notNull),
		cannot("tcp", "methods", "cannot set 'methods' "+tcpErr, notNull),
		cannot("tcp", "hosts", "cannot set 'hosts' "+tcpErr, notNull),
		cannot("tcp", "paths", "cannot set 'paths' "+tcpErr, notNull),
		cannot("tcp", "headers", "cannot set 'headers' "+tcpErr, notNull),
		func(m map[string]any) (string, string) {
			protos, _ := m["protocols"].([]any)
			for _, p := range protos {
				if p == "grpcs" || p == "https" || p == "tls" || p == "tls_passthrough" {
					return "", ""
				}
			}
			if hasItems(m["snis"]) {
				return "snis", "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'"
			}
			return "", ""
		},
	}
}

// upstreamHashChecks are Kong's upstreams entity_checks
// (kong/db/schema/entities/upstreams.lua), in its order.
func upstreamHashChecks() []Check {
	req := func(ifField, value, then string) Check {
		return Check{Conditional: &Conditional{IfField: ifField, IfValue: value, ThenField: then, Required: true}}
	}
	oneOf := func(ifField, value, then string, allowed ...string) Check {
		return Check{Conditional: &Conditional{IfField: ifField, IfValue: value, ThenField: then, OneOf: StringValues(allowed...)}}
	}
	return []Check{
		req("hash_on", "header", "hash_on_header"),
		req("hash_fallback", "header", "hash_fallback_header"),
		req("hash_on", "cookie", "hash_on_cookie"),
		req("hash_fallback", "cookie", "hash_on_cookie"),
		oneOf("hash_on", "none", "hash_fallback", "none"),
		oneOf("hash_on", "cookie", "hash_fallback", "none"),
		oneOf("hash_on", "consumer", "hash_fallback", "none", "ip", "header", "cookie", "path", "query_arg", "uri_capture"),
		oneOf("hash_on", "ip", "hash_fallback", "none", "consumer", "header", "cookie", "path", "query_arg", "uri_capture"),
		oneOf("hash_on", "path", "hash_fallback", "none", "consumer", "header", "cookie", "query_arg", "ip", "uri_capture"),
		{Distinct: []string{"hash_on_header", "hash_fallback_header"}},
		req("hash_on", "query_arg", "hash_on_query_arg"),
		req("hash_fallback", "query_arg", "hash_fallback_query_arg"),
		{Distinct: []string{"hash_on_query_arg", "hash_fallback_query_arg"}},
		req("hash_on", "uri_capture", "hash_on_uri_capture"),
		req("hash_fallback", "uri_capture", "hash_fallback_uri_capture"),
		{Distinct: []string{"hash_on_uri_capture", "hash_fallback_uri_capture"}},
	}
}

// checkHeaderName is Kong's tools.http validate_header_name.
func checkHeaderName(v any) string {
	s := v.(string)
	if s != "" && headerNameRe.MatchString(s) {
		return ""
	}
	return fmt.Sprintf("bad header name '%s', allowed characters are A-Z, a-z, 0-9, '_', and '-'", s)
}

// checkCookieName is Kong's tools.http validate_cookie_name.
func checkCookieName(v any) string {
	s := v.(string)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 32 || c == 127 || strings.IndexByte(" \t()<>@,;:\\\"/?={}[]", c) >= 0 {
			return `contains one or more invalid characters. ASCII control characters (0-31;127), space, tab and the characters ()<>@,;:\"/?={}[] are not allowed.`
		}
	}
	if s == "" {
		return `contains one or more invalid characters. ASCII control characters (0-31;127), space, tab and the characters ()<>@,;:\"/?={}[] are not allowed.`
	}
	return ""
}
