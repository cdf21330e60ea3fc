package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHAR: a bin's HAR response is client input. parseHARResponse must
// answer any bytes with a response or problems, never a panic, and a bin it
// accepts must replay without one.
func FuzzHAR(f *testing.F) {
	f.Add([]byte(`{"status":200,"headers":[{"name":"X","value":"1"}],"content":{"mimeType":"text/plain","text":"hi"}}`))
	f.Add([]byte(`{"status":"x","headers":{},"cookies":[1]}`))
	f.Add([]byte(`{"status":999999999999,"content":{"size":-1}}`))
	f.Add([]byte(`[[[[[[[[`))
	f.Add([]byte(`{"status":201,"statusText":"Created","httpVersion":"HTTP/1.1","cookies":[],"headers":[{"name":"Location","value":"/x"}],"content":{"mimeType":"application/json","text":"{}"}}`))
	s := newTest()
	f.Fuzz(func(t *testing.T, raw []byte) {
		resp, problems := parseHARResponse(raw)
		if len(problems) > 0 {
			return
		}
		id := s.bins.add(resp)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/bin/"+id, strings.NewReader("")))
		if w.Code >= 500 && w.Code != resp.Status {
			t.Fatalf("replay of an accepted bin answered %d", w.Code)
		}
	})
}
