package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The tests in this file run gossip on the hosts of a nodetest.Lab: over
// IPv6, on a second interface, and on a host whose network comes up after
// the node started.

func TestGossipIPv6AcrossHosts(t *testing.T) {
	for _, group := range []string{"ff02::4a47", "ff05::4a47"} {
		t.Run(group, func(t *testing.T) {
			hl := newHostLab(t, 3)
			var nodes []meshNode
			for i := 1; i <= 3; i++ {
				name := ipv6Name(hl, i)
				p := hl.startNode(i, name, "--discovery", "gossip", "--gossip-interval", "200ms",
					"--gossip-group", group, "--gossip-if", "eth0")
				nodes = append(nodes, meshNode{p: p, name: name, host: i})
			}
			if !waitMesh(t, nodes, meshTimeout) {
				t.FailNow()
			}
			checkStrategyLog(t, nodes, "gossip")
			info := nodes[0].p.eval("Node.info(" + atomOf(nodes[1].name) + ")")
			t.Logf("Node.info of node 2 on node 1: %s", info)
			if strings.Contains(info, "127.0.0.1") || strings.Contains(info, `"[::1]`) {
				t.Errorf("Node.info of node 2 on node 1 = %s, want a non-loopback address", info)
			}
		})
	}
}

func TestGossipOnSecondInterface(t *testing.T) {
	hl := newHostLab(t, 2)
	ifname := hl.lab.AddLink(t, netip.MustParsePrefix("10.98.0.0/24"))
	n1 := hl.startNode(1, ipName(hl, 1), "--discovery", "gossip", "--gossip-interval", "200ms", "--gossip-if", ifname)
	n2 := hl.startNode(2, ipName(hl, 2), "--discovery", "gossip", "--gossip-interval", "200ms", "--gossip-if", "10.98.0.2")
	nodes := []meshNode{{n1, ipName(hl, 1), 1}, {n2, ipName(hl, 2), 2}}
	if !waitMesh(t, nodes, meshTimeout) {
		t.FailNow()
	}
	for _, n := range nodes {
		if !strings.Contains(n.p.stderr.String(), "gossip on interface "+ifname+" (set by the gossip interface)") {
			t.Errorf("%s did not log its gossip interface %s:\n%s", n.name, ifname, n.p.stderr.String())
		}
	}
	// The heartbeats leave by eth1, so the peers dial each other there.
	info := n1.eval("Node.info(" + atomOf(ipName(hl, 2)) + ")")
	t.Logf("Node.info of node 2 on node 1: %s", info)
	if !strings.Contains(info, `"10.98.0.2:`) && !strings.Contains(info, `"10.98.0.1:`) {
		t.Errorf("Node.info of node 2 on node 1 = %s, want an address on %s (10.98.0.x)", info, ifname)
	}

	// Without --gossip-if, a node logs which of the two it uses.
	x := hl.startNode(1, "x@"+hl.addr(1), "--discovery", "gossip", "--gossip-port", "45999")
	x.waitStderr("of several that carry multicast: eth0, "+ifname, 5*time.Second)

	// An interface that does not exist is named in the error.
	bad := hl.hosts[0].start("--name", "y@"+hl.addr(1), "--cookie", "genki", "--gossip-if", "eth9")
	if code := bad.waitExit(10 * time.Second); code != 2 {
		t.Errorf("gonode --gossip-if eth9 exited with %d, want 2", code)
	}
	if !strings.Contains(bad.stderr.String(), `"eth9"`) || !strings.Contains(bad.stderr.String(), "interfaces: lo, eth0, "+ifname) {
		t.Errorf("gonode --gossip-if eth9 stderr = %q, want it to name eth9 and list the interfaces", bad.stderr.String())
	}
}

func TestGossipJoinsWhenLinkComesUp(t *testing.T) {
	hl := newHostLab(t, 2)
	host2 := hl.lab.Host(2)
	host2.Run(t, "ip link set eth0 down")
	n1 := hl.startNode(1, ipName(hl, 1), "--discovery", "gossip", "--gossip-interval", "200ms")
	n2 := hl.startNode(2, ipName(hl, 2), "--discovery", "gossip", "--gossip-interval", "200ms")
	n2.waitStderr("cannot join the gossip group yet", 5*time.Second)

	// Taking the link down removed the route for multicast, so the
	// route is added again with the link, as a network manager does.
	host2.Run(t, "ip link set eth0 up && ip route replace 224.0.0.0/4 dev eth0")
	nodes := []meshNode{{n1, ipName(hl, 1), 1}, {n2, ipName(hl, 2), 2}}
	if !waitMesh(t, nodes, meshTimeout) {
		t.FailNow()
	}
	n2.waitStderr("after its interface came up", time.Second)
}

func TestGossipWarnsOnLoopback(t *testing.T) {
	hl := newHostLab(t, 1)
	// Multicast routed over loopback stays on the host, although eth0
	// could carry it.
	hl.lab.Host(1).Run(t, "ip link set lo multicast on && ip route replace 224.0.0.0/4 dev lo")
	p := hl.startNode(1, ipName(hl, 1), "--discovery", "gossip")
	p.waitStderr("gossip goes out on loopback lo, so nodes on other hosts do not hear it; set --gossip-if to one of eth0", 5*time.Second)
}
