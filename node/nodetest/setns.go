package nodetest

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs f on an operating system thread that has joined the namespace,
// and returns f's error. Sockets that f opens belong to the namespace and
// stay there, so the caller may serve them from any goroutine afterwards.
// Do blocks until f returns. The thread goes back to its own namespace
// before other goroutines may run on it.
func (ns *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open the thread's own namespace: %w", err)
			return
		}
		defer unix.Close(own)
		target, err := unix.Open(ns.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open namespace %s: %w", ns.Path(), err)
			return
		}
		err = unix.Setns(target, unix.CLONE_NEWNET)
		unix.Close(target)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("join namespace %s: %w", ns.Path(), err)
			return
		}
		ferr := f()
		// A thread that cannot go back stays locked, so the runtime
		// retires it when this goroutine ends and no other goroutine
		// runs in the namespace by accident.
		if err := unix.Setns(own, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}
