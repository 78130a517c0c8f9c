package main

import (
	"strings"
	"testing"
	"time"
)

// The tests in this file check the transitive mesh, hidden nodes and the
// rules for short and long names on the hosts of a nodetest.Lab.

func TestTransitiveMeshAcrossHosts(t *testing.T) {
	hl := newHostLab(t, 3)
	n1 := hl.startNode(1, ipName(hl, 1), "--discovery", "none")
	n2 := hl.startNode(2, ipName(hl, 2), "--discovery", "none")
	n3 := hl.startNode(3, ipName(hl, 3), "--discovery", "none")
	if got := n1.eval("Node.connect(" + atomOf(ipName(hl, 2)) + ")"); got != "true" {
		t.Fatalf("Node.connect from node 1 to node 2 = %s, want true", got)
	}
	if got := n2.eval("Node.connect(" + atomOf(ipName(hl, 3)) + ")"); got != "true" {
		t.Fatalf("Node.connect from node 2 to node 3 = %s, want true", got)
	}
	nodes := []meshNode{{n1, ipName(hl, 1), 1}, {n2, ipName(hl, 2), 2}, {n3, ipName(hl, 3), 3}}
	if !waitMesh(t, nodes, meshTimeout) {
		t.FailNow()
	}
	mesh1 := "[mesh] connected to " + atomOf(ipName(hl, 3))
	mesh3 := "[mesh] connected to " + atomOf(ipName(hl, 1))
	if !strings.Contains(n1.stderr.String(), mesh1) && !strings.Contains(n3.stderr.String(), mesh3) {
		t.Errorf("neither node 1 nor node 3 logged a mesh connection:\n%s\n%s", n1.stderr.String(), n3.stderr.String())
	}
}

func TestHiddenNodeAcrossHosts(t *testing.T) {
	hl := newHostLab(t, 3)
	n1 := hl.startNode(1, ipName(hl, 1), "--discovery", "none")
	n2 := hl.startNode(2, ipName(hl, 2), "--discovery", "none")
	hidden := "h@" + hl.addr(3)
	h := hl.startNode(3, hidden, "--discovery", "none", "--hidden")
	if got := n1.eval("Node.connect(" + atomOf(ipName(hl, 2)) + ")"); got != "true" {
		t.Fatalf("Node.connect from node 1 to node 2 = %s, want true", got)
	}
	if got := h.eval("Node.connect(" + atomOf(ipName(hl, 1)) + ")"); got != "true" {
		t.Fatalf("Node.connect from the hidden node to node 1 = %s, want true", got)
	}
	checks := []struct {
		p          *proc
		expr, want string
	}{
		{n1, "Node.list", "[" + atomOf(ipName(hl, 2)) + "]"},
		{n1, "Node.list(:hidden)", "[" + atomOf(hidden) + "]"},
		{n1, "Node.list(:connected)", "[" + atomOf(ipName(hl, 2)) + ", " + atomOf(hidden) + "]"},
		{h, "Node.list", "[]"},
		{h, "Node.list(:hidden)", "[" + atomOf(ipName(hl, 1)) + "]"},
	}
	for _, c := range checks {
		if got := c.p.eval(c.expr); got != c.want {
			t.Errorf("%s on %s = %s, want %s", c.expr, c.p.name, got, c.want)
		}
	}
	// Node 1 passes neither node on to the other, so they stay apart.
	time.Sleep(time.Second)
	if got := n2.eval("Node.list(:connected)"); got != "["+atomOf(ipName(hl, 1))+"]" {
		t.Errorf("Node.list(:connected) on node 2 = %s, want only node 1", got)
	}
	if got := h.eval("Node.list(:connected)"); got != "["+atomOf(ipName(hl, 1))+"]" {
		t.Errorf("Node.list(:connected) on the hidden node = %s, want only node 1", got)
	}
}

func TestShortAndLongNamesAcrossHosts(t *testing.T) {
	hl := newHostLab(t, 2)
	// Both hear each other's heartbeats, and both refuse to connect.
	long := hl.startNode(1, ipName(hl, 1), "--discovery", "gossip", "--gossip-interval", "200ms")
	short := hl.hosts[1].start("--sname", "s", "--cookie", "genki", "--discovery", "gossip", "--gossip-interval", "200ms")
	short.waitStderr("listening on", 10*time.Second)
	shortName := strings.TrimPrefix(strings.Fields(short.eval("Node.self"))[0], ":")
	shortName = strings.Trim(shortName, `"`)

	const refusal = "short and long node names do not mix"
	long.waitStderr(refusal, meshTimeout)
	short.waitStderr(refusal, meshTimeout)
	if !strings.Contains(long.stderr.String(), "this node "+ipName(hl, 1)+" has a long name (--name) and "+shortName+" has a short name") {
		t.Errorf("the long-named node does not say why:\n%s", long.stderr.String())
	}
	if got := long.eval("Node.connect(" + atomOf(shortName) + ")"); got != "false" {
		t.Errorf("Node.connect from the long name to the short one = %s, want false", got)
	}
	if got := short.eval("Node.ping(" + atomOf(ipName(hl, 1)) + ")"); got != ":pang" {
		t.Errorf("Node.ping from the short name to the long one = %s, want :pang", got)
	}
	short.waitStderr("cannot connect to "+atomOf(ipName(hl, 1)), 5*time.Second)
	for _, p := range []*proc{long, short} {
		if got := p.eval("Node.list"); got != "[]" {
			t.Errorf("Node.list on %s = %s, want []", p.name, got)
		}
	}
}
