//go:build !unix

package discovery

import "syscall"

// reuseAddr does nothing on systems without the unix socket options.
//
// NOTE: without SO_REUSEADDR only one node per host can bind the gossip
// port, so a second node on the same host fails to start gossip.
func reuseAddr(network, address string, rc syscall.RawConn) error {
	return nil
}
