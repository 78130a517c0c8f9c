//go:build unix

package transport

import (
	"errors"
	"net"
	"syscall"
)

// rawWriter makes non-blocking writes to a socket. Its callback is made
// once, so that a write allocates nothing. It is owned by the holder of
// the write side.
type rawWriter struct {
	raw      syscall.RawConn
	callback func(fd uintptr) bool
	b        []byte
	n        int
	err      error
}

// newRawWriter returns a rawWriter for nc, or nil when nc is not a socket
// of this process, such as a net.Pipe or a wrapper.
func newRawWriter(nc net.Conn) *rawWriter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{raw: raw}
	w.callback = w.write
	return w
}

func (w *rawWriter) write(fd uintptr) bool {
	for {
		w.n, w.err = syscall.Write(int(fd), w.b)
		if w.err != syscall.EINTR {
			return true
		}
	}
}

// tryWrite makes one write(2) of b to the socket, which the Go runtime
// keeps in non-blocking mode, and returns how many bytes the kernel took:
// 0 when its send buffer is full. It never waits for the socket to become
// writable, which is what net.Conn.Write would do.
func (w *rawWriter) tryWrite(b []byte) (int, error) {
	w.b = b
	err := w.raw.Write(w.callback)
	w.b = nil
	if err != nil {
		return 0, err
	}
	if errors.Is(w.err, syscall.EAGAIN) {
		return 0, nil
	}
	if w.err != nil {
		return 0, w.err
	}
	return w.n, nil
}
