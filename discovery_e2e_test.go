package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonode/gonode/node/epmd"
	"github.com/gonode/gonode/node/nodetest"
)

// The tests in this file run gonode on the three hosts of a nodetest.Lab,
// private namespaces joined by a bridge, and cut one host off to check that
// each discovery strategy heals the mesh.

// Bounds of the waits in the multi-host tests. The tick timeout (4 s by
// default) notices a cut peer. Reconnecting after a heal waits for the
// back-off of the strategy and of the node, at most 5 s and 10 s, and
// then for a connect.
const (
	meshTimeout = 15 * time.Second
	dropTimeout = 10 * time.Second
	healTimeout = 20 * time.Second
)

// hostLab is a nodetest.Lab whose hosts each have a port mapper listening
// on all of the host's addresses, as Erlang's epmd does, so that nodes on
// other hosts can ask it for names and ports.
type hostLab struct {
	t     *testing.T
	lab   *nodetest.Lab
	hosts []*lab
}

func newHostLab(t *testing.T, count int) *hostLab {
	t.Helper()
	hl := &hostLab{t: t, lab: nodetest.NewLab(t, count)}
	for _, h := range hl.lab.Hosts {
		// NOTE: "gonode epmd" serves 127.0.0.1 only, so the test serves
		// each host's port mapper itself, on every address of the host.
		l, err := h.ListenTCP(fmt.Sprintf(":%d", epmd.DefaultPort))
		if err != nil {
			t.Fatalf("port mapper on host %d: %v", h.Index, err)
		}
		s := &epmd.Server{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Serve(l)
		}()
		t.Cleanup(func() {
			s.Close()
			<-done
		})
		hl.hosts = append(hl.hosts, &lab{t: t, ns: h.Netns, home: t.TempDir(), host: h.Addr.String()})
	}
	return hl
}

// addr returns the address of host i, counted from 1.
func (hl *hostLab) addr(i int) string { return hl.lab.Host(i).Addr.String() }

// startNode starts gonode named name on host i with args and waits until
// it listens.
func (hl *hostLab) startNode(i int, name string, args ...string) *proc {
	hl.t.Helper()
	all := append([]string{"--name", name, "--cookie", "genki"}, args...)
	p := hl.hosts[i-1].start(all...)
	p.waitStderr("listening on", 10*time.Second)
	return p
}

// meshNode is one node of a mesh test: its process, full name and host.
type meshNode struct {
	p    *proc
	name string
	host int
}

func atomOf(name string) string { return `:"` + name + `"` }

// waitMesh waits until every node lists every other one.
func waitMesh(t *testing.T, nodes []meshNode, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, n := range nodes {
		var want []string
		for _, other := range nodes {
			if other.name != n.name {
				want = append(want, atomOf(other.name))
			}
		}
		got, ok := n.p.listUntil(containsAll(want...), time.Until(deadline))
		if !ok {
			t.Errorf("Node.list on %s = %s after %v, want %v", n.name, got, timeout, want)
			return false
		}
	}
	return true
}

// checkCutAndHeal cuts host 3 off and checks that its nodes and the
// others leave each other's lists. Then it heals the cut and checks that
// the full mesh comes back.
func checkCutAndHeal(t *testing.T, hl *hostLab, nodes []meshNode) {
	t.Helper()
	var cut, rest []meshNode
	for _, n := range nodes {
		if n.host == 3 {
			cut = append(cut, n)
		} else {
			rest = append(rest, n)
		}
	}
	hl.lab.Host(3).Cut(t)
	cutAt := time.Now()
	checkApart(t, rest, cut)
	checkApart(t, cut, rest)
	t.Logf("host 3 dropped out %v after the cut", time.Since(cutAt).Round(100*time.Millisecond))
	// Let the strategies fail a few times, so the heal has back-off to
	// get past.
	time.Sleep(2 * time.Second)

	hl.lab.Host(3).Heal(t)
	healedAt := time.Now()
	if waitMesh(t, nodes, healTimeout) {
		t.Logf("mesh back %v after the heal", time.Since(healedAt).Round(100*time.Millisecond))
	}

	// An unreachable peer costs a few log lines, not one per attempt.
	for _, n := range rest {
		for _, c := range cut {
			count := 0
			for _, line := range strings.Split(n.p.stderr.String(), "\n") {
				if strings.Contains(line, c.name) {
					count++
				}
			}
			if count > 10 {
				t.Errorf("%s logged %d lines about %s, want at most 10:\n%s", n.name, count, c.name, n.p.stderr.String())
			}
		}
	}
}

