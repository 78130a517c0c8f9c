// Package nodetest runs a package's tests inside a private network
// namespace, so that nothing a test listens on or multicasts can reach any
// network but the namespace's own loopback.
//
// A package whose tests open sockets calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { nodetest.Main(m) }
//
// Main re-executes the test binary under unshare(1) with a fresh network
// namespace (and a user namespace when not run as root), brings loopback up
// with multicast routed over it, and runs the tests there. NewNetns makes
// further namespaces inside that one, for tests that want a clean network
// of their own.
package nodetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envMarker is set in the environment of a test binary that Main has
// already moved into a private network namespace.
const envMarker = "GONODE_TEST_NETNS"

// loopbackSetup brings up loopback in a new namespace and routes IPv4
// multicast over it, as the gossip tests need.
const loopbackSetup = `ip link set lo up &&
ip link set lo multicast on &&
ip route add 224.0.0.0/4 dev lo src 127.0.0.1`

// Main runs the tests of m inside a private network namespace and exits
// with their status. When the namespace cannot be made (no unshare(1), no
// ip(8), no permission), Main prints why and exits with status 1: the
// tests are never run on the machine's own network.
func Main(m *testing.M) {
	if Inside() {
		os.Exit(m.Run())
	}
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	script := loopbackSetup + ` && exec "$0" "$@"`
	args = append(args, "--", "/bin/sh", "-c", script)
	args = append(args, os.Args...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdin = os.Stdin
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), envMarker+"=1")
	becomeSubreaper()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "nodetest: cannot run the tests in a private network namespace: %v\n", err)
		fmt.Fprintln(os.Stderr, "nodetest: the tests need unshare(1) from util-linux and ip(8) from iproute2")
		os.Exit(1)
	}
	err := cmd.Wait()
	endOrphans()
	if err != nil {
		if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() >= 0 {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintf(os.Stderr, "nodetest: test binary in the private namespace: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// prSetChildSubreaper is prctl(2)'s PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

// becomeSubreaper makes orphaned descendants of this process, such as a
// port mapper daemon that a node started, its children, so that endOrphans
// can end them.
func becomeSubreaper() {
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}

// endOrphans kills, by PID, every child left once the tests have
// finished: processes a test left behind when its binary panicked and
// skipped its cleanups, and daemons that the processes it started left.
func endOrphans() {
	self := os.Getpid()
	for range 10 {
		pids := childrenOf(self)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
			var status syscall.WaitStatus
			syscall.Wait4(pid, &status, 0, nil)
		}
	}
}

// childrenOf returns the processes whose parent is ppid.
func childrenOf(ppid int) []int {
	parent := strconv.Itoa(ppid)
	return processes(func(dir string) bool {
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			return false
		}
		// The command name in brackets may hold spaces: fields start
		// after its closing bracket, with the state and then the parent.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			return false
		}
		fields := strings.Fields(string(stat[i+1:]))
		return len(fields) >= 2 && fields[1] == parent
	})
}

// processes returns the PIDs whose /proc directory match accepts.
func processes(match func(dir string) bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && match(filepath.Join("/proc", e.Name())) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Inside reports whether the process runs in a namespace that Main made.
// A TestMain that needs set-up inside the namespace calls Main when Inside
// is false (Main does not return) and does its set-up when it is true.
func Inside() bool { return os.Getenv(envMarker) != "" }

// Netns is a network namespace made for one test, kept alive by a holder
// process. Commands made by Command run inside it.
type Netns struct {
	holder *exec.Cmd
}

// NewNetns makes a network namespace with loopback up and multicast routed
// over it. When t ends, every process still in the namespace (those the
// test started and any they left behind, such as a port mapper daemon) is
// killed by PID, and the namespace goes away with its holder. It must be called from a test binary
// that Main has started, where the test runs as root of its namespace.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	ready := `echo ready && exec sleep 3600`
	holder := exec.Command("unshare", "--net", "--", "/bin/sh", "-c", loopbackSetup+" && "+ready)
	var stderr bytes.Buffer
	holder.Stderr = &stderr
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatalf("nodetest: pipe for namespace holder: %v", err)
	}
	if err := holder.Start(); err != nil {
		t.Fatalf("nodetest: start namespace holder: %v", err)
	}
	ns := &Netns{holder: holder}
	t.Cleanup(ns.close)

	line := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		n, _ := stdout.Read(buf)
		line <- string(buf[:n])
	}()
	select {
	case got := <-line:
		if strings.TrimSpace(got) != "ready" {
			t.Fatalf("nodetest: namespace setup failed: %s", strings.TrimSpace(stderr.String()))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nodetest: namespace setup timed out after 10s: %s", stderr.String())
	}
	return ns
}

// Path returns the namespace's file under /proc, as nsenter(1) takes it.
func (ns *Netns) Path() string {
	return fmt.Sprintf("/proc/%d/ns/net", ns.holder.Process.Pid)
}

// Command returns a command that runs name with args inside the namespace.
// The caller starts it and ends it; ctx kills it when done.
func (ns *Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	full := append([]string{"--net=" + ns.Path(), "--", name}, args...)
	return exec.CommandContext(ctx, "nsenter", full...)
}

func (ns *Netns) close() {
	if ns.holder.Process == nil {
		return
	}
	holderPid := ns.holder.Process.Pid
	want, err := os.Readlink(ns.Path())
	if err == nil {
		for _, pid := range pidsInNetns(want) {
			if pid != holderPid {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	ns.holder.Process.Kill()
	ns.holder.Wait()
}

// pidsInNetns returns the processes whose network namespace link reads
// link, as /proc/PID/ns/net shows it ("net:[4026532]").
func pidsInNetns(link string) []int {
	return processes(func(dir string) bool {
		got, err := os.Readlink(filepath.Join(dir, "ns", "net"))
		return err == nil && got == link
	})
}
