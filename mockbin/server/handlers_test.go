package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestEndpoints(t *testing.T) {
	s := newTest()
	type check func(t *testing.T, rec *httpRec)
	bodyIs := func(want string) check {
		return func(t *testing.T, rec *httpRec) {
			if rec.body != want {
				t.Errorf("body = %q, want %q", rec.body, want)
			}
		}
	}
	jsonAt := func(want any, path ...any) check {
		return func(t *testing.T, rec *httpRec) {
			got := field(t, decodeJSON(t, []byte(rec.body)), path...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%v = %#v, want %#v", path, got, want)
			}
		}
	}
	headerIs := func(name, want string) check {
		return func(t *testing.T, rec *httpRec) {
			if got := rec.header.Get(name); got != want {
				t.Errorf("header %s = %q, want %q", name, got, want)
			}
		}
	}
	cases := []struct {
		name   string
		req    reqSpec
		status int
		ctype  string
		checks []check
	}{
		{"hello json", reqSpec{target: "/"}, 200, "application/json; charset=utf-8", []check{bodyIs(`"Hello World!"`)}},
		{"hello text", reqSpec{target: "/", hdr: map[string]string{"Accept": "text/plain"}}, 200, "text/plain; charset=utf-8", []check{bodyIs("Hello World!")}},
		{"hello html", reqSpec{target: "/", hdr: map[string]string{"Accept": "text/html"}}, 200, "text/html; charset=utf-8", []check{func(t *testing.T, rec *httpRec) {
			if !strings.Contains(rec.body, "<p>Hello World!</p>") {
				t.Errorf("html body lacks the greeting: %s", rec.body)
			}
		}}},
		{"ip peer", reqSpec{target: "/ip"}, 200, "application/json; charset=utf-8", []check{bodyIs(`"192.0.2.1"`)}},
		{"ip forwarded", reqSpec{target: "/ip", hdr: map[string]string{"X-Forwarded-For": "10.0.0.1, 10.0.0.2"}}, 200, "", []check{bodyIs(`"10.0.0.1"`)}},
		{"ips", reqSpec{target: "/ips", hdr: map[string]string{"X-Forwarded-For": "10.10.10.1, 10.10.10.2, 10.10.10.3"}}, 200, "", []check{
			jsonAt(map[string]any{"10.10.10.1": "", "10.10.10.2": "", "10.10.10.3": "", "192.0.2.1": "1234"}),
		}},
		{"agent", reqSpec{target: "/agent", hdr: map[string]string{"User-Agent": "mockbin tester", "Accept": "text/plain"}}, 200, "text/plain; charset=utf-8", []check{bodyIs("mockbin tester")}},
		{"agent missing", reqSpec{target: "/agent"}, 200, "", []check{bodyIs("false")}},
		{"status 900", reqSpec{target: "/status/900"}, 900, "", []check{jsonAt("900", "code"), jsonAt("OK", "message")}},
		{"status reason", reqSpec{target: "/status/900/reason"}, 900, "", []check{jsonAt("reason", "message")}},
		{"status reason spaces", reqSpec{target: "/status/900/because%20of%20reasons"}, 900, "", []check{jsonAt("because of reasons", "message")}},
		{"status reason plus", reqSpec{target: "/status/900/because+of+reasons"}, 900, "", []check{jsonAt("because of reasons", "message")}},
		{"status 204 no body", reqSpec{target: "/status/204"}, 204, "", []check{bodyIs("")}},
		{"status bad", reqSpec{target: "/status/abc"}, 400, "", nil},
		{"status too big", reqSpec{target: "/status/1000"}, 400, "", nil},
		{"status any method", reqSpec{method: "DELETE", target: "/status/418"}, 418, "", []check{jsonAt("418", "code")}},
		{"headers", reqSpec{target: "/headers", hdr: map[string]string{"X-Custom-Header": "ALL YOUR BASE"}}, 200, "", []check{
			func(t *testing.T, rec *httpRec) {
				v := decodeJSON(t, []byte(rec.body))
				found := false
				for _, e := range field(t, v, "headers").([]any) {
					name := field(t, e, "name").(string)
					if name != strings.ToLower(name) {
						t.Errorf("header name %q is not lower-case", name)
					}
					if name == "x-custom-header" && field(t, e, "value") == "ALL YOUR BASE" {
						found = true
					}
				}
				if !found {
					t.Errorf("x-custom-header missing: %s", rec.body)
				}
				if n := field(t, v, "headersSize").(float64); n < 40 {
					t.Errorf("headersSize = %v, want a real size", n)
				}
			},
		}},
		{"header one", reqSpec{target: "/header/X-Custom-Header", hdr: map[string]string{"X-Custom-Header": "v1"}}, 200, "", []check{bodyIs(`"v1"`)}},
		{"header missing", reqSpec{target: "/header/X-None"}, 200, "", []check{bodyIs("false")}},
		{"header set", reqSpec{target: "/header/X-Set/hello"}, 200, "", []check{bodyIs(`"hello"`), headerIs("X-Set", "hello")}},
		{"header too deep", reqSpec{target: "/header/a/b/c"}, 404, "", nil},
		{"cookies", reqSpec{target: "/cookies", hdr: map[string]string{"Cookie": "my-cookie=ALL_YOUR_BASE; b=2"}}, 200, "", []check{
			jsonAt([]any{map[string]any{"name": "my-cookie", "value": "ALL_YOUR_BASE"}, map[string]any{"name": "b", "value": "2"}}),
		}},
		{"cookie one", reqSpec{target: "/cookie/my-cookie", hdr: map[string]string{"Cookie": "my-cookie=ALL_YOUR_BASE"}}, 200, "", []check{bodyIs(`"ALL_YOUR_BASE"`)}},
		{"cookie missing", reqSpec{target: "/cookie/nope"}, 200, "", []check{bodyIs("false")}},
		{"cookie set", reqSpec{target: "/cookie/flavour/oat"}, 200, "", []check{bodyIs(`"oat"`), headerIs("Set-Cookie", "flavour=oat; Path=/")}},
		{"forwarded", reqSpec{target: "/forwarded", hdr: map[string]string{
			"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example", "X-Forwarded-Port": "8443",
		}}, 200, "", []check{
			jsonAt("https", "proto"), jsonAt("api.example", "host"), jsonAt("8443", "port"),
			jsonAt([]any{"203.0.113.9", "192.0.2.1"}, "ips"),
		}},
		{"forwarded rfc7239", reqSpec{target: "/forwarded", hdr: map[string]string{"Forwarded": `for="[2001:db8::1]:4711";proto=https;host=gw`}}, 200, "", []check{
			jsonAt("https", "proto"), jsonAt("gw", "host"), jsonAt([]any{"2001:db8::1", "192.0.2.1"}, "ips"), jsonAt([]any{"4711", "1234"}, "ports"),
		}},
		{"redirect chain", reqSpec{target: "/redirect/302/3"}, 302, "", []check{headerIs("Location", "/redirect/302/2")}},
		{"redirect default count", reqSpec{target: "/redirect/303"}, 303, "", []check{headerIs("Location", "/redirect/303/0")}},
		{"redirect to", reqSpec{target: "/redirect/308?to=http://mockbin.com/"}, 308, "", []check{headerIs("Location", "http://mockbin.com/")}},
		{"redirect to keeps target", reqSpec{target: "/redirect/307/2?to=http://x/"}, 307, "", []check{headerIs("Location", "/redirect/307/1?to=http%3A%2F%2Fx%2F")}},
		{"redirect finished", reqSpec{target: "/redirect/302/0"}, 200, "", []check{bodyIs(`"redirect finished"`)}},
		{"redirect invalid", reqSpec{target: "/redirect/304"}, 400, "", nil},
		{"delay zero", reqSpec{target: "/delay/0"}, 200, "", []check{bodyIs("{\n  \"delay\": 0\n}")}},
		{"delay invalid", reqSpec{target: "/delay/soon"}, 400, "", nil},
		{"stream", reqSpec{target: "/stream/3"}, 200, "text/plain; charset=utf-8", []check{
			bodyIs("{\"type\":\"stream\",\"chunk\":1}\n{\"type\":\"stream\",\"chunk\":2}\n{\"type\":\"stream\",\"chunk\":3}\n"),
		}},
		{"stream capped", reqSpec{target: "/stream/500"}, 200, "", []check{func(t *testing.T, rec *httpRec) {
			if n := strings.Count(rec.body, "\n"); n != 100 {
				t.Errorf("%d lines, want 100", n)
			}
		}}},
		{"echo json", reqSpec{method: "POST", target: "/echo", body: `{"foo": "bar"}`, hdr: map[string]string{"Content-Type": "application/json"}}, 200, "application/json", []check{bodyIs(`{"foo": "bar"}`)}},
		{"echo default type", reqSpec{method: "PUT", target: "/echo", body: "plain"}, 200, "text/plain; charset=utf-8", []check{bodyIs("plain")}},
		{"echo suffix", reqSpec{method: "POST", target: "/echo/any/thing", body: "x"}, 200, "", []check{bodyIs("x")}},
		{"request suffix", reqSpec{target: "/requestanything"}, 200, "", []check{jsonAt("http://example.com/requestanything", "url")}},
		{"har", reqSpec{method: "PATCH", target: "/har?a=1", body: "hi"}, 200, "", []check{
			jsonAt("1.2", "log", "version"), jsonAt("PATCH", "log", "entries", 0, "request", "method"),
			jsonAt([]any{map[string]any{"name": "a", "value": "1"}}, "log", "entries", 0, "request", "queryString"),
			jsonAt("hi", "log", "entries", 0, "request", "postData", "text"), jsonAt(2.0, "log", "entries", 0, "request", "bodySize"),
		}},
		{"not found", reqSpec{target: "/nope"}, 404, "", []check{jsonAt("404", "error", "code"), jsonAt("Not Found", "error", "message")}},
		{"health", reqSpec{target: PathHealth}, 200, "application/json; charset=utf-8", []check{jsonAt("ok", "status"), jsonAt("test", "name")}},
		{"bytes seeded", reqSpec{target: "/bytes/16?seed=7"}, 200, "application/octet-stream", []check{func(t *testing.T, rec *httpRec) {
			if len(rec.body) != 16 {
				t.Errorf("%d bytes, want 16", len(rec.body))
			}
			again := serve(s, reqSpec{target: "/bytes/16?seed=7"}).Body.String()
			if again != rec.body {
				t.Error("same seed gave different bytes")
			}
			if other := serve(s, reqSpec{target: "/bytes/16?seed=8"}).Body.String(); other == rec.body {
				t.Error("different seeds gave the same bytes")
			}
		}}},
		{"bytes too many", reqSpec{target: "/bytes/99999999999"}, 400, "", nil},
		{"unstable never", reqSpec{target: "/unstable?failure_rate=0"}, 200, "", []check{jsonAt("200", "code")}},
		{"unstable always", reqSpec{target: "/unstable?failure_rate=1"}, 500, "", []check{jsonAt("500", "code")}},
		{"unstable bad rate", reqSpec{target: "/unstable?failure_rate=2"}, 400, "", nil},
		{"drip", reqSpec{target: "/drip?duration=0&delay=0&numbytes=5&code=201"}, 201, "application/octet-stream", []check{bodyIs("*****")}},
		{"drip too long", reqSpec{target: "/drip?duration=100s"}, 400, "", nil},
		{"drip bad code", reqSpec{target: "/drip?code=42&delay=0"}, 400, "", nil},
		{"method override query", reqSpec{method: "POST", target: "/request?__method=PUT"}, 200, "", []check{jsonAt("PUT", "method")}},
		{"method override header", reqSpec{method: "POST", target: "/request", hdr: map[string]string{"X-HTTP-Method-Override": "delete"}}, 200, "", []check{jsonAt("DELETE", "method")}},
		{"method override only on POST", reqSpec{method: "GET", target: "/request?__method=PUT"}, 200, "", []check{jsonAt("GET", "method")}},
		{"powered by", reqSpec{target: "/"}, 200, "", []check{headerIs("X-Powered-By", "mockbin")}},
		{"cors default", reqSpec{method: "OPTIONS", target: "/request"}, 200, "", []check{
			headerIs("Access-Control-Allow-Origin", "*"), headerIs("Access-Control-Allow-Methods", "OPTIONS"),
			headerIs("Access-Control-Allow-Headers", "host"), headerIs("Access-Control-Allow-Credentials", "true"),
		}},
		{"cors preflight", reqSpec{method: "OPTIONS", target: "/request", hdr: map[string]string{
			"Origin": "http://app.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-a,x-b",
		}}, 200, "", []check{
			headerIs("Access-Control-Allow-Origin", "http://app.example"), headerIs("Access-Control-Allow-Methods", "PUT"),
			headerIs("Access-Control-Allow-Headers", "x-a,x-b"),
		}},
		{"jsonp", reqSpec{target: "/status/202?callback=cb.x", hdr: map[string]string{"X-Pretty-Print": "0"}}, 202, "text/javascript; charset=utf-8", []check{
			bodyIs(`/**/ typeof cb.x === 'function' && cb.x({"code":"202","message":"OK"});`),
		}},
		{"jsonp bad name ignored", reqSpec{target: "/status/202?callback=alert(1)", hdr: map[string]string{"X-Pretty-Print": "0"}}, 202, "application/json; charset=utf-8", []check{
			bodyIs(`{"code":"202","message":"OK"}`),
		}},
		{"yaml empty list", reqSpec{target: "/cookies", hdr: map[string]string{"Accept": "text/yaml"}}, 200, "text/yaml; charset=utf-8", []check{bodyIs("[]\n")}},
		{"yaml bool", reqSpec{target: "/agent", hdr: map[string]string{"Accept": "application/x-yaml"}}, 200, "application/x-yaml; charset=utf-8", []check{bodyIs("false\n")}},
		{"yaml object", reqSpec{target: "/delay/0", hdr: map[string]string{"Accept": "text/plain"}}, 200, "text/plain; charset=utf-8", []check{bodyIs("delay: 0\n")}},
		{"xml scalar", reqSpec{target: "/", hdr: map[string]string{"Accept": "text/xml"}}, 200, "text/xml; charset=utf-8", []check{bodyIs("<?xml version=\"1.0\"?>\n<response>Hello World!</response>\n")}},
		{"drip seconds", reqSpec{target: "/drip?duration=0.002&delay=0&numbytes=3"}, 200, "", []check{bodyIs("***")}},
		{"drip bad duration", reqSpec{target: "/drip?duration=soon"}, 400, "", nil},
		{"forwarded url", reqSpec{target: "/request", hdr: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example"}}, 200, "", []check{jsonAt("https://api.example/request", "url")}},
		{"header set injection", reqSpec{target: "/header/X-A/a%0D%0AX-Evil:%201"}, 400, "", nil},
		{"cookie set invalid", reqSpec{target: "/cookie/a%3Bb/x"}, 400, "", nil},
		{"pretty off", reqSpec{target: "/delay/0", hdr: map[string]string{"X-Pretty-Print": "0"}}, 200, "", []check{bodyIs(`{"delay":0}`)}},
		{"pretty 4", reqSpec{target: "/delay/0", hdr: map[string]string{"X-Pretty-Print": "4"}}, 200, "", []check{bodyIs("{\n    \"delay\": 0\n}")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(s, tc.req)
			if rec.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", rec.status, tc.status, rec.body)
			}
			if tc.ctype != "" && rec.header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", rec.header.Get("Content-Type"), tc.ctype)
			}
			if got := rec.header.Get(HeaderInstance); got != "test" {
				t.Errorf("%s = %q, want test", HeaderInstance, got)
			}
			for _, c := range tc.checks {
				c(t, rec)
			}
		})
	}
}

