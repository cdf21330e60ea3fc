package proxy

import "net/http"

// nginx reads a request head into large_client_header_buffers, which Kong
// leaves at "4 8k": the request line and each header line must fit one 8 KiB
// buffer, and the whole head four of them. The listener's MaxHeaderBytes stays
// the outer bound (net/http answers 431 beyond it, before the handler runs);
// these checks give Kong's answers within it.
const (
	maxHeadLine  = 8 << 10
	maxHeadTotal = 4 * maxHeadLine
)

// headTooLarge applies nginx's limits to r's head as received. It returns 414
// for a request line that does not fit a buffer, 400 (nginx's internal 494,
// which Kong's error handler turns into 400 "Request header or cookie too
// large") for a header line or a whole head that does not, and 0 when the
// head fits.
func headTooLarge(r *http.Request) (status int, msg string) {
	// "METHOD SP request-target SP HTTP/1.1 CRLF"
	line := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if line > maxHeadLine {
		return http.StatusRequestURITooLong, msgURITooLong
	}
	total := line + len("Host: \r\n") + len(r.Host) // net/http moved Host out of the map
	for k, vv := range r.Header {
		for _, v := range vv {
			n := len(k) + 2 + len(v) + 2 // "Name: value CRLF"
			if n > maxHeadLine {
				return http.StatusBadRequest, msgHeaderTooLarge
			}
			total += n
		}
	}
	if total > maxHeadTotal {
		return http.StatusBadRequest, msgHeaderTooLarge
	}
	return 0, ""
}
