package transport

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestPeersFrameRoundTrip(t *testing.T) {
	f := Frame{Type: FramePeers, ListenPort: 4370, Peers: []PeerAddr{
		{Name: "b@10.0.0.2", Addr: "10.0.0.2:4370"},
		{Name: "c@[fd99::3]", Addr: ""},
	}}
	wire := mustAppend(t, &f)
	var got Frame
	if err := DecodeFrame(wire[frameHeaderSize:], &got); err != nil {
		t.Fatalf("DecodeFrame: %v", err)
	}
	if got.Type != FramePeers || got.ListenPort != 4370 {
		t.Errorf("decoded type %s port %d, want peers 4370", got.Type, got.ListenPort)
	}
	if !slices.Equal(got.Peers, f.Peers) {
		t.Errorf("decoded peers %v, want %v", got.Peers, f.Peers)
	}
	if got.PeersSkipped != 0 {
		t.Errorf("PeersSkipped = %d, want 0", got.PeersSkipped)
	}
}

func TestPeersFrameCapsEntries(t *testing.T) {
	f := Frame{Type: FramePeers}
	for i := range MaxPeerEntries + 50 {
		f.Peers = append(f.Peers, PeerAddr{Name: fmt.Sprintf("n%d@h", i), Addr: "10.0.0.1:1"})
	}
	wire := mustAppend(t, &f)
	var got Frame
	if err := DecodeFrame(wire[frameHeaderSize:], &got); err != nil {
		t.Fatalf("DecodeFrame: %v", err)
	}
	if len(got.Peers) != MaxPeerEntries {
		t.Errorf("decoded %d entries, want %d", len(got.Peers), MaxPeerEntries)
	}
	if got.PeersSkipped != 50 {
		t.Errorf("PeersSkipped = %d, want 50", got.PeersSkipped)
	}
}

func TestPeersFrameMalformed(t *testing.T) {
	long := make([]byte, maxPeerAddrLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, f := range map[string]Frame{
		"address too long": {Type: FramePeers, Peers: []PeerAddr{{Name: "a@h", Addr: string(long)}}},
		"name too long":    {Type: FramePeers, Peers: []PeerAddr{{Name: string(long) + string(long), Addr: ""}}},
	} {
		wire := mustAppend(t, &f)
		var got Frame
		if err := DecodeFrame(wire[frameHeaderSize:], &got); err == nil {
			t.Errorf("%s: DecodeFrame succeeded, want an error", name)
		}
	}
}

// peersRecorder is a recorder that also receives peer lists.
type peersRecorder struct {
	*recorder
	lists chan []PeerAddr
	ports chan int
}

func (r *peersRecorder) HandlePeers(port int, peers []PeerAddr, skipped int) {
	r.ports <- port
	r.lists <- peers
}

func TestConnSendPeers(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@h", "c"), testConfig("b@h", "c"))
	rec := &peersRecorder{recorder: newRecorder(1), lists: make(chan []PeerAddr, 1), ports: make(chan int, 1)}
	server.Start(rec)
	client.Start(newRecorder(1))
	want := []PeerAddr{{Name: "c@h", Addr: "127.0.0.1:5000"}}
	if err := client.SendPeers(4000, want); err != nil {
		t.Fatalf("SendPeers: %v", err)
	}
	select {
	case got := <-rec.lists:
		if !slices.Equal(got, want) {
			t.Errorf("received %v, want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no peer list within 5s")
	}
	if port := <-rec.ports; port != 4000 {
		t.Errorf("listen port %d, want 4000", port)
	}
	if err := client.SendPeers(70000, nil); err == nil {
		t.Error("SendPeers with port 70000 succeeded, want an error")
	}
}

func TestHandshakeHiddenFlag(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		clientHidden, serverHidden bool
	}{
		{"neither", false, false},
		{"client", true, false},
		{"server", false, true},
		{"both", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccfg, scfg := testConfig("a@h", "c"), testConfig("b@h", "c")
			ccfg.Hidden, scfg.Hidden = tc.clientHidden, tc.serverHidden
			client, server := connPair(t, ccfg, scfg)
			if client.PeerHidden() != tc.serverHidden {
				t.Errorf("client sees the server hidden = %v, want %v", client.PeerHidden(), tc.serverHidden)
			}
			if server.PeerHidden() != tc.clientHidden {
				t.Errorf("server sees the client hidden = %v, want %v", server.PeerHidden(), tc.clientHidden)
			}
		})
	}
}