type httpRec struct {
	status int
	header http.Header
	body   string
}

func record(h http.Handler, rs reqSpec) *httpRec {
	rec := serve(h, rs)
	return &httpRec{status: rec.Code, header: rec.Result().Header, body: rec.Body.String()}
}

func TestRequestHAR(t *testing.T) {
	s := newTest()
	rec := record(s, reqSpec{
		method: "POST",
		target: "/request/any/path?foo=bar&foo=baz&key=value",
		hdr: map[string]string{
			"Cookie":          "Greet=Hello; World=Universe",
			"X-Custom-Header": "Foo",
			"Content-Type":    "application/x-www-form-urlencoded",
			"X-Forwarded-For": "198.51.100.7",
		},
		body: "foo=bar&n=1&n=2",
	})
	if rec.status != 200 {
		t.Fatalf("status %d", rec.status)
	}
	want := map[string]any{
		"startedDateTime": "2026-01-02T03:04:05.006Z",
		"clientIPAddress": "198.51.100.7",
		"method":          "POST",
		"url":             "http://example.com/request/any/path?foo=bar&foo=baz&key=value",
		"httpVersion":     "HTTP/1.1",
		"cookies":         map[string]any{"Greet": "Hello", "World": "Universe"},
		"headers": map[string]any{
			"host": "example.com", "cookie": "Greet=Hello; World=Universe", "x-custom-header": "Foo",
			"content-type": "application/x-www-form-urlencoded", "x-forwarded-for": "198.51.100.7",
		},
		"queryString": map[string]any{"foo": []any{"bar", "baz"}, "key": "value"},
		"postData": map[string]any{
			"mimeType": "application/x-www-form-urlencoded",
			"text":     "foo=bar&n=1&n=2",
			"params":   map[string]any{"foo": "bar", "n": []any{"1", "2"}},
		},
		"bodySize": 15.0,
	}
	got := decodeJSON(t, []byte(rec.body)).(map[string]any)
	if hs, _ := got["headersSize"].(float64); hs < 100 {
		t.Errorf("headersSize = %v, want the head's size", got["headersSize"])
	}
	delete(got, "headersSize")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("simple HAR mismatch\n got %#v\nwant %#v", got, want)
	}
}

