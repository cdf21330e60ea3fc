package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// cutSegment splits "/a/b/c" into "a" and "/b/c"; a lone trailing slash is
// dropped (Express routes are not strict about it).
func cutSegment(p string) (seg, rest string) {
	p = strings.TrimPrefix(p, "/")
	seg, rest, found := strings.Cut(p, "/")
	if found {
		rest = "/" + rest
	}
	if rest == "/" {
		rest = ""
	}
	return seg, rest
}

// params splits the rest of a path into at most n segments; ok is false
// when there are more.
func params(rest string, n int) ([]string, bool) {
	if rest == "" {
		return nil, true
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	if len(parts) > n {
		return nil, false
	}
	return parts, true
}

// route dispatches on the first path segment, one handler per endpoint
// like mockbin's router.
func (s *Server) route(w http.ResponseWriter, r *http.Request, path string) {
	seg, rest := cutSegment(path)
	switch strings.ToLower(seg) {
	case "":
		if rest == "" {
			s.hello(w, r)
			return
		}
	case "ip":
		if rest == "" {
			render(w, r, http.StatusOK, clientIP(r))
			return
		}
	case "ips":
		if rest == "" {
			render(w, r, http.StatusOK, forwardedFor(r))
			return
		}
	case "agent":
		if rest == "" {
			s.oneHeader(w, r, "user-agent")
			return
		}
	case "status":
		s.status(w, r, rest)
		return
	case "headers":
		if rest == "" {
			s.headers(w, r)
			return
		}
	case "header":
		if p, ok := params(rest, 2); ok && len(p) > 0 {
			if len(p) == 1 {
				s.oneHeader(w, r, p[0])
			} else {
				s.setHeader(w, r, p[0], p[1])
			}
			return
		}
	case "cookies":
		if rest == "" {
			s.cookies(w, r)
			return
		}
	case "cookie":
		if p, ok := params(rest, 2); ok && len(p) > 0 {
			if len(p) == 1 {
				s.oneCookie(w, r, p[0])
			} else {
				s.setCookie(w, r, p[0], p[1])
			}
			return
		}
	case "forwarded":
		if rest == "" {
			render(w, r, http.StatusOK, forwardedObj(r))
			return
		}
	case "redirect":
		s.redirect(w, r, rest)
		return
	case "delay":
		s.delay(w, r, rest)
		return
	case "stream":
		s.stream(w, r, rest)
		return
	case "gzip":
		s.gzip(w, r, rest)
		return
	case "bin":
		s.bin(w, r, rest)
		return
	case "unstable":
		if rest == "" {
			s.unstable(w, r)
			return
		}
	case "drip":
		if rest == "" {
			s.drip(w, r)
			return
		}
	case "bytes":
		s.bytes(w, r, rest)
		return
	case "__mockbin":
		if rest == "/health" {
			writeJSON(w, http.StatusOK, Obj{{"status", "ok"}, {"name", s.name}})
			return
		}
	}
	// mockbin mounts these as "/request*", "/har*", "/echo*": any suffix.
	lp := strings.ToLower(path)
	switch {
	case strings.HasPrefix(lp, "/request"):
		s.request(w, r)
	case strings.HasPrefix(lp, "/har"):
		s.har(w, r)
	case strings.HasPrefix(lp, "/echo"):
		s.echo(w, r)
	default:
		notFound(w, r)
	}
}

func (s *Server) hello(w http.ResponseWriter, r *http.Request) {
	render(w, r, http.StatusOK, "Hello World!")
}

// readOrFail reads the request; on failure it answers and returns nil.
func (s *Server) readOrFail(w http.ResponseWriter, r *http.Request) *reqInfo {
	ri, err := s.readRequest(r)
	if err == nil {
		return ri
	}
	if errors.Is(err, errBodyTooLarge) {
		render(w, r, http.StatusRequestEntityTooLarge,
			errorBody(fmt.Sprintf("request body larger than %d bytes", s.maxBody)))
		return nil
	}
	s.logger.Debug("reading request failed", "path", r.URL.Path, "err", err)
	render(w, r, http.StatusBadRequest, errorBody(err.Error()))
	return nil
}

// request answers mockbin's simple HAR of the request.
func (s *Server) request(w http.ResponseWriter, r *http.Request) {
	if ri := s.readOrFail(w, r); ri != nil {
		render(w, r, http.StatusOK, ri.simpleHAR())
	}
}

// har answers a full HAR 1.2 log with the request as its only entry.
func (s *Server) har(w http.ResponseWriter, r *http.Request) {
	if ri := s.readOrFail(w, r); ri != nil {
		render(w, r, http.StatusOK, harLog([]any{ri.harEntry()}))
	}
}

// echo sends the body back with the request's content type.
func (s *Server) echo(w http.ResponseWriter, r *http.Request) {
	ri := s.readOrFail(w, r)
	if ri == nil {
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(ri.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ri.body)
}

func (s *Server) headers(w http.ResponseWriter, r *http.Request) {
	ri := &reqInfo{header: r.Header, host: r.Host}
	render(w, r, http.StatusOK, Obj{
		{"headers", ri.headerList()},
		{"headersSize", headSize(r)},
	})
}

// oneHeader answers the value of one request header, or false.
func (s *Server) oneHeader(w http.ResponseWriter, r *http.Request, name string) {
	var v any = false
	if strings.EqualFold(name, "host") {
		v = r.Host
	} else if vs := r.Header.Values(name); len(vs) > 0 {
		v = strings.Join(vs, ", ")
	}
	render(w, r, http.StatusOK, v)
}

func (s *Server) setHeader(w http.ResponseWriter, r *http.Request, name, value string) {
	if !validHeaderName(name) || strings.ContainsAny(value, "\r\n\x00") {
		render(w, r, http.StatusBadRequest, errorBody("invalid header name or value"))
		return
	}
	w.Header().Set(name, value)
	render(w, r, http.StatusOK, value)
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func (s *Server) cookies(w http.ResponseWriter, r *http.Request) {
	ri := &reqInfo{cookies: r.Cookies()}
	render(w, r, http.StatusOK, ri.cookieList())
}

// oneCookie answers one cookie's value, or false. mockbin lower-cases the
// name before looking it up; matching case-insensitively finds the same
// cookies and mixed-case ones too.
func (s *Server) oneCookie(w http.ResponseWriter, r *http.Request, name string) {
	var v any = false
	for _, c := range r.Cookies() {
		if strings.EqualFold(c.Name, name) {
			v = c.Value
			break
		}
	}
	render(w, r, http.StatusOK, v)
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string) {
	c := &http.Cookie{Name: name, Value: value, Path: "/"}
	if err := c.Valid(); err != nil {
		render(w, r, http.StatusBadRequest, errorBody("invalid cookie: "+err.Error()))
		return
	}
	http.SetCookie(w, c)
	render(w, r, http.StatusOK, value)
}

// status answers /status/:code/:reason? and the weighted form
// /status/200:0.7,503:0.3 (go-httpbin).
func (s *Server) status(w http.ResponseWriter, r *http.Request, rest string) {
	p, ok := params(rest, 2)
	if !ok || len(p) == 0 {
		notFound(w, r)
		return
	}
	reason := "OK"
	if len(p) == 2 && p[1] != "" {
		reason = strings.ReplaceAll(p[1], "+", " ")
	}
	var code int
	if strings.ContainsAny(p[0], ":,") {
		choices, err := parseWeighted(p[0])
		if err != nil {
			render(w, r, http.StatusBadRequest, errorBody(err.Error()))
			return
		}
		f, err := s.draw(r)
		if err != nil {
			render(w, r, http.StatusBadRequest, errorBody(err.Error()))
			return
		}
		code = pickWeighted(choices, f)
	} else {
		c, err := strconv.Atoi(p[0])
		if err != nil || c < 100 || c > 999 {
			render(w, r, http.StatusBadRequest, errorBody("invalid status code "+strconv.Quote(p[0])+", must be 100-999"))
			return
		}
		code = c
	}
	body := Obj{{"code", strconv.Itoa(code)}, {"message", reason}}
	if code < 200 {
		s.finalInformational(w, r, code, reason, body)
		return
	}
	render(w, r, code, body)
}

// finalInformational answers with a 1xx status as the final response, as
// mockbin (Node) does. net/http only sends 1xx as interim responses, so the
// answer is written on the raw connection, which is then closed.
func (s *Server) finalInformational(w http.ResponseWriter, r *http.Request, code int, reason string, body Obj) {
	conn, brw, ok := hijack(w)
	if !ok {
		render(w, r, http.StatusNotImplemented, errorBody("a final 1xx answer needs an HTTP/1.1 connection"))
		return
	}
	defer conn.Close()
	if rw, ok := w.(*recorder); ok {
		rw.markStatus(code)
	}
	f, mime := negotiate(r.Header.Get("Accept"))
	b := encode(nil, f, body, prettySpaces(r))
	reason = strings.Map(func(c rune) rune {
		if c < ' ' || c == 0x7f {
			return ' '
		}
		return c
	}, reason)
	fmt.Fprintf(brw, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s: %s\r\nConnection: close\r\n\r\n",
		code, reason, mime, len(b), HeaderInstance, s.name)
	_, _ = brw.Write(b)
	_ = brw.Flush()
}

var validRedirects = []int{300, 301, 302, 303, 307, 308}

// redirect answers /redirect/:status/:count?; the last hop goes to ?to=
// when given, and the chain ends in "redirect finished".
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, rest string) {
	p, ok := params(rest, 2)
	if !ok || len(p) == 0 {
		notFound(w, r)
		return
	}
	code, _ := strconv.Atoi(p[0])
	valid := false
	for _, v := range validRedirects {
		valid = valid || v == code
	}
	if !valid {
		render(w, r, http.StatusBadRequest, errorBody("invalid status code, must be one of 300,301,302,303,307,308"))
		return
	}
	count := 1
	if len(p) == 2 {
		c, err := strconv.Atoi(p[1])
		if err != nil || c < 0 {
			render(w, r, http.StatusBadRequest, errorBody("invalid count "+strconv.Quote(p[1])))
			return
		}
		count = min(c, 100)
	}
	if count == 0 {
		render(w, r, http.StatusOK, "redirect finished")
		return
	}
	to := r.URL.Query().Get("to")
	var loc string
	switch {
	case count == 1 && to != "":
		loc = to
	case to != "":
		loc = fmt.Sprintf("/redirect/%d/%d?to=%s", code, count-1, url.QueryEscape(to))
	default:
		loc = fmt.Sprintf("/redirect/%d/%d", code, count-1)
	}
	if strings.ContainsAny(loc, "\r\n") {
		render(w, r, http.StatusBadRequest, errorBody("invalid redirect target"))
		return
	}
	h := w.Header()
	h.Set("Location", loc)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "%s. Redirecting to %s", http.StatusText(code), loc)
}

// delay answers after :ms milliseconds (default 200, capped by the
// server's maximum delay).
func (s *Server) delay(w http.ResponseWriter, r *http.Request, rest string) {
	p, ok := params(rest, 1)
	if !ok {
		notFound(w, r)
		return
	}
	ms := 200
	if len(p) == 1 && p[0] != "" {
		v, err := strconv.Atoi(p[0])
		if err != nil || v < 0 {
			render(w, r, http.StatusBadRequest, errorBody("invalid delay "+strconv.Quote(p[0])))
			return
		}
		ms = v
	}
	ms = min(ms, int(s.maxDelay/time.Millisecond))
	if !sleepCtx(r.Context(), time.Duration(ms)*time.Millisecond) {
		abort()
	}
	render(w, r, http.StatusOK, Obj{{"delay", ms}})
}

// stream sends :chunks (default 10, at most 100) JSON lines, each flushed
// as its own chunk.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, rest string) {
	p, ok := params(rest, 1)
	if !ok {
		notFound(w, r)
		return
	}
	chunks := 10
	if len(p) == 1 && p[0] != "" {
		v, err := strconv.Atoi(p[0])
		if err != nil || v < 0 {
			render(w, r, http.StatusBadRequest, errorBody("invalid chunk count "+strconv.Quote(p[0])))
			return
		}
		chunks = min(v, 100)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var line []byte
	for i := 1; i <= chunks; i++ {
		line = append(line[:0], `{"type":"stream","chunk":`...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, "}\n"...)
		if _, err := w.Write(line); err != nil {
			return
		}
		_ = rc.Flush()
	}
}

// forwardedChain is the hop list of a request: the X-Forwarded-For
// entries (or RFC 7239 for= values), then the peer that connected to us.
func forwardedChain(r *http.Request) (ips, ports []string) {
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		for _, line := range fwd {
			for elem := range strings.SplitSeq(line, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
					if strings.EqualFold(k, "for") {
						ip, port := splitHostPortLoose(strings.Trim(v, `"`))
						ips, ports = append(ips, ip), append(ports, port)
					}
				}
			}
		}
	} else {
		for _, line := range r.Header.Values("X-Forwarded-For") {
			for e := range strings.SplitSeq(line, ",") {
				if e = strings.TrimSpace(e); e != "" {
					ip, port := splitHostPortLoose(e)
					ips, ports = append(ips, ip), append(ports, port)
				}
			}
		}
	}
	ip, port := splitHostPortLoose(r.RemoteAddr)
	return append(ips, ip), append(ports, port)
}

