//go:build unix

package discovery

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// reuseAddr sets SO_REUSEADDR on a socket before it is bound, so that
// several nodes on one host can bind the gossip group and port together.
// Linux then delivers each multicast datagram to all of them.
func reuseAddr(network, address string, rc syscall.RawConn) error {
	var sockErr error
	err := rc.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	})
	if err != nil {
		return fmt.Errorf("set SO_REUSEADDR on %s: %w", address, err)
	}
	if sockErr != nil {
		return fmt.Errorf("set SO_REUSEADDR on %s: %w", address, sockErr)
	}
	return nil
}
