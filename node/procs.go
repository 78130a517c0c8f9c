package node

import (
	"os"
	"runtime"
)

// LimitProcs makes the Go runtime run goroutines on one OS thread at a
// time (runtime.GOMAXPROCS(1)) unless the GOMAXPROCS environment variable
// is set, which then rules as usual. It returns the setting in effect. The
// gonode command calls it first thing, in node and port mapper mode.
//
// A node's work comes in short steps on several goroutines: a reader
// takes a frame off the socket and hands the message to the goroutine
// that waits on a mailbox, a ping or a call. While a P is idle, each such
// hand-off also makes the runtime wake another thread to look for work,
// and on a small VM waking an idle core takes tens of microseconds. With
// one P the hand-off costs a queue push. On a 2-core VM this halved ping
// and echo round trips with the other core busy and left one-way
// throughput as it was (see bench/README.md). A node that streams to many
// peers at once can use more cores with GOMAXPROCS.
func LimitProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	runtime.GOMAXPROCS(1)
	return 1
}