// splitHostPortLoose accepts "1.2.3.4", "1.2.3.4:80", "[::1]:80" and "::1".
func splitHostPortLoose(s string) (string, string) {
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "]"); end > 0 {
			port := strings.TrimPrefix(s[end+1:], ":")
			return s[1:end], port
		}
	}
	if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		return h, p
	}
	return s, ""
}

// forwardedFor is forwarded-http's "for": each hop's IP with its port.
func forwardedFor(r *http.Request) Obj {
	ips, ports := forwardedChain(r)
	o := make(Obj, 0, len(ips))
	seen := make(map[string]bool, len(ips))
	for i, ip := range ips {
		// An object cannot hold a key twice; a repeated hop keeps its first
		// port (the full list is in "ips"/"ports" of /forwarded).
		if !seen[ip] {
			seen[ip] = true
			o = append(o, KV{ip, ports[i]})
		}
	}
	return o
}

// forwardedObj is forwarded-http's result: hops, and the proto, host and
// port the client originally used.
func forwardedObj(r *http.Request) Obj {
	ips, ports := forwardedChain(r)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	host := r.Host
	_, port := splitHostPortLoose(r.Host)
	for _, line := range r.Header.Values("Forwarded") {
		for pair := range strings.SplitSeq(strings.Split(line, ",")[0], ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
			switch strings.ToLower(k) {
			case "proto":
				proto = strings.Trim(v, `"`)
			case "host":
				host = strings.Trim(v, `"`)
			}
		}
	}
	if v := r.Header.Get("X-Forwarded-Proto"); v != "" {
		proto = strings.TrimSpace(strings.Split(v, ",")[0])
	}
	if v := r.Header.Get("X-Forwarded-Host"); v != "" {
		host = strings.TrimSpace(strings.Split(v, ",")[0])
	}
	if v := r.Header.Get("X-Forwarded-Port"); v != "" {
		port = strings.TrimSpace(strings.Split(v, ",")[0])
	}
	return Obj{
		{"for", forwardedFor(r)},
		{"proto", proto},
		{"host", host},
		{"port", port},
		{"ips", ips},
		{"ports", ports},
	}
}