func TestRequestMultipart(t *testing.T) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("a", "1")
	fw, _ := mw.CreateFormFile("file", "x.txt")
	_, _ = fw.Write([]byte("content"))
	_ = mw.Close()
	s := newTest()
	rec := record(s, reqSpec{method: "POST", target: "/har", body: buf.String(), hdr: map[string]string{"Content-Type": mw.FormDataContentType()}})
	v := decodeJSON(t, []byte(rec.body))
	params := field(t, v, "log", "entries", 0, "request", "postData", "params").([]any)
	if len(params) != 2 {
		t.Fatalf("params = %v", params)
	}
	if field(t, params[1], "fileName") != "x.txt" || field(t, params[1], "value") != "content" {
		t.Errorf("file part = %v", params[1])
	}
	rec = record(s, reqSpec{method: "POST", target: "/request", body: buf.String(), hdr: map[string]string{"Content-Type": mw.FormDataContentType()}})
	if got := field(t, decodeJSON(t, []byte(rec.body)), "postData", "params"); !reflect.DeepEqual(got, map[string]any{"a": "1", "file": "content"}) {
		t.Errorf("simple params = %v", got)
	}
}

// TestMockbinChecklist is mockbin's own test list, over a real connection.
func TestMockbinChecklist(t *testing.T) {
	s := newTest()
	ts := startServer(t, s)
	get := func(t *testing.T, method, path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	t.Run("status 900", func(t *testing.T) {
		resp, body := get(t, "GET", "/status/900", nil)
		if resp.StatusCode != 900 || field(t, decodeJSON(t, []byte(body)), "code") != "900" {
			t.Errorf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("redirect 302 3 finishes", func(t *testing.T) {
		hops := 0
		client := *ts.Client()
		client.CheckRedirect = func(req *http.Request, via []*http.Request) error { hops = len(via); return nil }
		resp, err := client.Get(ts.URL + "/redirect/302/3")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != `"redirect finished"` || hops != 3 {
			t.Errorf("body %q after %d hops, want redirect finished after 3", b, hops)
		}
	})
	t.Run("delay defaults to 200", func(t *testing.T) {
		_, body := get(t, "GET", "/delay", nil)
		if field(t, decodeJSON(t, []byte(body)), "delay") != 200.0 {
			t.Errorf("body %s", body)
		}
	})
	t.Run("stream gives 10 lines", func(t *testing.T) {
		resp, body := get(t, "GET", "/stream", nil)
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		if len(lines) != 10 || lines[9] != `{"type":"stream","chunk":10}` {
			t.Errorf("lines %q", lines)
		}
		if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("transfer encoding %v, want chunked", resp.TransferEncoding)
		}
	})
	t.Run("echo defaults to text/plain", func(t *testing.T) {
		resp, _ := get(t, "POST", "/echo", nil)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("headers lower-cases names", func(t *testing.T) {
		_, body := get(t, "GET", "/headers", map[string]string{"X-MiXeD-CaSe": "v"})
		if !strings.Contains(body, `"x-mixed-case"`) || strings.Contains(body, "X-") {
			t.Errorf("body %s", body)
		}
	})
	t.Run("OPTIONS preflight answers CORS", func(t *testing.T) {
		resp, _ := get(t, "OPTIONS", "/request", map[string]string{
			"Origin": "http://ui.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
		})
		want := map[string]string{
			"Access-Control-Allow-Origin": "http://ui.example", "Access-Control-Allow-Methods": "POST",
			"Access-Control-Allow-Headers": "content-type", "Access-Control-Allow-Credentials": "true",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

// TestFinalInformational: mockbin answers /status/1xx with that status as
// the final response, written raw because net/http cannot.
func TestFinalInformational(t *testing.T) {
	ts := startServer(t, newTest())
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /status/103/early HTTP/1.1\r\nHost: x\r\n\r\n")
	all, _ := io.ReadAll(bufio.NewReader(conn))
	got := string(all)
	if !strings.HasPrefix(got, "HTTP/1.1 103 early\r\n") || !strings.Contains(got, "X-Mockbin-Instance: test") ||
		!strings.HasSuffix(got, "{\n  \"code\": \"103\",\n  \"message\": \"early\"\n}") {
		t.Errorf("raw answer %q", got)
	}
}

func TestGzip(t *testing.T) {
	s := newTest()
	cases := []struct {
		path, want string
	}{
		{"/gzip/", `"Hello World!"`},
		{"/gzip/status/201", "{\n  \"code\": \"201\",\n  \"message\": \"OK\"\n}"},
		{"/gzip/stream/2", "{\"type\":\"stream\",\"chunk\":1}\n{\"type\":\"stream\",\"chunk\":2}\n"},
		{"/gzip/gzip/", ""}, // double compression: checked by length below
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			rec := serve(s, reqSpec{target: tc.path})
			if rec.Header().Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding %q", rec.Header().Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && string(b) != tc.want {
				t.Errorf("decoded %q, want %q", b, tc.want)
			}
			if tc.want == "" {
				zr2, err := gzip.NewReader(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("inner layer not gzip: %v", err)
				}
				inner, _ := io.ReadAll(zr2)
				if string(inner) != `"Hello World!"` {
					t.Errorf("inner %q", inner)
				}
			}
		})
	}
}

func TestLimits(t *testing.T) {
	s := newTest(WithMaxBodySize(64), WithMaxDelay(0))
	big := strings.Repeat("x", 65)
	for _, path := range []string{"/request", "/echo", "/har", "/bin/create"} {
		rec := serve(s, reqSpec{method: "POST", target: path, body: big})
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes: status %d, want 413", path, len(big), rec.Code)
		}
	}
	if rec := serve(s, reqSpec{method: "POST", target: "/echo", body: big[:64]}); rec.Code != 200 || rec.Body.Len() != 64 {
		t.Errorf("body at the limit: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	// The delay is capped by WithMaxDelay (0 here), and the answer says so.
	rec := record(s, reqSpec{target: "/delay/60000", hdr: map[string]string{"X-Pretty-Print": "0"}})
	if rec.body != `{"delay":0}` {
		t.Errorf("capped delay body %s", rec.body)
	}
	if rec := serve(s, reqSpec{target: "/bytes/65"}); rec.Code != 400 {
		t.Errorf("/bytes over the limit: %d", rec.Code)
	}
}

// TestInstanceHeaderEverywhere: every kind of answer names the instance.
func TestInstanceHeaderEverywhere(t *testing.T) {
	s := newTest()
	if err := s.SetFault(Fault{Status: 503, Paths: []string{"/sick"}}); err != nil {
		t.Fatal(err)
	}
	for _, rs := range []reqSpec{
		{target: "/"}, {target: "/nope"}, {target: "/status/abc"}, {target: "/bin/none"},
		{method: "POST", target: "/bin/create", body: "{}"}, {target: "/sick"}, {target: PathStats},
		{target: PathFault}, {method: "PATCH", target: PathFault}, {target: "/gzip/request"}, {target: "/redirect/301"},
	} {
		rec := serve(s, rs)
		if got := rec.Header().Get(HeaderInstance); got != "test" {
			t.Errorf("%s %s (%d): %s = %q", rs.method, rs.target, rec.Code, HeaderInstance, got)
		}
	}
}
