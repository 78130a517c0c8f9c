package nodetest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LabPrefix and LabPrefix6 are the private subnets of a Lab. Host i
// (1-based) has addresses 10.99.0.i and fd99::i on them.
var (
	LabPrefix  = netip.MustParsePrefix("10.99.0.0/24")
	LabPrefix6 = netip.MustParsePrefix("fd99::/64")
)

// labCommandTimeout bounds each ip(8) command that builds or changes a lab.
const labCommandTimeout = 10 * time.Second

// Lab is a few hosts on one machine: each host is a network namespace
// whose interface eth0 is one end of a veth pair, and the other ends are
// ports of a bridge in a switch namespace. Every host has loopback and
// eth0 only, with IPv4 multicast routed over eth0, so traffic between
// hosts stays on the bridge and nothing reaches any other network.
//
// Tests that want one host cut off from the others call Host.Cut and
// Host.Heal.
type Lab struct {
	// Hosts are the lab's hosts, and Hosts[0] is host 1 at 10.99.0.1.
	Hosts []*Host
	// Switch is the namespace of the bridges.
	Switch *Netns

	links int // links added by AddLink
}

// Host is one host of a Lab. Its Netns runs the commands and listeners
// of the host.
type Host struct {
	*Netns
	// Index is the host's number, from 1.
	Index int
	// Addr and Addr6 are the host's IPv4 and IPv6 addresses on the
	// lab's bridge.
	Addr, Addr6 netip.Addr

	lab *Lab
}

// NewLab makes a lab of count hosts (1..254). The namespaces are removed,
// and every process left in them killed, when t ends. Like NewNetns, it
// must run in a test binary that Main started.
func NewLab(t testing.TB, count int) *Lab {
	t.Helper()
	if count < 1 || count > 254 {
		t.Fatalf("nodetest: NewLab(%d): want 1 to 254 hosts", count)
	}
	lab := &Lab{Switch: NewNetns(t)}
	lab.Switch.mustRun(t, "ip link add br0 type bridge && ip link set br0 up")
	base := LabPrefix.Addr().As4()
	for i := 1; i <= count; i++ {
		addr4 := base
		addr4[3] = byte(i)
		addr6 := LabPrefix6.Addr().As16()
		addr6[15] = byte(i)
		h := &Host{Netns: NewNetns(t), Index: i, Addr: netip.AddrFrom4(addr4), Addr6: netip.AddrFrom16(addr6), lab: lab}
		port := h.port()
		// Both ends are made in their namespaces at once, so the
		// names only need to be unique there.
		mustRunHere(t, "ip", "link", "add", "eth0", "netns", strconv.Itoa(h.holder.Process.Pid),
			"type", "veth", "peer", "name", port, "netns", strconv.Itoa(lab.Switch.holder.Process.Pid))
		lab.Switch.mustRun(t, fmt.Sprintf("ip link set %s master br0 && ip link set %s up", port, port))
		// nodad makes the IPv6 address usable at once, without waiting
		// for duplicate address detection.
		h.mustRun(t, fmt.Sprintf(`ip addr add %s/%d dev eth0 &&
ip -6 addr add %s/%d dev eth0 nodad &&
ip link set eth0 up &&
ip route replace 224.0.0.0/4 dev eth0`, h.Addr, LabPrefix.Bits(), h.Addr6, LabPrefix6.Bits()))
		lab.Hosts = append(lab.Hosts, h)
	}
	return lab
}

// Host returns host i, counted from 1.
func (l *Lab) Host(i int) *Host { return l.Hosts[i-1] }

// port is the name of the host's port on the bridge.
func (h *Host) port() string { return "port" + strconv.Itoa(h.Index) }

// Cut takes the host's bridge port down, as if its cable were pulled: the
// host keeps its address, but nothing it sends reaches the other hosts,
// and nothing reaches it.
func (h *Host) Cut(t testing.TB) {
	t.Helper()
	h.lab.Switch.mustRun(t, "ip link set "+h.port()+" down")
}

// Heal brings the host's bridge port back up after Cut.
func (h *Host) Heal(t testing.TB) {
	t.Helper()
	h.lab.Switch.mustRun(t, "ip link set "+h.port()+" up")
}

// mustRun runs a shell script inside the namespace and fails t when it
// fails.
func (ns *Netns) mustRun(t testing.TB, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), labCommandTimeout)
	defer cancel()
	out, err := ns.Command(ctx, "/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("nodetest: in namespace %s: %q failed: %v: %s", ns.Path(), script, err, strings.TrimSpace(string(out)))
	}
}

// mustRunHere runs a command in the test's own namespace and fails t when
// it fails.
func mustRunHere(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), labCommandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nodetest: %s %s failed: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

// ListenTCP returns a TCP listener on address inside the namespace, so
// that a test can serve a host of a Lab from its own process.
func (ns *Netns) ListenTCP(address string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp", address)
		return err
	})
	return l, err
}

// ListenUDP returns a UDP socket bound to address inside the namespace.
func (ns *Netns) ListenUDP(address string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := ns.Do(func() error {
		var err error
		pc, err = net.ListenPacket("udp", address)
		return err
	})
	return pc, err
}

// AddLink joins the hosts to a second network, as a host with two
// interfaces has: a new bridge in the switch namespace and, on each host,
// an interface with address prefix.i (host i). It returns the
// interface's name on the hosts, eth1 for the first added link. IPv4
// multicast stays routed over eth0.
func (l *Lab) AddLink(t testing.TB, prefix netip.Prefix) string {
	t.Helper()
	l.links++
	bridge := "br" + strconv.Itoa(l.links)
	ifname := "eth" + strconv.Itoa(l.links)
	l.Switch.mustRun(t, fmt.Sprintf("ip link add %s type bridge && ip link set %s up", bridge, bridge))
	base := prefix.Addr().As4()
	for _, h := range l.Hosts {
		addr := base
		addr[3] = byte(h.Index)
		port := fmt.Sprintf("l%dp%d", l.links, h.Index)
		mustRunHere(t, "ip", "link", "add", ifname, "netns", strconv.Itoa(h.holder.Process.Pid),
			"type", "veth", "peer", "name", port, "netns", strconv.Itoa(l.Switch.holder.Process.Pid))
		l.Switch.mustRun(t, fmt.Sprintf("ip link set %s master %s && ip link set %s up", port, bridge, port))
		h.mustRun(t, fmt.Sprintf("ip addr add %s/%d dev %s && ip link set %s up", netip.AddrFrom4(addr), prefix.Bits(), ifname, ifname))
	}
	return ifname
}

// Run runs a shell script on the host, such as "ip link set eth0 up",
// and fails t when it fails.
func (h *Host) Run(t testing.TB, script string) {
	t.Helper()
	h.mustRun(t, script)
}
