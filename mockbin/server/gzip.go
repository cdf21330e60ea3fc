package server

import (
	"compress/gzip"
	"net/http"
	"sync"
)

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipWriter compresses whatever a handler writes; mockbin's /gzip/* forces
// compression whatever the client's Accept-Encoding says.
type gzipWriter struct {
	http.ResponseWriter
	gz          *gzip.Writer
	wroteHeader bool
	compress    bool
}

func (g *gzipWriter) WriteHeader(code int) {
	if g.wroteHeader || code < 200 {
		g.ResponseWriter.WriteHeader(code)
		return
	}
	g.wroteHeader = true
	h := g.Header()
	g.compress = bodyAllowed(code)
	if g.compress {
		h.Del("Content-Length")
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if !g.wroteHeader {
		g.WriteHeader(http.StatusOK)
	}
	if !g.compress {
		return g.ResponseWriter.Write(b)
	}
	return g.gz.Write(b)
}

// Flush pushes compressed bytes out so /gzip/stream still streams.
func (g *gzipWriter) Flush() {
	if g.compress {
		_ = g.gz.Flush()
	}
	_ = http.NewResponseController(g.ResponseWriter).Flush()
}

func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// gzip serves /gzip/<path> as <path>, gzip-encoded.
func (s *Server) gzip(w http.ResponseWriter, r *http.Request, rest string) {
	if rest == "" {
		rest = "/"
	}
	gz := gzipPool.Get().(*gzip.Writer)
	gz.Reset(w)
	gw := &gzipWriter{ResponseWriter: w, gz: gz}
	defer func() {
		if gw.compress {
			_ = gz.Close()
		}
		gz.Reset(nil)
		gzipPool.Put(gz)
	}()
	s.route(gw, r, rest)
}
