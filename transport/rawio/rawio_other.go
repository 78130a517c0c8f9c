//go:build !unix

package rawio

import (
	"errors"
	"io"
	"net"
	"time"
)

// Writer is not available on this platform: NewWriter returns nil.
type Writer struct{}

// NewWriter returns nil: raw writes are not available on this platform.
func NewWriter(net.Conn) *Writer { return nil }

// TryWrite fails: raw writes are not available on this platform.
func (*Writer) TryWrite([]byte) (int, error) {
	return 0, errors.New("non-blocking writes are not supported on this platform")
}

// NewReader returns nc: raw reads are not available on this platform.
func NewReader(nc net.Conn, budget time.Duration) io.Reader { return nc }
