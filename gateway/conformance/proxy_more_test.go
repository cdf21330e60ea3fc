package conformance

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/server"
)

// Kong 3.9's remaining 05-proxy specs: 05-dns, 30-max-args (what the proxy
// passes on), and the spec files whose every case needs a feature the
// gateway does not have, listed so the coverage figure counts them.

const dir05 = "spec/02-integration/05-proxy/"

var _ = register("proxy-more", proxyMoreCases)

// maxArgsProxyCase is 30-max-args_spec.lua's "... when proxying": n query
// arguments, n-4 request headers and an n-argument form body reach the
// upstream unchanged (headers and headers_upstream off, as Kong starts it).
func maxArgsProxyCase(line string, n int) Case {
	return Case{
		Spec: dir05 + "30-max-args_spec.lua:" + line, Name: fmt.Sprintf("no truncation when using %d parameters when proxying", n),
		Settings: func(s *server.Settings) { s.Headers, s.HeadersUpstream = "off", "off" },
		Setup:    pxSvcRoute("proxy", "", obj{"paths": arr{"/proxy"}, "protocols": arr{"http", "https"}}),
		Run: func(t *testing.T, g *GW) {
			q := url.Values{}
			for i := 1; i <= n; i++ {
				q.Set("a"+strconv.Itoa(i), "v"+strconv.Itoa(i))
			}
			body := q.Encode()
			want := map[string]string{}
			h := http.Header{}
			for i := 5; i <= n; i++ {
				h.Set("a"+strconv.Itoa(i), "v"+strconv.Itoa(i))
				want["a"+strconv.Itoa(i)] = "v" + strconv.Itoa(i)
			}
			h.Set("User-Agent", "kong")
			h.Set("Content-Type", "application/x-www-form-urlencoded")
			want["user-agent"], want["content-type"], want["content-length"] = "kong", "application/x-www-form-urlencoded", strconv.Itoa(len(body))
			g.mustDo(t, Step{Method: "POST", To: Proxy, Path: "/proxy?" + q.Encode(), Raw: body, Header: h, Status: 200})
			seen := g.Echo.Last()
			got := map[string]string{}
			for k, v := range seen.Headers {
				switch k {
				case "connection", "x-forwarded-for", "x-forwarded-host", "x-forwarded-path", "x-forwarded-port",
					"x-forwarded-prefix", "x-forwarded-proto", "x-real-ip", "via":
					continue
				}
				got[k] = v
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("upstream headers\n got %v\nwant %v", got, want)
			}
			if seen.Host != g.Echo.Addr {
				t.Errorf("upstream Host %q, want %q", seen.Host, g.Echo.Addr)
			}
			if len(seen.Query) != n || seen.Body != body {
				t.Errorf("upstream got %d query args (want %d) and body %.80q", len(seen.Query), n, seen.Body)
			}
		},
	}
}

