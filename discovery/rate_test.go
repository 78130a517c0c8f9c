package discovery

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestSourceRateBurstThenRefill(t *testing.T) {
	r := newSourceRate(10)
	src := netip.MustParseAddr("10.0.0.1")
	now := time.Unix(1000, 0)
	for i := range 10 {
		if !r.allow(src, now) {
			t.Fatalf("packet %d of the first burst of 10 was dropped", i+1)
		}
	}
	if r.allow(src, now) {
		t.Error("11th packet in the same instant was allowed, want dropped")
	}
	if !r.allow(netip.MustParseAddr("10.0.0.2"), now) {
		t.Error("another source was dropped because of the first one's rate")
	}
	later := now.Add(500 * time.Millisecond)
	allowed := 0
	for range 10 {
		if r.allow(src, later) {
			allowed++
		}
	}
	if allowed != 5 {
		t.Errorf("%d packets allowed half a second after the burst, want 5 at 10 per second", allowed)
	}
}

func TestSourceRateBoundsSources(t *testing.T) {
	r := newSourceRate(10)
	now := time.Unix(1000, 0)
	for i := range 3 * maxRateSources {
		r.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if n := len(r.buckets); n > maxRateSources {
		t.Errorf("%d sources tracked, want at most %d", n, maxRateSources)
	}
}

// TestGossipDropsOverRate floods the group from 127.0.0.1 and checks that
// packets over the rate are dropped and logged once, and that a heartbeat
// from another source still gets through.
func TestGossipDropsOverRate(t *testing.T) {
	const rate = 20
	port := testPort()
	var logs logBuffer
	ca := newFakeCluster("a@vm")
	ga := mustGossip(t, GossipConfig{Port: port, Interval: time.Hour, NodeName: "a@vm", TransportPort: 4001,
		MaxPacketRate: rate, Logger: logs.logger()})
	startGossip(t, ga, ca)

	// Few enough that the socket's receive buffer holds them all.
	const sent = 200
	codec := mustCodec(t, "")
	packets := make([][]byte, sent)
	for i := range packets {
		packets[i] = mustEncode(t, codec, Heartbeat{Name: "flood@vm", Port: 4002})
	}
	start := time.Now()
	sendRaw(t, port, packets...)
	var last GossipStats
	waitFor(t, "the flood to be counted", func() bool {
		// Done when packets were dropped and no more arrived for a while.
		s := ga.Stats()
		settled := s.DroppedRate > 0 && s == last
		last = s
		time.Sleep(100 * time.Millisecond)
		return settled
	})
	elapsed := time.Since(start)

	s := ga.Stats()
	// The burst, the refill while the flood lasted, and a's own first
	// heartbeat, which came from the same address.
	maxHandled := uint64(rate + rate*elapsed.Seconds() + 1)
	if s.Received+s.Own > maxHandled {
		t.Errorf("handled %d packets from 127.0.0.1 in %v, want at most %d at %d per second", s.Received+s.Own, elapsed, maxHandled, rate)
	}
	if got := strings.Count(logs.String(), "dropping gossip packets from 127.0.0.1"); got != 1 {
		t.Errorf("logged the over-rate source %d times, want once:\n%s", got, logs.String())
	}

	other, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, &net.UDPAddr{IP: DefaultGossipGroup, Port: port})
	if err != nil {
		t.Fatalf("dial the gossip group from 127.0.0.2: %v", err)
	}
	defer other.Close()
	if _, err := other.Write(mustEncode(t, codec, Heartbeat{Name: "c@vm", Port: 4003})); err != nil {
		t.Fatalf("send from 127.0.0.2: %v", err)
	}
	waitFor(t, "the heartbeat from 127.0.0.2", func() bool {
		return hasPeer(ca, Peer{Name: "c@vm", Addr: "127.0.0.2:4003", Strategy: "gossip"})
	})
}
