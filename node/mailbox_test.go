package node

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestMailboxKeepsOrderAcrossCompaction(t *testing.T) {
	mb := newMailbox("inbox", 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	next, want := 0, 0
	// Rounds of 3 puts and 2 receives leave a growing backlog, so the
	// front of the queue is compacted several times.
	for range 5000 {
		for range 3 {
			mb.put(next)
			next++
		}
		for range 2 {
			got, err := mb.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("Receive = %v, want %d", got, want)
			}
			want++
		}
	}
	if mb.Len() != next-want {
		t.Errorf("Len = %d, want %d", mb.Len(), next-want)
	}
	rest := mb.Flush()
	if len(rest) != next-want || rest[0] != want || rest[len(rest)-1] != next-1 {
		t.Errorf("Flush returned %d messages, want %d from %d to %d", len(rest), next-want, want, next-1)
	}
	if mb.Len() != 0 || mb.Flush() != nil {
		t.Error("mailbox not empty after Flush")
	}
}

func TestMailboxWakesEveryReceiver(t *testing.T) {
	mb := newMailbox("inbox", 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const receivers, perReceiver = 4, 500

	var wg sync.WaitGroup
	seen := make(chan int, receivers*perReceiver)
	errs := make(chan error, receivers)
	for range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perReceiver {
				msg, err := mb.Receive(ctx)
				if err != nil {
					errs <- err
					return
				}
				seen <- msg.(int)
			}
		}()
	}
	// Bursts, so that several puts find the ready channel full.
	for i := range receivers * perReceiver {
		mb.put(i)
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()

	close(errs)
	for err := range errs {
		t.Fatalf("Receive: %v", err)
	}
	got := make(map[int]bool)
	for range receivers * perReceiver {
		got[<-seen] = true
	}
	if len(got) != receivers*perReceiver {
		t.Errorf("received %d distinct messages, want %d", len(got), receivers*perReceiver)
	}
}
