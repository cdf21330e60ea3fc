package proxy

import (
	"syscall"
	"unsafe"
)

// peek looks at an idle connection without consuming anything: recv with
// MSG_PEEK|MSG_DONTWAIT returns 0 on an orderly close, an error on a reset, and
// EAGAIN when the connection is quiet, which is the healthy case.
func (c *upConn) peek(fd uintptr) bool {
	var b [1]byte
	n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK:
		c.peekAlive = true
	case errno != 0, n == 0:
		c.peekAlive = false
	default:
		c.peekAlive = c.dataOK
	}
	return true // never ask the poller to wait
}