var proxyMoreCases = rows(
	// 05-dns_spec.lua
	Case{Spec: dir05 + "05-dns_spec.lua:80", Name: "validates the number of retries", Skip: "DNS query counting (a mock DNS server)"},
	Case{
		Spec: dir05 + "05-dns_spec.lua:137", Name: "fails with 503",
		Setup: []Step{
			{Method: "POST", Path: "/services", Body: obj{"name": "tests-retries", "host": "nowthisdoesnotexistatall.test", "path": "/exist", "port": 80, "protocol": "http"}},
			pxRoute("tests-retries", obj{"hosts": arr{"retries.test"}}),
		},
		Run: func(t *testing.T, g *GW) {
			if _, err := net.LookupHost("nowthisdoesnotexistatall.test"); err != nil {
				if de, ok := err.(*net.DNSError); ok && (de.IsTimeout || de.IsTemporary) && !de.IsNotFound {
					t.Skipf("no working resolver here: %v", err)
				}
			}
			g.mustDo(t, px("GET", "/", "retries.test").with(503, nil, nil))
		},
	},
	Case{Spec: dir05 + "05-dns_spec.lua:194", Name: "release", Skip: "lua-resty-dns UDP sockets"},
	Case{Spec: dir05 + "05-dns_spec.lua:258", Name: "resolve domain name", Skip: skipStreamRoute},

	// 30-max-args_spec.lua: Kong runs the block for 50, 100 and 200 parameters.
	skipped(dir05+"30-max-args_spec.lua", "max-args fixture plugin (lua_max_* settings)",
		"222:no truncation when using 50 parameters", "230:truncation when using 51 parameters",
		"222:no truncation when using 100 parameters", "230:truncation when using 101 parameters",
		"222:no truncation when using 200 parameters", "230:truncation when using 201 parameters"),
	maxArgsProxyCase("238", 50), maxArgsProxyCase("246", 51),
	maxArgsProxyCase("238", 100), maxArgsProxyCase("246", 101),
	maxArgsProxyCase("238", 200), maxArgsProxyCase("246", 201),

	// Spec files that need features the gateway lacks.
	skipped(dir05+"11-handler_spec.lua", "rewrite-phase fixture plugin", "49:runs", "107:doesn't run", "181:doesn't run"),
	skipped(dir05+"16-custom_nginx_directive_spec.lua", "nginx_* injected directives", "46:should insert 'foo-header' header"),
	skipped(dir05+"18-upstream_tls_spec.lua", "upstream mutual TLS (client_certificate, ca_certificates)",
		"324:accessing protected upstream", "340:accessing protected upstream, buffered_proxying = true",
		"368:accessing protected upstream", "394:accessing protected upstream, buffered_proxying = true",
		"414:send updated client certificate", "500:remove client_certificate removes access",
		"554:accessing protected upstream", "570:accessing protected upstream, buffered_proxying = true",
		"604:accessing protected upstream", "630:accessing protected upstream, buffered_proxying = true",
		"650:remove client_certificate removes access",
		"740:access is allowed because Service.client_certificate overrides Upstream.client_certificate"),
	skipped(dir05+"22-reports_spec.lua", "anonymous usage reports", "200:reports http requests", "223:reports https requests",
		"246:when send http request to https port, no other error in error.log", "260:reports h2c requests", "283:reports h2 requests",
		"307:reports grpc requests", "330:reports grpcs requests", "353:reports ws requests", "371:reports wss requests",
		"430:does not log NGINX-produced errors", "450:reports route statistics", "476:reports route statistics after #change"),
	skipped(dir05+"23-context_spec.lua", "ctx-tests fixture plugins", "108:context values are correctly calculated",
		"116:context values are correctly calculated (buffered)", "123:context values are correctly calculated (response)",
		"130:can run unbuffered request after a \"response\" one", "205:context values are correctly calculated"),
	skipped(dir05+"24-buffered_spec.lua", "buffered proxying plugins (enable-buffering, response phase)",
		"179:header can be set from upstream response body on header_filter phase", "189:HEAD request work the same, without a body",
		"201:header can be set from upstream response body and body can be modified on header_filter phase",
		"215:header can be set from upstream response body on response phase", "225:response phase works in HEAD request",
		"237:header can be set from upstream response body and body can be modified on response phase",
		"251:returns 502 on connectivity errors", "264:remains healthy when if-match header is used with buffering"),
	skipped(dir05+"26-udp_spec.lua", skipStreamRoute, "54:proxies udp"),
	skipped(dir05+"27-lua-ssl-trusted-cert_spec.lua", "lua_ssl_trusted_certificate setting", "45:works with single entry", "60:works with multiple entries"),
	skipped(dir05+"27-unbuffered_spec.lua", "route request_buffering=false / response_buffering=true (the gateway buffers request bodies up to 64 KiB and streams every response)",
		"116:is calculated for buffered", "136:is calculated for unbuffered", "155:is calculated for unbuffered request", "175:is calculated for unbuffered response",
		"195:is greater for buffered than unbuffered", "199:is greater for buffered than unbuffered request", "203:is greater for unbuffered response than unbuffered",
		"207:is greater for unbuffered response than unbuffered request", "218:is calculated for buffered", "232:is calculated for unbuffered",
		"246:is calculated for unbuffered request", "260:is calculated for unbuffered response", "274:is greater for unbuffered than buffered",
		"278:is greater for unbuffered than unbuffered request", "282:is greater for unbuffered response than buffered",
		"286:is greater for unbuffered response than unbuffered request", "367:is calculated for buffered", "379:is calculated for unbuffered",
		"391:is calculated for unbuffered request", "403:is calculated for unbuffered response", "415:is greater for buffered than unbuffered",
		"419:is greater for buffered than unbuffered request", "423:is greater for unbuffered response than unbuffered",
		"427:is greater for unbuffered response than unbuffered request"),
	skipped(dir05+"19-grpc_proxy_spec.lua", skipGRPC, "155:proxies grpc", "169:proxies grpc, streaming response", "183:proxies grpc, streaming request",
		"199:proxies grpc, streaming request/response", "215:proxies grpcs", "229:proxies :authority header if `preserve_host` is set",
		"244:sets default :authority header if `preserve_host` isn't set", "259:proxies :authority header on balancer retry",
		"290:non-http2 request on grpc route", "304:non-http2 request on grpcs route", "316:non-grpc request on grpc route (no content-type)",
		"328:non-grpc request on grpcs route (no content-type)", "340:non-grpc request on grpc route (non-grpc content-type)",
		"353:non-grpc request on grpcs route (non-grpc content-type)", "366:grpc on grpcs route"),
	skipped(dir05+"21-grpc_plugins_triggering_spec.lua", skipGRPC, "170:grpc", "185:grpcs", "199:grpc - with reflection", "214:grpcs - with reflection"),
	skipped(dir05+"28-stream_plugins_triggering_spec.lua", skipStreamRoute, "162:tcp", "173:tls", "267:tcp (short-circuited)", "284:tls (short-circuited)"),
	skipped(dir05+"31-stream_tls_spec.lua", skipStreamRoute, "71:tls not set host_header", "81:tls set preserve_host", "110:tls set host_header"),
	skipped(dir05+"25-upstream_keepalive_spec.lua", "upstream keepalive pool settings and their error.log lines (upstream_keepalive_*, client certificates)",
		"132:pools by host|port|sni when upstream is https", "202:pools by host|port|sni|client_cert_id when upstream requires mTLS",
		"243:upstream_keepalive_pool_size = 0 disables connection pooling", "288:reuse upstream keepalive pool",
		"346:free upstream keepalive pool", "379:pools with crc32 collision"),
	skipped(dir05+"29-collect-plugin-errors_spec.lua", "logger fixture plugins", "53:delays the error response"),
	skipped(dir05+"33-request-aware-table_spec.lua", "request-aware-table fixture plugin", "87:allows access when there are no race conditions",
		"93:denies access when there are race conditions and checks are enabled (else allows)", "107:allows access when table is cleared between requests"),
	skipped(dir05+"34-proxy_with_compress_spec.lua", "nginx brotli compression", "55:header can be set when brotli compressor works fine"),
)

var _ = strings.TrimSpace
