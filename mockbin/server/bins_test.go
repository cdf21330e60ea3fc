package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const validHAR = `{
  "status": 202,
  "statusText": "Accepted",
  "httpVersion": "HTTP/1.1",
  "headers": [{"name": "X-Bin", "value": "yes"}, {"name": "Content-Length", "value": "999"}],
  "cookies": [{"name": "session", "value": "abc"}],
  "content": {"mimeType": "application/json", "text": "{\"ok\":true}"}
}`

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func createBin(t *testing.T, s *Server, body string) string {
	t.Helper()
	rec := record(s, reqSpec{method: "POST", target: "/bin/create", body: body, hdr: map[string]string{"Content-Type": "application/json"}})
	if rec.status != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.status, rec.body)
	}
	var id string
	if err := json.Unmarshal([]byte(rec.body), &id); err != nil || !uuidRE.MatchString(id) {
		t.Fatalf("create answered %q, want a JSON uuid", rec.body)
	}
	if loc := rec.header.Get("Location"); loc != "/bin/"+id {
		t.Fatalf("Location %q, want /bin/%s", loc, id)
	}
	return id
}

func TestBinCreateReplayViewLog(t *testing.T) {
	s := newTest()
	id := createBin(t, s, validHAR)

	// Replay, on the bin itself and under any sub-path, with any method.
	for i, rs := range []reqSpec{
		{target: "/bin/" + id},
		{method: "POST", target: "/bin/" + id + "/deeper/path?q=1", body: "payload"},
		{method: "DELETE", target: "/bin/" + id},
	} {
		rec := record(s, rs)
		if rec.status != 202 || rec.body != `{"ok":true}` {
			t.Fatalf("replay %d: %d %q", i, rec.status, rec.body)
		}
		if rec.header.Get("X-Bin") != "yes" || rec.header.Get("Content-Type") != "application/json" {
			t.Errorf("replay %d headers %v", i, rec.header)
		}
		if rec.header.Get("Content-Length") != "11" {
			t.Errorf("stored Content-Length must not be replayed: %q", rec.header.Get("Content-Length"))
		}
		if !strings.HasPrefix(rec.header.Get("Set-Cookie"), "session=abc") {
			t.Errorf("cookie %q", rec.header.Get("Set-Cookie"))
		}
	}

	view := decodeJSON(t, []byte(record(s, reqSpec{target: "/bin/" + id + "/view"}).body))
	if field(t, view, "status") != 202.0 || field(t, view, "content", "size") != 11.0 || field(t, view, "headers", 0, "name") != "X-Bin" {
		t.Errorf("view %v", view)
	}

	sample := decodeJSON(t, []byte(record(s, reqSpec{target: "/bin/" + id + "/sample"}).body))
	if field(t, sample, "url") != "http://example.com/bin/"+id || field(t, sample, "method") != "POST" {
		t.Errorf("sample %v", sample)
	}

	logv := decodeJSON(t, []byte(record(s, reqSpec{target: "/bin/" + id + "/log"}).body))
	entries := field(t, logv, "log", "entries").([]any)
	if len(entries) != 3 {
		t.Fatalf("log has %d entries, want 3", len(entries))
	}
	if field(t, entries[1], "request", "method") != "POST" || field(t, entries[1], "request", "postData", "text") != "payload" {
		t.Errorf("second entry %v", entries[1])
	}
	// Looking at view/sample/log is not logged.
	if field(t, entries[2], "request", "method") != "DELETE" {
		t.Errorf("third entry %v", entries[2])
	}
}

func TestBinLogKeepsLast100(t *testing.T) {
	s := newTest()
	id := createBin(t, s, validHAR)
	for i := range 105 {
		serve(s, reqSpec{target: fmt.Sprintf("/bin/%s?n=%d", id, i)})
	}
	entries := field(t, decodeJSON(t, []byte(record(s, reqSpec{target: "/bin/" + id + "/log"}).body)), "log", "entries").([]any)
	if len(entries) != 100 {
		t.Fatalf("%d entries, want 100", len(entries))
	}
	first := field(t, entries[0], "request", "queryString", 0, "value")
	last := field(t, entries[99], "request", "queryString", 0, "value")
	if first != "5" || last != "104" {
		t.Errorf("log spans n=%v..%v, want 5..104", first, last)
	}
}

