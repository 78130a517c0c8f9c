//go:build unix

package transport

import (
	"errors"
	"io"
	"net"
	"syscall"
	"unsafe"
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

// write makes the write(2) as a raw system call, which the Go scheduler
// does not see. The socket is non-blocking, so the call cannot wait, and
// a scheduled system call costs more here than it saves: entering one
// wakes the runtime's monitor thread when it sleeps, and the monitor may
// hand the P to another thread if the call outlasts its 20 µs tick, which
// a loopback write that wakes the reader often does on a small VM.
func (w *rawWriter) write(fd uintptr) bool {
	var p unsafe.Pointer
	if len(w.b) > 0 {
		p = unsafe.Pointer(&w.b[0])
	}
	ioRelease()
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(p), uintptr(len(w.b)))
		if errno == syscall.EINTR {
			continue
		}
		w.n, w.err = int(n), nil
		if errno != 0 {
			w.n, w.err = 0, errno
		}
		return true
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

// rawReader reads from a socket with raw read(2) calls, for the reason
// given at rawWriter.write, and waits in the runtime's network poller
// while the socket has nothing to read. Read deadlines apply as they do
// to net.Conn.Read.
type rawReader struct {
	raw      syscall.RawConn
	callback func(fd uintptr) bool
	b        []byte
	n        int
	err      error
}

// newRawReader returns a reader of nc that makes raw read calls, or nc
// itself when nc is not a socket of this process.
func newRawReader(nc net.Conn) io.Reader {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	r := &rawReader{raw: raw}
	r.callback = r.read
	return r
}

// read returns false, so that the poller waits, when the socket has
// nothing to read yet.
func (r *rawReader) read(fd uintptr) bool {
	var p unsafe.Pointer
	if len(r.b) > 0 {
		p = unsafe.Pointer(&r.b[0])
	}
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(p), uintptr(len(r.b)))
		switch errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			ioAcquire()
			r.n, r.err = int(n), nil
			if n == 0 && len(r.b) > 0 {
				r.err = io.EOF
			}
		default:
			r.n, r.err = 0, errno
		}
		return true
	}
}

func (r *rawReader) Read(b []byte) (int, error) {
	r.b = b
	err := r.raw.Read(r.callback)
	r.b = nil
	if err != nil {
		return 0, err
	}
	return r.n, r.err
}
