// Package rawio reads and writes TCP sockets with raw read(2) and write(2)
// calls, and can poll a socket for a few microseconds before it waits for
// data.
//
// The Go runtime keeps sockets non-blocking, so a raw call cannot wait.
// A scheduled system call costs more here than it saves. Entering one
// wakes the runtime's monitor thread when it sleeps, and the monitor
// hands the P to another thread when a call outlasts its 20 µs tick. A
// loopback write that wakes the reader often does that on a small VM.
//
// A reader that waits in the network poller sleeps, and the kernel wakes
// its thread when data arrives, often on another core. On a VM that
// wake-up of an idle core takes tens of microseconds, more than a whole
// loopback round trip otherwise. A Reader with a busy-poll budget reads
// again, yielding the processor in between, until data comes or the budget
// passes, as the BEAM's schedulers busy-wait before they sleep. It polls
// only while recent polls found data, so a quiet socket costs one budget
// now and then.
package rawio