// checkApart waits until no node of side lists a node of other.
func checkApart(t *testing.T, side, other []meshNode) {
	t.Helper()
	apart := func(s string) bool {
		for _, o := range other {
			if strings.Contains(s, atomOf(o.name)) {
				return false
			}
		}
		return true
	}
	for _, n := range side {
		if got, ok := n.p.listUntil(apart, dropTimeout); !ok {
			t.Errorf("Node.list on %s = %s %v after the cut, want none of the nodes on the other side", n.name, got, dropTimeout)
		}
	}
}

// checkStrategyLog checks that some node logged a connection under the
// strategy's component name. The node that dials a connection logs it
// under its strategy, and the one that accepts it under node, and which
// node dials depends on timing.
func checkStrategyLog(t *testing.T, nodes []meshNode, strategy string) {
	t.Helper()
	want := "[" + strategy + "] connected to"
	for _, n := range nodes {
		if strings.Contains(n.p.stderr.String(), want) {
			return
		}
	}
	t.Errorf("no node logged %q", want)
}

func TestDiscoveryMeshAcrossHosts(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		// component is the strategy's log component; empty means
		// strategy.
		component string
		// names returns the node name on host i (from 1).
		names func(hl *hostLab, i int) string
		// args returns the discovery flags of every node.
		args func(t *testing.T, hl *hostLab) []string
	}{
		{
			strategy: "gossip",
			names:    ipName,
			args: func(*testing.T, *hostLab) []string {
				return []string{"--discovery", "gossip", "--gossip-interval", "200ms"}
			},
		},
		{
			strategy: "hosts",
			names:    ipName,
			args: func(_ *testing.T, hl *hostLab) []string {
				return []string{"--hosts", fmt.Sprintf("n@%s,n@%s,n@%s", hl.addr(1), hl.addr(2), hl.addr(3))}
			},
		},
		{
			strategy: "hosts-file",
			names:    ipName,
			args: func(t *testing.T, hl *hostLab) []string {
				path := filepath.Join(t.TempDir(), ".hosts.erlang")
				data := fmt.Sprintf("%% the lab's hosts\n'%s'.\n%s\n'%s'.\n", hl.addr(1), hl.addr(2), hl.addr(3))
				if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"--discovery", "hosts-file", "--hosts-file", path}
			},
		},
		{
			strategy: "dns",
			names:    ipName,
			args:     dnsQueryArgs(func(h *nodetest.Host) netip.Addr { return h.Addr }),
		},
		{
			strategy:  "dns-aaaa",
			component: "dns",
			names:     ipv6Name,
			args:      dnsQueryArgs(func(h *nodetest.Host) netip.Addr { return h.Addr6 }),
		},
		{
			strategy:  "hosts-ipv6",
			component: "hosts",
			names:     ipv6Name,
			args: func(_ *testing.T, hl *hostLab) []string {
				return []string{"--hosts", strings.Join([]string{ipv6Name(hl, 1), ipv6Name(hl, 2), ipv6Name(hl, 3)}, ",")}
			},
		},
		{
			// Every node knows only node 1, and the transitive mesh
			// connects nodes 2 and 3, also after host 3 heals.
			strategy:  "hosts-one-seed",
			component: "hosts",
			names:     ipName,
			args: func(_ *testing.T, hl *hostLab) []string {
				return []string{"--hosts", ipName(hl, 1)}
			},
		},
		{
			strategy:  "gossip-ipv6",
			component: "gossip",
			names:     ipv6Name,
			args: func(*testing.T, *hostLab) []string {
				return []string{"--discovery", "gossip", "--gossip-interval", "200ms", "--gossip-group", "ff02::4a47", "--gossip-if", "eth0"}
			},
		},
		{
			strategy:  "hosts-file-ipv6",
			component: "hosts-file",
			names:     ipv6Name,
			args: func(t *testing.T, hl *hostLab) []string {
				path := filepath.Join(t.TempDir(), ".hosts.erlang")
				var data strings.Builder
				for _, h := range hl.lab.Hosts {
					fmt.Fprintf(&data, "'%s'.\n", h.Addr6)
				}
				if err := os.WriteFile(path, []byte(data.String()), 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"--discovery", "hosts-file", "--hosts-file", path}
			},
		},
		{
			strategy:  "swim-ipv6",
			component: "swim",
			names:     ipv6Name,
			args: func(_ *testing.T, hl *hostLab) []string {
				var seeds []string
				for _, h := range hl.lab.Hosts {
					seeds = append(seeds, net.JoinHostPort(h.Addr6.String(), "7946"))
				}
				return []string{"--discovery", "swim", "--join", strings.Join(seeds, ",")}
			},
		},
		{
			strategy:  "dns-srv",
			component: "dns",
			names:     func(_ *hostLab, i int) string { return fmt.Sprintf("n@h%d.nodes.lab", i) },
			args: func(t *testing.T, hl *hostLab) []string {
				srv := hl.serveDNS(t)
				var targets []string
				for _, h := range hl.lab.Hosts {
					target := fmt.Sprintf("h%d.nodes.lab", h.Index)
					srv.SetHost(target, h.Addr)
					targets = append(targets, target)
				}
				srv.SetSRV("_n._tcp.nodes.lab", epmd.DefaultPort, targets...)
				return []string{"--dns-srv", "_n._tcp.nodes.lab.", "--dns-basename", "n", "--dns-server", srv.Addr(), "--dns-interval", "300ms"}
			},
		},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			t.Parallel()
			hl := newHostLab(t, 3)
			args := tc.args(t, hl)
			var nodes []meshNode
			for i := 1; i <= 3; i++ {
				name := tc.names(hl, i)
				nodes = append(nodes, meshNode{p: hl.startNode(i, name, args...), name: name, host: i})
			}
			if !waitMesh(t, nodes, meshTimeout) {
				t.FailNow()
			}
			component := tc.component
			if component == "" {
				component = tc.strategy
			}
			checkStrategyLog(t, nodes, component)
			if strings.Contains(nodes[1].name, ":") {
				// Nodes named after IPv6 addresses talk over IPv6.
				info := nodes[0].p.eval("Node.info(" + atomOf(nodes[1].name) + ")")
				if !strings.Contains(info, `address: "[fd99::`) {
					t.Errorf("Node.info of node 2 on node 1 = %s, want an IPv6 address", info)
				}
			}
			checkCutAndHeal(t, hl, nodes)
		})
	}
}

