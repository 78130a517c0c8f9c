package discovery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"strconv"
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

// logChoice logs the interface that gossip goes out on, and whether other
// interfaces could carry it. Heartbeats carry the address of the
// interface they leave by, so gossip on loopback, where other interfaces
// exist, is logged as a warning: nodes on other hosts would not hear it.
func (g *Gossip) logChoice() {
	chosen := g.ifi
	how := "set by the gossip interface"
	if chosen == nil {
		chosen = routedInterface(g.group, g.port)
		how = "chosen by the routing table"
	}
	candidates := multicastInterfaces()
	names := make([]string, len(candidates))
	for i, ifi := range candidates {
		names[i] = ifi.Name
	}
	name, addrs := "unknown", ""
	if chosen != nil {
		name, addrs = chosen.Name, interfaceAddrs(chosen)
	}
	attrs := []any{"group", g.group.String(), "port", g.port, "interface", name, "addrs", addrs, "sealed", g.codec.Sealed()}
	switch {
	case chosen != nil && chosen.Flags&net.FlagLoopback != 0 && len(candidates) > 0:
		g.logger.Warn("gossip goes out on loopback "+name+", so nodes on other hosts do not hear it; set --gossip-if to one of "+strings.Join(names, ", "), attrs...)
	case len(candidates) > 1:
		g.logger.Info("gossip on interface "+name+" ("+how+") of several that carry multicast: "+strings.Join(names, ", ")+"; set --gossip-if to choose", attrs...)
	default:
		g.logger.Info("gossip on interface "+name+" ("+how+")", attrs...)
	}
}

// routedInterface returns the interface that the routing table picks for
// group, or nil. On Linux it reads the IPv4 routes from /proc/net/route.
// Elsewhere it takes the interface of the source address that a UDP
// socket connected to the group gets, which may be another interface's
// address when the route leads to loopback. Connecting a UDP socket sends
// nothing.
func routedInterface(group net.IP, port int) *net.Interface {
	if v4 := group.To4(); v4 != nil {
		if data, err := os.ReadFile("/proc/net/route"); err == nil {
			if name := routeDevice(string(data), v4); name != "" {
				ifi, err := net.InterfaceByName(name)
				if err == nil {
					return ifi
				}
			}
		}
	}
	network := "udp4"
	if group.To4() == nil {
		network = "udp6"
	}
	c, err := net.Dial(network, net.JoinHostPort(group.String(), strconv.Itoa(port)))
	if err != nil {
		return nil
	}
	defer c.Close()
	local, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil
	}
	ip, ok := netip.AddrFromSlice(local.IP)
	if !ok {
		return nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for i := range ifaces {
		if hasAddr(&ifaces[i], ip) {
			return &ifaces[i]
		}
	}
	return nil
}

// multicastInterfaces returns the interfaces that are up, carry multicast
// and are not loopback.
func multicastInterfaces() []net.Interface {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []net.Interface
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 && ifi.Flags&net.FlagLoopback == 0 {
			out = append(out, ifi)
		}
	}
	return out
}

// interfaceAddrs returns ifi's addresses, comma-separated.
func interfaceAddrs(ifi *net.Interface) string {
	addrs, err := ifi.Addrs()
	if err != nil {
		return ""
	}
	var out []string
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok {
			out = append(out, ipnet.IP.String())
		}
	}
	return strings.Join(out, ",")
}

// routeDevice returns the interface of the route in table, the text of
// /proc/net/route, that matches ip with the longest prefix and then the
// least metric, or "" when none does. Addresses and masks in the table
// are hexadecimal words in the host's byte order.
func routeDevice(table string, ip net.IP) string {
	want := binary.NativeEndian.Uint32(ip.To4())
	best, bestOnes, bestMetric := "", -1, uint64(0)
	for i, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 8 {
			continue
		}
		dest, err1 := strconv.ParseUint(f[1], 16, 32)
		metric, err2 := strconv.ParseUint(f[6], 10, 64)
		mask, err3 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil || want&uint32(mask) != uint32(dest) {
			continue
		}
		ones := bits.OnesCount32(uint32(mask))
		if ones > bestOnes || (ones == bestOnes && metric < bestMetric) {
			best, bestOnes, bestMetric = f[0], ones, metric
		}
	}
	return best
}
