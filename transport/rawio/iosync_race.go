//go:build race

package rawio

import "sync/atomic"

// ioSync gives the race detector the ordering that data written to a
// socket and read from it makes. syscall.Write and syscall.Read report
// it to the detector, but raw system calls do not. Without it, two
// goroutines of one process that talk over a socket would look
// unsynchronized.
var ioSync atomic.Uint64

func ioRelease() { ioSync.Add(1) }

func ioAcquire() { ioSync.Load() }