// dnsQueryArgs serves the address that addrOf picks for each host as a
// record of nodes.lab, and returns the flags that poll it.
func dnsQueryArgs(addrOf func(*nodetest.Host) netip.Addr) func(*testing.T, *hostLab) []string {
	return func(t *testing.T, hl *hostLab) []string {
		srv := hl.serveDNS(t)
		var addrs []netip.Addr
		for _, h := range hl.lab.Hosts {
			addrs = append(addrs, addrOf(h))
		}
		srv.SetHost("nodes.lab", addrs...)
		return []string{"--dns-query", "nodes.lab.", "--dns-basename", "n", "--dns-server", srv.Addr(), "--dns-interval", "300ms"}
	}
}

// ipName names the node on host i after the host's IPv4 address.
func ipName(hl *hostLab, i int) string { return "n@" + hl.addr(i) }

// ipv6Name names the node on host i after the host's IPv6 address.
func ipv6Name(hl *hostLab, i int) string { return "n@" + hl.lab.Host(i).Addr6.String() }

// serveDNS serves DNS on host 1 of the lab until the test ends.
func (hl *hostLab) serveDNS(t *testing.T) *nodetest.DNSServer {
	t.Helper()
	pc, err := hl.lab.Host(1).ListenUDP(hl.addr(1) + ":53")
	if err != nil {
		t.Fatal(err)
	}
	return nodetest.ServeDNS(t, pc)
}

