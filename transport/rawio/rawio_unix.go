//go:build unix

package rawio

import (
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// Writer makes non-blocking writes to a socket. Its callback is made once,
// so that a write allocates nothing. A Writer is not safe for concurrent
// use.
type Writer struct {
	raw      syscall.RawConn
	callback func(fd uintptr) bool
	b        []byte
	n        int
	err      error
}

// NewWriter returns a Writer for nc, or nil when nc is not a socket of
// this process, such as a net.Pipe or a wrapper.
func NewWriter(nc net.Conn) *Writer {
	raw := rawConn(nc)
	if raw == nil {
		return nil
	}
	w := &Writer{raw: raw}
	w.callback = w.write
	return w
}

func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

func (w *Writer) write(fd uintptr) bool {
	ioRelease()
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(bufPointer(w.b)), uintptr(len(w.b)))
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

func bufPointer(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// TryWrite makes one write(2) of b and returns how many bytes the kernel
// took: 0 when its send buffer is full. It never waits for the socket to
// become writable, which is what net.Conn.Write would do.
func (w *Writer) TryWrite(b []byte) (int, error) {
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

// Reader reads a socket with raw read(2) calls. When the socket has
// nothing to read it polls it for up to its busy-poll budget, and then
// waits in the runtime's network poller. Read deadlines apply as they do
// to net.Conn.Read, once the poll is over. A Reader is not safe for
// concurrent use.
type Reader struct {
	raw      syscall.RawConn
	callback func(fd uintptr) bool
	b        []byte
	n        int
	err      error
	poll     poller
}

// NewReader returns a Reader of nc that polls for up to budget before it
// waits (0 turns polling off), or nc itself when nc is not a socket of
// this process.
func NewReader(nc net.Conn, budget time.Duration) io.Reader {
	raw := rawConn(nc)
	if raw == nil {
		return nc
	}
	r := &Reader{raw: raw, poll: poller{budget: budget}}
	r.callback = r.read
	return r
}

// read returns false, so that the network poller waits, when the socket
// has had nothing to read for the whole poll.
func (r *Reader) read(fd uintptr) bool {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(bufPointer(r.b)), uintptr(len(r.b)))
		switch errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if r.poll.again() {
				runtime.Gosched()
				continue
			}
			return false
		case 0:
			r.poll.arrived()
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

// Read reads into b, as net.Conn.Read does.
func (r *Reader) Read(b []byte) (int, error) {
	r.b = b
	r.poll.begin()
	err := r.raw.Read(r.callback)
	r.b = nil
	if err != nil {
		return 0, err
	}
	return r.n, r.err
}
