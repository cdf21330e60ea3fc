package plugins

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

func TestKeyAuth(t *testing.T) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name   string
		cfg    map[string]any
		call   call
		status int
		msg    string
		// consumer expected on success ("" = none).
		consumer string
		anon     bool
	}{
		{"header key", nil, call{header: http.Header{"Apikey": {"alice-key"}}}, 200, "", "cons-alice", false},
		{"query key", nil, call{target: "/r1?apikey=bob-key"}, 200, "", "cons-bob", false},
		{"custom key name in header", map[string]any{"key_names": []any{"x-api-key"}},
			call{header: http.Header{"X-Api-Key": {"alice-key"}}}, 200, "", "cons-alice", false},
		{"second key name", map[string]any{"key_names": []any{"k1", "k2"}},
			call{target: "/r1?k2=bob-key"}, 200, "", "cons-bob", false},
		{"no key", nil, call{}, 401, "No API key found in request", "", false},
		{"empty key", nil, call{target: "/r1?apikey="}, 401, "No API key found in request", "", false},
		{"unknown key", nil, call{header: http.Header{"Apikey": {"nope"}}}, 401, "Unauthorized", "", false},
		{"duplicate header", nil, call{header: http.Header{"Apikey": {"alice-key", "bob-key"}}}, 401, "Duplicate API key found", "", false},
		{"duplicate query", nil, call{target: "/r1?apikey=a&apikey=b"}, 401, "Duplicate API key found", "", false},
		{"header ignored when key_in_header=false", map[string]any{"key_in_header": false},
			call{header: http.Header{"Apikey": {"alice-key"}}}, 401, "No API key found in request", "", false},
		{"query ignored when key_in_query=false", map[string]any{"key_in_query": false},
			call{target: "/r1?apikey=alice-key"}, 401, "No API key found in request", "", false},
		{"form body", map[string]any{"key_in_body": true},
			call{method: "POST", header: form, body: "apikey=alice-key&x=1"}, 200, "", "cons-alice", false},
		{"json body", map[string]any{"key_in_body": true},
			call{method: "POST", header: jsonCT, body: `{"apikey":"bob-key","n":1}`}, 200, "", "cons-bob", false},
		{"body not searched by default", nil,
			call{method: "POST", header: form, body: "apikey=alice-key"}, 401, "No API key found in request", "", false},
		{"anonymous by username", map[string]any{"anonymous": "bob"}, call{}, 200, "", "cons-bob", true},
		{"anonymous by id on bad key", map[string]any{"anonymous": "cons-bob"},
			call{header: http.Header{"Apikey": {"nope"}}}, 200, "", "cons-bob", true},
		{"anonymous does not replace a good key", map[string]any{"anonymous": "bob"},
			call{header: http.Header{"Apikey": {"alice-key"}}}, 200, "", "cons-alice", false},
		{"anonymous consumer missing", map[string]any{"anonymous": "ghost"}, call{}, 500, "An unexpected error occurred", "", false},
		{"preflight authenticated by default", nil, call{method: "OPTIONS"}, 401, "No API key found in request", "", false},
		{"preflight skipped", map[string]any{"run_on_preflight": false}, call{method: "OPTIONS"}, 200, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			f.plugin("ka", "key-auth", scope{route: "route-1"}, tt.cfg)
			m := newTestManager(t, newFakeClock(t0))
			m.Apply(f.cfg)
			r := f.do(m, f.route, tt.call)
			if r.status() != tt.status {
				t.Fatalf("status %d (%+v), want %d", r.status(), r.exit, tt.status)
			}
			if tt.status != 200 {
				if r.exit.Message != tt.msg {
					t.Errorf("message %q, want %q", r.exit.Message, tt.msg)
				}
				if tt.status == 401 && r.exit.Header.Get("WWW-Authenticate") != "Key" {
					t.Errorf("WWW-Authenticate %q, want Key", r.exit.Header.Get("WWW-Authenticate"))
				}
				if r.ctx.Consumer != nil {
					t.Errorf("consumer set on failure: %v", r.ctx.Consumer.ID)
				}
				return
			}
			got := ""
			if r.ctx.Consumer != nil {
				got = r.ctx.Consumer.ID
			}
			if got != tt.consumer {
				t.Fatalf("consumer %q, want %q", got, tt.consumer)
			}
			if tt.consumer == "" {
				return
			}
			h := r.ctx.Request.Header
			if h.Get("X-Consumer-ID") != tt.consumer {
				t.Errorf("X-Consumer-ID %q", h.Get("X-Consumer-ID"))
			}
			if tt.anon {
				if h.Get("X-Anonymous-Consumer") != "true" || h.Get("X-Credential-Identifier") != "" || r.ctx.Credential != nil {
					t.Errorf("anonymous headers: %v credential %v", h, r.ctx.Credential)
				}
			} else {
				if h.Get("X-Anonymous-Consumer") != "" || r.ctx.Credential == nil || h.Get("X-Credential-Identifier") != r.ctx.Credential.ID {
					t.Errorf("credential headers: %v credential %v", h, r.ctx.Credential)
				}
			}
		})
	}
}

