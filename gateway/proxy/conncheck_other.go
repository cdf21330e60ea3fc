//go:build !linux

package proxy

// peek is only implemented on Linux; elsewhere a dead keep-alive connection is
// caught when the request fails on it (and retried on a fresh connection).
func (c *upConn) peek(fd uintptr) bool {
	c.peekAlive = true
	return true
}