func TestDNSPartialAndFailingAnswers(t *testing.T) {
	t.Parallel()
	hl := newHostLab(t, 3)
	srv := hl.serveDNS(t)
	var addrs []netip.Addr
	for _, h := range hl.lab.Hosts {
		addrs = append(addrs, h.Addr)
	}
	srv.SetHost("nodes.lab", addrs...)
	// Every answer lacks one node, another one each time.
	srv.SetMode(nodetest.DNSAnswerPartial)
	args := []string{"--dns-query", "nodes.lab.", "--dns-basename", "n", "--dns-server", srv.Addr(), "--dns-interval", "200ms"}
	var nodes []meshNode
	for i := 1; i <= 3; i++ {
		name := ipName(hl, i)
		nodes = append(nodes, meshNode{p: hl.startNode(i, name, args...), name: name, host: i})
	}
	if !waitMesh(t, nodes, meshTimeout) {
		t.FailNow()
	}

	// A failing server neither drops a node nor floods the log.
	srv.SetMode(nodetest.DNSFail)
	failedAt := srv.Queries()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Queries() < failedAt+30 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if srv.Queries() < failedAt+30 {
		t.Errorf("the nodes sent %d queries to the failing server in 10s, want 30 or more", srv.Queries()-failedAt)
	}
	if !waitMesh(t, nodes, time.Second) {
		t.Error("a node left the mesh while DNS failed")
	}
	for _, n := range nodes {
		if got := strings.Count(n.p.stderr.String(), "failed; keeping the last good answer"); got != 1 {
			t.Errorf("%s logged %d lines about the failing lookup, want 1:\n%s", n.name, got, n.p.stderr.String())
		}
	}
	srv.SetMode(nodetest.DNSAnswerAll)
	nodes[0].p.waitStderr("works again", 5*time.Second)
}

func TestDiscoveryFlagErrors(t *testing.T) {
	l := newLab(t)
	bad := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(bad, []byte("'ok'.\n'broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--discovery", "hosts"}, "needs --hosts"},
		{[]string{"--discovery", "gossip", "--hosts", "a@h"}, "lacks hosts"},
		{[]string{"--discovery", "gossip,carrier-pigeon"}, `unknown strategy "carrier-pigeon"`},
		{[]string{"--hosts", "nohost"}, "invalid node name"},
		{[]string{"--hosts-file", bad}, "gonode: --hosts-file: " + bad + ":2:"},
		{[]string{"--dns-query", "x.test"}, "needs --dns-basename"},
		{[]string{"--dns-basename", "app"}, "needs --dns-query NAME or --dns-srv NAME"},
		{[]string{"--dns-query", "x.test", "--dns-basename", "a@b"}, "invalid basename"},
		{[]string{"--join", "seed:notaport"}, `invalid seed "seed:notaport"`},
		{[]string{"--discovery", "swim", "--swim-port", "70000"}, "invalid port 70000"},
		{[]string{"--gossip-group", "ff02::4a47"}, "is an IPv6 group, which needs --gossip-if"},
		{[]string{"--gossip-group", "fd99::1"}, "want a multicast address"},
		{[]string{"--gossip-if", "eth9"}, `unknown gossip interface "eth9"`},
	} {
		p := l.start(append([]string{"--sname", "a", "--cookie", "genki"}, tc.args...)...)
		if code := p.waitExit(10 * time.Second); code != 2 {
			t.Errorf("gonode %v exited %d, want 2", tc.args, code)
		}
		if !strings.Contains(p.stderr.String(), tc.want) {
			t.Errorf("gonode %v printed %q, want %q in it", tc.args, p.stderr.String(), tc.want)
		}
		for _, stutter := range []string{"--hosts: hosts:", "--hosts-file: hosts-file:", "--discovery dns: dns:"} {
			if strings.Contains(p.stderr.String(), stutter) {
				t.Errorf("gonode %v printed %q, which names the strategy twice", tc.args, p.stderr.String())
			}
		}
	}
}

