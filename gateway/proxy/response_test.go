package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReadUpstreamResponse(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		method  string
		status  int
		body    string
		close   bool
		fields  []headerField
		trailer http.Header
		err     error // errors.Is target for the head, or for the body when status != 0
		rest    string
	}{
		{name: "content-length keep-alive", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-lower: a \r\n\r\nhelloNEXT",
			status: 200, body: "hello", rest: "NEXT",
			fields: []headerField{{"Content-Length", "5"}, {"X-Lower", "a"}}},
		{name: "bare LF line ends", raw: "HTTP/1.1 201 Created\nContent-Length: 2\n\nok", status: 201, body: "ok"},
		{name: "chunked with extension and trailer",
			raw:    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Sum: 42\r\nx-other: b\r\n\r\nNEXT",
			status: 200, body: "hello, world!!!", trailer: http.Header{"X-Sum": {"42"}, "X-Other": {"b"}}, rest: "NEXT"},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", status: 200, body: "all of it", close: true},
		{name: "connection close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x", close: true},
		{name: "http/1.0 closes", raw: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x", close: true},
		{name: "http/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x"},
		{name: "head has no body", method: "HEAD", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nNEXT", status: 200, rest: "NEXT"},
		{name: "204 has no body", raw: "HTTP/1.1 204 No Content\r\n\r\nNEXT", status: 204, rest: "NEXT"},
		{name: "304 has no body", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nNEXT", status: 304, rest: "NEXT"},
		{name: "interim 100 and 103 skipped", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200},
		{name: "status without reason", raw: "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", status: 404},
		{name: "TE and CL: chunked wins, connection not reused", raw: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n", status: 200, body: "z", close: true},
		{name: "same Content-Length twice", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x"},
		{name: "conflicting Content-Length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", err: errMalformed},
		{name: "negative Content-Length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: errMalformed},
		{name: "obs-fold", raw: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n", err: errMalformed},
		{name: "bad status line", raw: "HTTP/2 200 OK\r\n\r\n", err: errMalformed},
		{name: "not http", raw: "SSH-2.0-OpenSSH\r\n\r\n", err: errMalformed},
		{name: "header without colon", raw: "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", err: errMalformed},
		{name: "switching protocols", raw: "HTTP/1.1 101 Switching Protocols\r\n\r\n", err: errUpgrade},
		{name: "eof before head", raw: "", err: io.EOF},
		{name: "eof inside head", raw: "HTTP/1.1 200 OK\r\nContent-", err: io.ErrUnexpectedEOF},
		{name: "short content-length body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", status: 200, err: io.ErrUnexpectedEOF},
		{name: "bad chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", status: 200, err: errMalformed},
		{name: "chunk without CRLF", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", status: 200, err: errMalformed},
		{name: "truncated chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", status: 200, err: io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.raw), 4096)
			var u upResponse
			method := tc.method
			if method == "" {
				method = "GET"
			}
			err := readUpstreamResponse(br, method, false, &u)
			if tc.status == 0 {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			if u.status != tc.status {
				t.Errorf("status %d, want %d", u.status, tc.status)
			}
			var body []byte
			if !u.noBody {
				body, err = io.ReadAll(u.body)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("body err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("body: %v", err)
			}
			if string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if u.close != tc.close {
				t.Errorf("close %v, want %v", u.close, tc.close)
			}
			for i, f := range tc.fields {
				if i >= len(u.fields) || u.fields[i] != f {
					t.Errorf("fields %+v, want %+v", u.fields, tc.fields)
					break
				}
			}
			for k, v := range tc.trailer {
				if got := u.trailer[k]; len(got) != 1 || got[0] != v[0] {
					t.Errorf("trailer %s = %v, want %v", k, got, v)
				}
			}
			if rest, _ := io.ReadAll(br); string(rest) != tc.rest && !u.close {
				t.Errorf("left %q on the connection, want %q", rest, tc.rest)
			}
		})
	}
}

func TestReadUpstreamResponseLongLine(t *testing.T) {
	long := strings.Repeat("c", 40<<10) // longer than the connection's read buffer
	raw := "HTTP/1.1 200 OK\r\nSet-Cookie: " + long + "\r\nContent-Length: 2\r\n\r\nok"
	var u upResponse
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	if err := readUpstreamResponse(br, "GET", false, &u); err != nil {
		t.Fatal(err)
	}
	if len(u.fields) != 2 || u.fields[0].value != long || u.length != 2 {
		t.Fatalf("fields %d, first value %d bytes, length %d", len(u.fields), len(u.fields[0].value), u.length)
	}
}

func TestReadUpstreamResponseHeadLimit(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Fill: "+strings.Repeat("f", 1000)+"\r\n", 200) + "\r\n"
	var u upResponse
	err := readUpstreamResponse(bufio.NewReaderSize(strings.NewReader(raw), 4096), "GET", false, &u)
	if !errors.Is(err, errHeadTooLarge) {
		t.Fatalf("err %v, want errHeadTooLarge", err)
	}
}

func TestCanonicalKey(t *testing.T) {
	for in, want := range map[string]string{
		"Content-Type": "Content-Type", "content-type": "Content-Type", "X-RateLimit-Limit": "X-Ratelimit-Limit",
		"etag": "Etag", "WWW-Authenticate": "Www-Authenticate",
	} {
		if got := canonicalKey(in); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// Whatever an upstream sends, the parser must not panic, loop, or pass on a
// status outside 200..999.
func FuzzReadUpstreamResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	f.Add("HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\nbody")
	f.Fuzz(func(t *testing.T, raw string) {
		var u upResponse
		br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
		if err := readUpstreamResponse(br, "GET", false, &u); err != nil {
			return
		}
		if !u.noBody {
			io.Copy(io.Discard, u.body) // must not panic or loop forever
		}
		if u.status < 200 || u.status > 999 {
			t.Fatalf("status %d escaped the parser", u.status)
		}
	})
}
