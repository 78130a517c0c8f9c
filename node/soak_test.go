package node_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
)

// Size of the soak: soakNodes nodes in a full mesh exchange soakMessages
// messages in total, spread evenly over every ordered pair of nodes. It
// takes about 2 s on an idle 2-core VM.
const (
	soakNodes    = 16
	soakMessages = 1_000_000
	soakTimeout  = 50 * time.Second
)

// TestSoakMeshAccountsForEveryMessage runs the soak and checks that every
// message arrives once and in order per pair, that goroutines and the heap
// stay flat from one round to the next, and that no goroutine outlives
// the nodes.
func TestSoakMeshAccountsForEveryMessage(t *testing.T) {
	runtime.GC()
	goroutinesBefore := runtime.NumGoroutine()

	var logs logBuffer
	nodes := make([]*node.Node, soakNodes)
	inboxes := make([]*node.Mailbox, soakNodes)
	for i := range nodes {
		n, err := node.Start(testContext(t), node.Config{
			Name:       fullName(t, fmt.Sprintf("soak%d", i)),
			Cookie:     node.NewCookie("genki"),
			ListenAddr: "127.0.0.1:0",
			NoEPMD:     true,
			// With all 480 connection goroutines busy on a shared
			// 2-core machine, one can wait seconds for a turn, and a 4 s
			// tick timeout then ends healthy connections.
			TickTimeout: 20 * time.Second,
			Logger:      logs.logger(),
		})
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		defer n.Close()
		nodes[i] = n
		inboxes[i] = n.Register("soak")
	}
	ctx, cancel := context.WithTimeout(context.Background(), soakTimeout)
	defer cancel()
	for i := range nodes {
		for j := i + 1; j < soakNodes; j++ {
			if err := nodes[i].ConnectAddr(ctx, nodes[j].Name(), nodes[j].Addr().String(), "test"); err != nil {
				t.Fatalf("connect node %d to node %d: %v", i, j, err)
			}
		}
	}
	// The soak runs in two rounds of half the messages each, and the
	// second must leave goroutines and heap where the first did.
	//
	// NOTE: each connection keeps its send queue and write buffers for
	// reuse, up to 1 MiB and 4 MiB. So the heap creeps up by a few MiB per
	// round while more of the 240 connections reach larger buffers
	// (measured: 50, 58, 62, 63 and 71 MiB after five rounds). The check
	// allows that creep, not growth with the number of messages.
	var heap [2]uint64
	var goroutines [2]int
	for round := range heap {
		took := exchange(t, ctx, nodes, inboxes, soakMessages/2)
		waitFor(time.Second, func() bool { return round == 0 || runtime.NumGoroutine() <= goroutines[0] })
		goroutines[round] = runtime.NumGoroutine()
		heap[round] = heapInUse()
		t.Logf("round %d: %d nodes exchanged %d messages in %v (%.0f msg/s), heap in use after it %d MiB",
			round+1, soakNodes, soakMessages/2, took.Round(time.Millisecond), soakMessages/2/took.Seconds(), heap[round]>>20)
	}
	if goroutines[1] > goroutines[0] {
		t.Errorf("%d goroutines after the second round, want at most the %d after the first", goroutines[1], goroutines[0])
	}
	if heap[1] > heap[0]+24<<20 {
		t.Errorf("heap grew from %d MiB after the first round to %d MiB after the second, want it flat", heap[0]>>20, heap[1]>>20)
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}

	for _, n := range nodes {
		n.Close()
	}
	if !waitFor(testTimeout, func() bool { return runtime.NumGoroutine() <= goroutinesBefore }) {
		t.Errorf("%d goroutines after closing the nodes, want at most the %d before", runtime.NumGoroutine(), goroutinesBefore)
	}
}

// exchange sends messages over every ordered pair of nodes, spread
// evenly with the first pairs taking one more, and checks that each pair's
// messages all arrive, in order, and that no mailbox dropped or kept any.
func exchange(t *testing.T, ctx context.Context, nodes []*node.Node, inboxes []*node.Mailbox, messages int) time.Duration {
	t.Helper()
	pairs := soakNodes * (soakNodes - 1)
	var want [soakNodes][soakNodes]int // by sender, then receiver
	k := 0
	for from := range soakNodes {
		for to := range soakNodes {
			if from == to {
				continue
			}
			want[from][to] = messages / pairs
			if k < messages%pairs {
				want[from][to]++
			}
			k++
		}
	}

	start := time.Now()
	var got [soakNodes][soakNodes]int // by receiver, then sender
	var wg sync.WaitGroup
	errs := make(chan error, 2*soakNodes)
	for to := range soakNodes {
		total := 0
		for from := range soakNodes {
			total += want[from][to]
		}
		wg.Go(func() { errs <- receiveSoak(ctx, inboxes[to], to, total, &got[to]) })
	}
	for from := range soakNodes {
		wg.Go(func() { errs <- sendSoak(ctx, nodes, from, &want[from]) })
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	sum := 0
	for from := range soakNodes {
		for to := range soakNodes {
			if got[to][from] != want[from][to] {
				t.Errorf("node %d received %d messages from node %d, want %d", to, got[to][from], from, want[from][to])
			}
			sum += got[to][from]
		}
	}
	if sum != messages {
		t.Errorf("%d messages received in total, want %d", sum, messages)
	}
	for i, mb := range inboxes {
		if mb.Dropped() != 0 || mb.Len() != 0 {
			t.Errorf("node %d: %d messages dropped and %d left over, want none", i, mb.Dropped(), mb.Len())
		}
	}
	return took
}

// sendSoak sends node from's share of the soak, one message to each peer
// in turn, as {from, seq} with seq counting from 0 per pair.
func sendSoak(ctx context.Context, nodes []*node.Node, from int, want *[soakNodes]int) error {
	var seq [soakNodes]int
	for more := true; more; {
		more = false
		for to := range soakNodes {
			if seq[to] >= want[to] {
				continue
			}
			msg := term.Tuple{int64(from), int64(seq[to])}
			if err := nodes[from].Send(ctx, "soak", nodes[to].Name(), msg); err != nil {
				return fmt.Errorf("node %d send %d to node %d: %w", from, seq[to], to, err)
			}
			seq[to]++
			more = true
		}
	}
	return nil
}

// receiveSoak receives total messages on node to's inbox and counts them
// by sender in got, checking that each sender's arrive in order.
func receiveSoak(ctx context.Context, inbox *node.Mailbox, to, total int, got *[soakNodes]int) error {
	for range total {
		msg, err := inbox.Receive(ctx)
		if err != nil {
			return fmt.Errorf("node %d: received %d of %d messages: %w", to, countAll(got[:]), total, err)
		}
		tuple, ok := msg.(term.Tuple)
		if !ok || len(tuple) != 2 {
			return fmt.Errorf("node %d received %v, want {from, seq}", to, msg)
		}
		from, _ := tuple[0].(int64)
		seq, _ := tuple[1].(int64)
		if from < 0 || from >= soakNodes {
			return fmt.Errorf("node %d received %v from an unknown sender", to, msg)
		}
		if int(seq) != got[from] {
			return fmt.Errorf("node %d received message %d from node %d, want %d next (lost or reordered)", to, seq, from, got[from])
		}
		got[from]++
	}
	return nil
}

func countAll(counts []int) int {
	total := 0
	for _, c := range counts {
		total += c
	}
	return total
}

// heapInUse returns the bytes of heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapInuse
}