func TestDiscoverySideBySide(t *testing.T) {
	hl := newHostLab(t, 3)
	// Node 1 finds node 2 by the host list and node 3 by gossip; node 3
	// has gossip only, and node 2 nothing. The transitive mesh is off, so
	// that node 2 does not reach node 3 through node 1's peer list.
	n2 := hl.startNode(2, ipName(hl, 2), "--discovery", "none", "--connect-all=false")
	n3 := hl.startNode(3, ipName(hl, 3), "--discovery", "gossip", "--gossip-interval", "200ms", "--connect-all=false")
	n1 := hl.startNode(1, ipName(hl, 1), "--discovery", "gossip,hosts", "--hosts", "n@"+hl.addr(2), "--gossip-interval", "200ms", "--connect-all=false")
	want := []string{atomOf(ipName(hl, 2)), atomOf(ipName(hl, 3))}
	if got, ok := n1.listUntil(containsAll(want...), meshTimeout); !ok {
		t.Fatalf("Node.list on node 1 = %s, want %v", got, want)
	}
	hostsLine := `[hosts] connected to ` + atomOf(ipName(hl, 2))
	if !strings.Contains(n1.stderr.String(), hostsLine) {
		t.Errorf("node 1 logged no %q:\n%s", hostsLine, n1.stderr.String())
	}
	// Nodes 1 and 3 hear each other's heartbeats, and the one whose
	// attempt wins logs the connection under gossip.
	gossipLine1 := `[gossip] connected to ` + atomOf(ipName(hl, 3))
	gossipLine3 := `[gossip] connected to ` + atomOf(ipName(hl, 1))
	if !strings.Contains(n1.stderr.String(), gossipLine1) && !strings.Contains(n3.stderr.String(), gossipLine3) {
		t.Errorf("neither node 1 nor node 3 logged a gossip connection:\n%s\n%s", n1.stderr.String(), n3.stderr.String())
	}
	if got := n2.eval("Node.list"); got != "["+atomOf(ipName(hl, 1))+"]" {
		t.Errorf("Node.list on node 2 = %s, want only node 1", got)
	}
}

func TestSWIMTenNodesAcrossHosts(t *testing.T) {
	t.Parallel()
	hl := newHostLab(t, 3)
	// Node i runs on host (i-1)%3+1 with memberlist on port 7946+i, and
	// nodes 1, 2 and 3 (one per host) are the seeds of all.
	swimPort := func(i int) int { return 7946 + i }
	hostOf := func(i int) int { return (i-1)%3 + 1 }
	var seeds []string
	for i := 1; i <= 3; i++ {
		seeds = append(seeds, fmt.Sprintf("%s:%d", hl.addr(hostOf(i)), swimPort(i)))
	}
	var nodes []meshNode
	for i := 1; i <= 10; i++ {
		h := hostOf(i)
		name := fmt.Sprintf("n%d@%s", i, hl.addr(h))
		p := hl.startNode(h, name, "--discovery", "swim", "--swim-port", fmt.Sprint(swimPort(i)),
			"--join", strings.Join(seeds, ","), "--gossip-secret", "s3cret")
		nodes = append(nodes, meshNode{p: p, name: name, host: h})
	}
	if !waitMesh(t, nodes, 2*meshTimeout) {
		t.FailNow()
	}
	checkStrategyLog(t, nodes, "swim")
	checkCutAndHeal(t, hl, nodes)
}