func TestBinVariants(t *testing.T) {
	s := newTest()
	// A full HAR entry with the response inside.
	id := createBin(t, s, `{"response": `+validHAR+`}`)
	if rec := record(s, reqSpec{target: "/bin/" + id}); rec.status != 202 {
		t.Errorf("entry form: %d", rec.status)
	}
	// mockbin's web form: a urlencoded "response" field.
	form := url.Values{"response": {validHAR}}.Encode()
	rec := record(s, reqSpec{method: "POST", target: "/bin/create", body: form, hdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if rec.status != 201 {
		t.Errorf("form: %d %s", rec.status, rec.body)
	}
	// Minimal: optional fields may be missing, bodyless status.
	id = createBin(t, s, `{"status":204,"statusText":"","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"mimeType":"text/plain"}}`)
	if rec := record(s, reqSpec{target: "/bin/" + id}); rec.status != 204 || rec.body != "" {
		t.Errorf("204 bin: %d %q", rec.status, rec.body)
	}
	// Redirect bins.
	id = createBin(t, s, `{"status":302,"statusText":"Found","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"mimeType":"text/plain","text":"go"},"redirectURL":"/elsewhere"}`)
	if rec := record(s, reqSpec{target: "/bin/" + id}); rec.status != 302 || rec.header.Get("Location") != "/elsewhere" {
		t.Errorf("redirect bin: %d %v", rec.status, rec.header)
	}
	// Binary content, base64 in the HAR.
	id = createBin(t, s, `{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"mimeType":"application/octet-stream","text":"AAEC/w==","encoding":"base64"}}`)
	if rec := record(s, reqSpec{target: "/bin/" + id}); rec.body != "\x00\x01\x02\xff" {
		t.Errorf("base64 bin replayed %q", rec.body)
	}
	// Delete.
	if rec := record(s, reqSpec{method: "DELETE", target: "/bin/" + id + "/delete"}); rec.status != 200 {
		t.Errorf("delete: %d", rec.status)
	}
	if rec := record(s, reqSpec{target: "/bin/" + id}); rec.status != 404 {
		t.Errorf("after delete: %d", rec.status)
	}
}

func TestBinInvalid(t *testing.T) {
	s := newTest()
	cases := []struct {
		name   string
		body   string
		fields []string
	}{
		{"not json", `status: 200`, []string{""}},
		{"empty object", `{}`, []string{"status", "statusText", "httpVersion", "cookies", "headers", "content"}},
		{"missing mime", `{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{}}`, []string{"content.mimeType"}},
		{"status wrong type", `{"status":"200","statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"mimeType":"x"}}`, []string{"status"}},
		{"status out of range", `{"status":42,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"mimeType":"x"}}`, []string{"status"}},
		{"bad header name", `{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[{"name":"a b","value":"x"}],"cookies":[],"content":{"mimeType":"x"}}`, []string{"headers[0].name"}},
		{"header injection", `{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[{"name":"X","value":"a\r\nb"}],"cookies":[],"content":{"mimeType":"x"}}`, []string{"headers[0].value"}},
		{"bad base64", `{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"mimeType":"x","text":"!!","encoding":"base64"}}`, []string{"content.text"}},
		{"bad cookie", `{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[{"name":"","value":"x"}],"content":{"mimeType":"x"}}`, []string{"cookies[0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(s, reqSpec{method: "POST", target: "/bin/create", body: tc.body})
			if rec.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.status, rec.body)
			}
			var got struct {
				Errors []struct{ Field, Message string }
			}
			if err := json.Unmarshal([]byte(rec.body), &got); err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, e := range got.Errors {
				fields = append(fields, e.Field)
				if e.Message == "" {
					t.Errorf("error for %q has no reason", e.Field)
				}
			}
			if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("error fields %v, want %v", fields, tc.fields)
			}
		})
	}
}

func TestBinUnknownAndBounded(t *testing.T) {
	s := newTest(WithMaxBins(2))
	rec := record(s, reqSpec{target: "/bin/00000000-0000-4000-8000-000000000000"})
	if rec.status != 404 || field(t, decodeJSON(t, []byte(rec.body)), "error", "code") != "404" {
		t.Errorf("unknown bin: %d %s", rec.status, rec.body)
	}
	if rec := record(s, reqSpec{target: "/bin/create"}); rec.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /bin/create: %d", rec.status)
	}
	a := createBin(t, s, validHAR)
	b := createBin(t, s, validHAR)
	c := createBin(t, s, validHAR)
	for id, want := range map[string]int{a: 404, b: 202, c: 202} {
		if rec := record(s, reqSpec{target: "/bin/" + id}); rec.status != want {
			t.Errorf("bin %s: %d, want %d (oldest evicted at capacity 2)", id, rec.status, want)
		}
	}
}

func TestBinLogBudget(t *testing.T) {
	s := newTest(WithMaxBodySize(4 << 20))
	id := createBin(t, s, validHAR)
	big := strings.Repeat("b", 300<<10)
	for range 5 {
		serve(s, reqSpec{method: "POST", target: "/bin/" + id, body: big})
	}
	entries := field(t, decodeJSON(t, []byte(record(s, reqSpec{target: "/bin/" + id + "/log"}).body)), "log", "entries").([]any)
	if len(entries) != 3 {
		t.Errorf("%d entries of 300 KiB kept, want 3 within the 1 MiB budget", len(entries))
	}
	huge := strings.Repeat("h", 2<<20)
	serve(s, reqSpec{method: "POST", target: "/bin/" + id, body: huge})
	entries = field(t, decodeJSON(t, []byte(record(s, reqSpec{target: "/bin/" + id + "/log"}).body)), "log", "entries").([]any)
	text := field(t, entries[len(entries)-1], "request", "postData", "text").(string)
	if len(entries) != 1 || len(text) >= binLogBudget || len(text) < binLogBudget-4096 {
		t.Errorf("after a 2 MiB request: %d entries, logged body %d bytes", len(entries), len(text))
	}
	if size := field(t, entries[0], "request", "bodySize"); size != float64(2<<20) {
		t.Errorf("bodySize %v must still tell the real size", size)
	}
}
