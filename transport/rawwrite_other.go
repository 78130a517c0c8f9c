//go:build !unix

package transport

import (
	"errors"
	"io"
	"net"
)

// rawWriter is not available on this platform: newRawWriter returns nil,
// so that every write goes through the writer goroutine.
type rawWriter struct{}

func newRawWriter(net.Conn) *rawWriter { return nil }

func (*rawWriter) tryWrite([]byte) (int, error) {
	return 0, errors.New("non-blocking writes are not supported on this platform")
}

// newRawReader returns nc: raw reads are not available on this platform.
func newRawReader(nc net.Conn) io.Reader { return nc }
