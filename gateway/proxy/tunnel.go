package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/balancer"
)

// tunnel finishes a WebSocket handshake the upstream accepted (101) and then
// copies bytes both ways until either side closes. The upstream side keeps the
// service's read and write timeouts between reads and writes, as nginx applies
// proxy_read_timeout to a proxied WebSocket; an idle socket longer than
// read_timeout is closed. The connection never returns to the pool.
func (p *Proxy) tunnel(rs *reqState, c *upConn, upstreamStart time.Time) {
	rs.conn = nil
	rs.disarm() // from here the tunnel's own lifetime decides
	hj, ok := rs.w.(http.Hijacker)
	if !ok {
		c.close()
		rs.release(balancer.Result{Status: http.StatusSwitchingProtocols})
		p.writeHandlerError(rs, http.StatusBadGateway, "", nil)
		return
	}
	client, cbuf, err := hj.Hijack()
	if err != nil {
		c.close()
		rs.release(balancer.Result{})
		p.log.Warn("websocket hijack failed", "request_id", rs.requestID, "err", err)
		return
	}
	rs.wroteHeader = true
	rs.status = http.StatusSwitchingProtocols
	defer client.Close()
	defer c.close()

	// The 101 head: the upstream's fields (Upgrade and Connection included,
	// they are the handshake) plus the gateway's own headers, as respond
	// writes them for any other response.
	h := make(http.Header, len(rs.up.fields)+8)
	p.setResponseHeader(rs, h, upstreamStart, time.Now())
	w := cbuf.Writer
	w.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	writeFields(w, h, false)
	w.WriteString("\r\n")
	if err := w.Flush(); err != nil {
		rs.release(balancer.Result{Status: http.StatusSwitchingProtocols})
		return
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// client → upstream, starting with what the server already buffered.
		copyTunnel(c, cbuf.Reader)
		closeWrite(c.nc)
	}()
	// upstream → client, starting with what our reader already buffered. A
	// client that stops reading is cut after write_timeout, like the upstream.
	upErr := copyTunnel(deadlineWriter{client, c.writeTimeout}, c.br)
	closeWrite(client)
	// Either side ending ends the tunnel: unblock the other direction.
	client.SetReadDeadline(aLongTimeAgo)
	wg.Wait()
	res := balancer.Result{Status: http.StatusSwitchingProtocols}
	if upErr != nil && isTimeout(upErr) {
		res.Timeout = true
	}
	rs.release(res)
}

// copyTunnel copies until EOF or an error; it reports a read error other than EOF.
func copyTunnel(dst io.Writer, src *bufio.Reader) error {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// deadlineWriter arms a write deadline before every write.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	return d.c.Write(p)
}

// closeWrite half-closes a TCP connection so the peer sees EOF while the
// other direction may still drain.
func closeWrite(c net.Conn) {
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
		return
	}
	c.Close()
}
