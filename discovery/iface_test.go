package discovery

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
)

// routeLine formats one line of /proc/net/route.
func routeLine(dev, dest, mask string, metric int) string {
	word := func(s string) uint32 { return binary.NativeEndian.Uint32(net.ParseIP(s).To4()) }
	return fmt.Sprintf("%s\t%08X\t00000000\t0001\t0\t0\t%d\t%08X\t0\t0\t0", dev, word(dest), metric, word(mask))
}

func TestRouteDevice(t *testing.T) {
	header := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT"
	table := header + "\n" +
		routeLine("eth0", "0.0.0.0", "0.0.0.0", 0) + "\n" +
		routeLine("eth0", "10.99.0.0", "255.255.255.0", 0) + "\n" +
		routeLine("eth1", "224.0.0.0", "240.0.0.0", 10) + "\n" +
		routeLine("lo", "224.0.0.0", "240.0.0.0", 5) + "\n"
	for _, tc := range []struct {
		ip, want string
	}{
		{"233.252.1.32", "lo"}, // the /4 of least metric
		{"10.99.0.7", "eth0"},  // the /24 over the default route
		{"192.0.2.1", "eth0"},  // the default route
	} {
		if got := routeDevice(table, net.ParseIP(tc.ip)); got != tc.want {
			t.Errorf("routeDevice(%s) = %q, want %q", tc.ip, got, tc.want)
		}
	}
	if got := routeDevice(header+"\n", net.ParseIP("233.252.1.32")); got != "" {
		t.Errorf("routeDevice on an empty table = %q, want none", got)
	}
}

func TestIsLocalAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"192.0.2.1", false}, // TEST-NET-1, on no interface of a test host
	} {
		if got := isLocalAddr(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("isLocalAddr(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
