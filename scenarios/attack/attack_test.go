package attack

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs srv on a loopback port until the test ends and returns its address.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func ok(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusOK)
}

func TestSlowlorisIsClosedByAHeaderTimeout(t *testing.T) {
	addr := serve(t, &http.Server{Handler: http.HandlerFunc(ok), ReadHeaderTimeout: 200 * time.Millisecond})
	cs := Slowloris{Addr: addr, Conns: 5, Interval: 20 * time.Millisecond, Max: 3 * time.Second}.Run(context.Background())
	for i, c := range cs {
		if !c.ClosedByServer() {
			t.Fatalf("conn %d not closed: %+v", i, c)
		}
		if h := c.Held(); h < 150*time.Millisecond || h > 1500*time.Millisecond {
			t.Errorf("conn %d held %v, want about the 200ms header timeout", i, h)
		}
		if c.Sent <= len("GET / HTTP/1.1\r\n") {
			t.Errorf("conn %d trickled nothing: sent %d bytes", i, c.Sent)
		}
	}
}

func TestSlowlorisIsHeldWithoutATimeout(t *testing.T) {
	addr := serve(t, &http.Server{Handler: http.HandlerFunc(ok)})
	start := time.Now()
	cs := Slowloris{Addr: addr, Conns: 3, Interval: 20 * time.Millisecond, Max: 300 * time.Millisecond}.Run(context.Background())
	for i, c := range cs {
		if c.ClosedByServer() || c.Err != "" {
			t.Fatalf("conn %d: want held until the attacker gave up, got %+v", i, c)
		}
		if h := c.Held(); h < 250*time.Millisecond {
			t.Errorf("conn %d held %v < Max", i, h)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("attack took %v: Max does not bound it", d)
	}
}

func TestSlowPOSTSeesTheServersAnswer(t *testing.T) {
	// A body timeout as a handler enforces it: the read fails, 408, close.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := io.ReadAll(r.Body); err != nil {
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestTimeout)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	addr := serve(t, &http.Server{Handler: h})
	cs := SlowPOST{Addr: addr, Path: "/upload", Conns: 4, Max: 3 * time.Second}.Run(context.Background())
	for i, c := range cs {
		if !c.ClosedByServer() || c.Status != http.StatusRequestTimeout {
			t.Fatalf("conn %d: want 408 and a close, got %+v", i, c)
		}
		if d := c.Closed.Sub(c.Silent); d < 150*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("conn %d closed %v after its last byte, want about 200ms", i, d)
		}
	}
}

func TestIdleFloodCountsEveryConnection(t *testing.T) {
	addr := serve(t, &http.Server{Handler: http.HandlerFunc(ok), ReadHeaderTimeout: 200 * time.Millisecond})
	cs := IdleFlood{Addr: addr, Conns: 200, Parallel: 16, Max: 3 * time.Second}.Run(context.Background())
	if len(cs) != 200 {
		t.Fatalf("%d records, want 200", len(cs))
	}
	for i, c := range cs {
		if c.Err != "" || !c.ClosedByServer() || c.Sent != 0 {
			t.Fatalf("conn %d: %+v", i, c)
		}
	}
	t.Log(Summary(cs))
}

func TestSendRecordsKongErrors(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		mu.Lock()
		sizes = append(sizes, int(n))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"message": "schema violation"})
	})
	base := "http://" + serve(t, &http.Server{Handler: h})
	hc := &http.Client{Timeout: 10 * time.Second}
	ws := HostileWrites()
	for _, w := range ws {
		r := Send(context.Background(), hc, base, w)
		if r.Status != http.StatusBadRequest || !r.KongError() || r.Err != "" {
			t.Errorf("%s: %+v", w.Name, r)
		}
	}
	if len(sizes) != len(ws) || sizes[0] < OversizedBytes {
		t.Errorf("server read bodies of %v bytes; want the oversized one first (≥ %d)", sizes, OversizedBytes)
	}
	form := string(ws[2].Body)
	key := form[strings.LastIndexByte(form, '&')+1 : strings.LastIndexByte(form, '=')]
	if n := strings.Count(key, ".") + 1; n != DottedSegments {
		t.Errorf("form key has %d segments, want %d", n, DottedSegments)
	}
	if got := (WriteResult{Body: `{"message":"nesting deeper than 32 levels"}`}).Message(); got != "nesting deeper than 32 levels" {
		t.Errorf("Message() = %q", got)
	}
	var bounded int
	for _, w := range ws {
		if w.Message != "" {
			bounded++
		}
	}
	// JSON at 100,000 and 33 levels, the form key at 2,000,000 and 33, the
	// multipart name, and the write at the bound: six whose reason is checked.
	if bounded != 6 {
		t.Errorf("%d writes name the message they must be refused with, want 6", bounded)
	}
	if (WriteResult{Body: "<html>413</html>"}).KongError() {
		t.Error("an HTML body taken for Kong's error shape")
	}
}

func TestTryReadsEveryResponseAndTheClose(t *testing.T) {
	// Go's server serves a pipelined request after a chunked body and keeps
	// the connection open; a raw server that answers once and closes shows
	// the other outcome.
	var mu sync.Mutex
	var paths []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		ok(w, r)
	})
	addr := serve(t, &http.Server{Handler: h})
	var http10 Smuggle
	for _, s := range Smuggles("test", "/p") {
		if s.Marker == "smuggled-http10-te" {
			http10 = s
		}
	}
	r := Try(context.Background(), addr, Smuggles("test", "/p")[2], 300*time.Millisecond)
	if len(r.Codes) == 0 || r.Codes[0] != 200 {
		t.Fatalf("CL+TE on Go's server: %+v", r)
	}
	t.Logf("Go's net/http, CL+TE pipelined: codes %v, closed %v, paths %v", r.Codes, r.ClosedByServer, paths)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = c.Read(make([]byte, 4096))
		_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		c.Close()
	}()
	r = Try(context.Background(), l.Addr().String(), http10, 2*time.Second)
	if len(r.Codes) != 1 || r.Codes[0] != 400 || !r.ClosedByServer || r.Took > time.Second {
		t.Fatalf("answer-once server: %+v", r)
	}
}
