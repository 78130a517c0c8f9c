package discovery

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrUnknownInterface is returned by NewGossip when GossipConfig.Interface
// names no interface of this host, neither by name nor by address.
var ErrUnknownInterface = errors.New("unknown gossip interface")

// lookupInterface returns the interface named by s, which is an interface
// name such as "eth0" or one of the interface's IP addresses. An empty s
// returns nil, which leaves the choice to the kernel's routing table.
func lookupInterface(s string) (*net.Interface, error) {
	if s == "" {
		return nil, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	want, err := netip.ParseAddr(s)
	byAddr := err == nil
	for i := range ifaces {
		if !byAddr && ifaces[i].Name == s {
			return &ifaces[i], nil
		}
		if byAddr && hasAddr(&ifaces[i], want) {
			return &ifaces[i], nil
		}
	}
	names := make([]string, len(ifaces))
	for i := range ifaces {
		names[i] = ifaces[i].Name
	}
	return nil, fmt.Errorf("%w %q: no interface has that name or address (interfaces: %s)",
		ErrUnknownInterface, s, strings.Join(names, ", "))
}

// hasAddr reports whether ifi has the address want.
func hasAddr(ifi *net.Interface, want netip.Addr) bool {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		got, ok := netip.AddrFromSlice(ipnet.IP)
		if ok && got.Unmap() == want.Unmap() {
			return true
		}
	}
	return false
}

// describeInterface returns ifi's name for logs, or a phrase for nil.
func describeInterface(ifi *net.Interface) string {
	if ifi == nil {
		return "chosen by routing"
	}
	return ifi.Name
}