func TestKeyAuthConsumerHeadersReplaceForgedOnes(t *testing.T) {
	f := newFixture()
	f.plugin("ka", "key-auth", scope{}, nil)
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	// Bob has no custom_id: a forged X-Consumer-Custom-ID must not reach upstream.
	r := f.do(m, f.route, call{header: http.Header{
		"Apikey":               {"bob-key"},
		"X-Consumer-Custom-Id": {"forged"},
		"X-Consumer-Username":  {"admin"},
		"X-Anonymous-Consumer": {"true"},
	}})
	h := r.ctx.Request.Header
	want := map[string]string{
		"X-Consumer-ID": "cons-bob", "X-Consumer-Username": "bob", "X-Consumer-Custom-ID": "",
		"X-Credential-Identifier": "cred-bob", "X-Anonymous-Consumer": "",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	r = f.do(m, f.route, call{header: http.Header{"Apikey": {"alice-key"}}})
	if got := r.ctx.Request.Header.Get("X-Consumer-Custom-ID"); got != "A-1" {
		t.Errorf("alice X-Consumer-Custom-ID %q, want A-1", got)
	}
}

func TestKeyAuthHideCredentials(t *testing.T) {
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("apikey", "alice-key")
	_ = mw.WriteField("keep", "yes")
	fw, _ := mw.CreateFormFile("upload", "a.txt")
	_, _ = fw.Write([]byte("file body"))
	_ = mw.Close()

	tests := []struct {
		name  string
		call  call
		check func(t *testing.T, r *http.Request)
	}{
		{"header removed", call{header: http.Header{"Apikey": {"alice-key"}, "X-Other": {"1"}}},
			func(t *testing.T, r *http.Request) {
				if r.Header.Get("Apikey") != "" || r.Header.Get("X-Other") != "1" {
					t.Errorf("headers %v", r.Header)
				}
			}},
		{"query parameter removed, others kept", call{target: "/r1/x?a=1&apikey=alice-key&b=2"},
			func(t *testing.T, r *http.Request) {
				q, _ := url.ParseQuery(r.URL.RawQuery)
				if q.Has("apikey") || q.Get("a") != "1" || q.Get("b") != "2" || r.URL.Path != "/r1/x" {
					t.Errorf("url %s", r.URL)
				}
			}},
		{"form body field removed", call{method: "POST", body: "x=1&apikey=alice-key&y=%C3%A9",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
			func(t *testing.T, r *http.Request) {
				b := readAll(t, r)
				q, _ := url.ParseQuery(b)
				if q.Has("apikey") || q.Get("x") != "1" || q.Get("y") != "é" {
					t.Errorf("body %q", b)
				}
				if r.ContentLength != int64(len(b)) {
					t.Errorf("ContentLength %d, body %d bytes", r.ContentLength, len(b))
				}
			}},
		{"json body field removed, numbers kept", call{method: "POST", body: `{"apikey":"alice-key","n":12345678901234567890,"s":"x"}`,
			header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}},
			func(t *testing.T, r *http.Request) {
				b := readAll(t, r)
				if b != `{"n":12345678901234567890,"s":"x"}` {
					t.Errorf("body %s", b)
				}
			}},
		{"multipart field removed, file kept", call{method: "POST", body: mp.String(),
			header: http.Header{"Content-Type": {mw.FormDataContentType()}}},
			func(t *testing.T, r *http.Request) {
				if err := r.ParseMultipartForm(1 << 20); err != nil {
					t.Fatal(err)
				}
				if r.MultipartForm.Value["apikey"] != nil || r.FormValue("keep") != "yes" {
					t.Errorf("form %v", r.MultipartForm.Value)
				}
				fh := r.MultipartForm.File["upload"]
				if len(fh) != 1 {
					t.Fatalf("file parts %v", r.MultipartForm.File)
				}
				f, _ := fh[0].Open()
				data, _ := io.ReadAll(f)
				if string(data) != "file body" {
					t.Errorf("file %q", data)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			f.plugin("ka", "key-auth", scope{}, map[string]any{"hide_credentials": true, "key_in_body": true})
			m := newTestManager(t, newFakeClock(t0))
			m.Apply(f.cfg)
			r := f.do(m, f.route, tt.call)
			if r.exit != nil || r.ctx.Consumer == nil || r.ctx.Consumer.ID != "cons-alice" {
				t.Fatalf("exit %+v consumer %v", r.exit, r.ctx.Consumer)
			}
			tt.check(t, r.ctx.Request)
		})
	}
}

func TestKeyAuthBodyLeftIntactForUpstream(t *testing.T) {
	f := newFixture()
	f.plugin("ka", "key-auth", scope{}, map[string]any{"key_in_body": true})
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	body := `{"apikey":"alice-key","payload":[1,2,3]}`
	r := f.do(m, f.route, call{method: "POST", body: body, header: http.Header{"Content-Type": {"application/json"}}})
	if r.exit != nil {
		t.Fatalf("exit %+v", r.exit)
	}
	if got := readAll(t, r.ctx.Request); got != body {
		t.Errorf("upstream body %q, want %q", got, body)
	}
	// Replayable for a retry.
	rc, err := r.ctx.Request.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := io.ReadAll(rc)
	if string(again) != body {
		t.Errorf("GetBody %q", again)
	}

	// A body larger than the search limit is passed on whole and not searched.
	big := "apikey=alice-key&pad=" + strings.Repeat("x", maxKeyBody)
	r = f.do(m, f.route, call{method: "POST", body: big, header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if r.status() != 401 {
		t.Errorf("oversized body: status %d, want 401", r.status())
	}
	if got := readAll(t, r.ctx.Request); got != big {
		t.Errorf("oversized body changed: %d bytes, want %d", len(got), len(big))
	}
}

func TestKeyAuthCredentialTTL(t *testing.T) {
	clock := newFakeClock(t0)
	f := newFixture()
	ttl := 60
	f.cfg.KeyAuthCredentials = append(f.cfg.KeyAuthCredentials, &config.KeyAuthCredential{
		ID: "cred-tmp", Key: "tmp-key", Consumer: ref("cons-alice"), TTL: &ttl, CreatedAt: t0.Unix(),
	})
	f.plugin("ka", "key-auth", scope{}, nil)
	m := newTestManager(t, clock)
	m.Apply(f.cfg)
	hdr := http.Header{"Apikey": {"tmp-key"}}
	clock.Set(t0.Add(59 * time.Second))
	if s := f.do(m, f.route, call{header: hdr}).status(); s != 200 {
		t.Errorf("before expiry: %d", s)
	}
	clock.Set(t0.Add(60 * time.Second))
	if r := f.do(m, f.route, call{header: hdr}); r.status() != 401 || r.exit.Message != "Unauthorized" {
		t.Errorf("after expiry: %+v", r.exit)
	}
}

func TestKeyAuthRealm(t *testing.T) {
	f := newFixture()
	f.plugin("ka", "key-auth", scope{}, map[string]any{"realm": "gauntlet"})
	m := newTestManager(t, newFakeClock(t0))
	m.Apply(f.cfg)
	r := f.do(m, f.route, call{})
	if got := r.exit.Header.Get("WWW-Authenticate"); got != `Key realm="gauntlet"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
}

func readAll(t *testing.T, r *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	// Put it back for a second reader in the same test.
	r.Body = io.NopCloser(bytes.NewReader(b))
	if cl := r.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(b)) {
		t.Errorf("Content-Length header %s, body %d bytes", cl, len(b))
	}
	return string(b)
}
