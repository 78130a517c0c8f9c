package discovery

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonode/gonode/node/nodetest"
)

func startDNS(t *testing.T) *nodetest.DNSServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return nodetest.ServeDNS(t, pc)
}

func mustDNS(t *testing.T, cfg DNSConfig) *DNS {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = 20 * time.Millisecond
	}
	cfg.MinBackoff = 10 * time.Millisecond
	cfg.MaxBackoff = 10 * time.Millisecond
	d, err := NewDNS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var threeLoopbacks = []netip.Addr{
	netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"),
}

func TestNewDNSRejects(t *testing.T) {
	for _, cfg := range []DNSConfig{
		{Basename: "app"},
		{Query: "x.test", Basename: ""},
		{Query: "x.test", Basename: "a@b"},
		{Query: "x.test", Basename: "app", Server: "1.2.3.4:notaport"},
		{Query: "x.test", Basename: "app", Server: "1.2.3.4:0"},
		{Query: "x.test", Basename: "app", EPMDPort: 70000},
	} {
		if _, err := NewDNS(cfg); err == nil {
			t.Errorf("NewDNS(%+v) = nil error", cfg)
		}
	}
}

func TestServerAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.1", "10.0.0.1:53"},
		{"10.0.0.1:5353", "10.0.0.1:5353"},
		{"fd00::1", "[fd00::1]:53"},
		{"[fd00::1]:5353", "[fd00::1]:5353"},
		{"dns.test", "dns.test:53"},
	} {
		got, err := serverAddr(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("serverAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestDNSConnectsToEachAddress(t *testing.T) {
	srv := startDNS(t)
	srv.SetHost("nodes.test", append(threeLoopbacks, netip.MustParseAddr("fd00::9"))...)
	var logs logBuffer
	d := mustDNS(t, DNSConfig{Query: "nodes.test.", Basename: "app", Server: srv.Addr(), Logger: logs.logger()})
	c := newFakeCluster("app@127.0.0.1")
	runStrategy(t, d, c)
	want := []string{"app@127.0.0.2", "app@127.0.0.3", "app@fd00::9"}
	waitFor(t, "Connect calls for the other three", func() bool { return slices.Equal(connectedNames(c), want) })
	for _, p := range c.Connects() {
		if p.Addr != "" || p.Strategy != "dns" {
			t.Errorf("Connect(%+v), want an empty Addr and strategy dns", p)
		}
	}
	if !strings.Contains(logs.String(), "component=dns") {
		t.Errorf("logs lack component=dns:\n%s", logs.String())
	}
}

func TestDNSPartialAnswersKeepPeers(t *testing.T) {
	srv := startDNS(t)
	srv.SetHost("nodes.test", threeLoopbacks...)
	srv.SetMode(nodetest.DNSAnswerPartial)
	d := mustDNS(t, DNSConfig{Query: "nodes.test.", Basename: "app", Server: srv.Addr()})
	c := newFakeCluster("app@127.0.0.9")
	runStrategy(t, d, c)
	// Each answer lacks one record, another one each time, so over a few
	// polls every node is found.
	want := []string{"app@127.0.0.1", "app@127.0.0.2", "app@127.0.0.3"}
	waitFor(t, "Connect calls for all three", func() bool { return slices.Equal(connectedNames(c), want) })
}

func TestDNSFailureKeepsLastAnswer(t *testing.T) {
	srv := startDNS(t)
	srv.SetHost("nodes.test", threeLoopbacks[:2]...)
	var logs logBuffer
	d := mustDNS(t, DNSConfig{Query: "nodes.test.", Basename: "app", Server: srv.Addr(), Timeout: 200 * time.Millisecond, Logger: logs.logger()})
	c := newFakeCluster("app@127.0.0.1")
	runStrategy(t, d, c)
	waitFor(t, "a Connect call", func() bool { return len(c.Connects()) > 0 })

	srv.SetMode(nodetest.DNSFail)
	failedAt := srv.Queries()
	waitFor(t, "a log line about the failure", func() bool { return strings.Contains(logs.String(), "failed; keeping the last good answer") })
	before := len(c.Connects())
	waitFor(t, "several failed lookups", func() bool { return srv.Queries() > failedAt+10 })
	if got := strings.Count(logs.String(), "failed; keeping the last good answer"); got != 1 {
		t.Errorf("%d log lines about the failing lookup, want 1 (rate-limited):\n%s", got, logs.String())
	}
	if len(c.Connects()) <= before {
		t.Errorf("no Connect calls while DNS fails, want the last answer's node tried again")
	}
	for _, p := range c.Connects() {
		if p.Name != "app@127.0.0.2" {
			t.Errorf("Connect(%+v), want only app@127.0.0.2", p)
		}
	}

	srv.SetMode(nodetest.DNSAnswerAll)
	waitFor(t, "a log line about the recovery", func() bool { return strings.Contains(logs.String(), "works again") })
}

func TestDNSSRVTargets(t *testing.T) {
	epmdPort := startEPMD(t)
	registerName(t, epmdPort, "app", 5555)
	srv := startDNS(t)
	srv.SetSRV("app.nodes.test", 4369, "pod-0.nodes.test", "pod-1.nodes.test")
	srv.SetHost("pod-0.nodes.test", netip.MustParseAddr("127.0.0.1"))
	srv.SetHost("pod-1.nodes.test", netip.MustParseAddr("127.0.0.2"))
	var logs logBuffer
	d := mustDNS(t, DNSConfig{SRV: "app.nodes.test.", Basename: "app", Server: srv.Addr(), EPMDPort: epmdPort, Logger: logs.logger()})
	c := newFakeCluster("app@pod-9.nodes.test")
	runStrategy(t, d, c)
	waitFor(t, "a Connect call for pod-0", func() bool { return len(c.Connects()) > 0 })
	for _, p := range c.Connects() {
		if p != (Peer{Name: "app@pod-0.nodes.test", Addr: "127.0.0.1:5555", Strategy: "dns"}) {
			t.Errorf("Connect(%+v), want app@pod-0.nodes.test at 127.0.0.1:5555", p)
		}
	}
	// pod-1's host has no port mapper: that is logged once.
	waitFor(t, "a log line about pod-1", func() bool { return strings.Contains(logs.String(), "app@pod-1.nodes.test") })
	time.Sleep(100 * time.Millisecond)
	if got := strings.Count(logs.String(), `cannot find :\"app@pod-1.nodes.test\"`); got != 1 {
		t.Errorf("%d log lines about pod-1, want 1:\n%s", got, logs.String())
	}
}

func TestDNSFailureNamesServerAsked(t *testing.T) {
	srv := startDNS(t)
	var logs logBuffer
	d := mustDNS(t, DNSConfig{Query: "nope.test.", Basename: "app", Server: srv.Addr(), Timeout: 200 * time.Millisecond, Logger: logs.logger()})
	runStrategy(t, d, newFakeCluster("app@127.0.0.1"))
	waitFor(t, "a log line about the failure", func() bool { return strings.Contains(logs.String(), "dns lookup of nope.test. failed") })

	out := logs.String()
	if want := "on " + srv.Addr() + ": no such host"; !strings.Contains(out, want) {
		t.Errorf("log lacks %q, the server asked:\n%s", want, out)
	}
	if strings.Contains(out, "keeping the last good answer") {
		t.Errorf("log claims a last good answer, but there never was one:\n%s", out)
	}
	if !strings.Contains(out, "no good answer yet") {
		t.Errorf("log lacks \"no good answer yet\":\n%s", out)
	}
	if strings.Contains(out, "repeats=0") {
		t.Errorf("log has repeats=0, want the attribute left out:\n%s", out)
	}
}
