package epmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// DefaultPort is the TCP port Erlang's epmd listens on.
const DefaultPort = 4369

// PortEnv names the environment variable that overrides DefaultPort.
const PortEnv = "GONODE_EPMD_PORT"

// Timing of EnsureRunning.
const (
	// StartTimeout bounds the wait for a started epmd to reply.
	StartTimeout = 2 * time.Second
	// probeTimeout bounds one NAMES_REQ that checks for a running epmd.
	// It matters only when something accepts connections but does not
	// reply, because a loopback epmd replies within milliseconds.
	probeTimeout = 500 * time.Millisecond
	probeEvery   = 20 * time.Millisecond
)

// PortFromEnv returns the port in GONODE_EPMD_PORT, or DefaultPort when
// the variable is unset or empty. A value that is not a port from 1 to
// 65535 is an error, returned with DefaultPort.
func PortFromEnv() (int, error) {
	v := os.Getenv(PortEnv)
	if v == "" {
		return DefaultPort, nil
	}
	port, err := strconv.Atoi(v)
	if err != nil || port < 1 || port > 65535 {
		return DefaultPort, fmt.Errorf("invalid %s %q: want a port from 1 to 65535", PortEnv, v)
	}
	return port, nil
}

// EnsureRunning checks that an epmd replies at addr, which must be on
// 127.0.0.1 or localhost because only this host's epmd can be started.
// When none replies, it starts `exe epmd -daemon -port N` in its own
// session with stdio on /dev/null, then waits up to StartTimeout until one
// replies. An empty exe means os.Executable().
//
// When two processes call EnsureRunning at once and both start a daemon,
// one binds the port and the other exits 0, so both calls succeed.
func EnsureRunning(ctx context.Context, addr string, exe string) error {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("epmd: ensure running at %s: %w", addr, err)
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("epmd: ensure running at %s: an epmd can be started only on 127.0.0.1 or localhost", addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("epmd: ensure running at %s: invalid port %q", addr, portText)
	}
	if probe(ctx, addr) == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("epmd: ensure running at %s: %w", addr, err)
	}
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("epmd: start for %s: find own executable: %w", addr, err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := startDaemon(ctx, exe, port); err != nil {
		return fmt.Errorf("epmd: start %s epmd -daemon for %s: %w", exe, addr, err)
	}
	if err := waitReply(ctx, addr); err != nil {
		return fmt.Errorf("epmd: started %s epmd -daemon, but no epmd replies at %s: %w", exe, addr, err)
	}
	return nil
}

// startDaemon runs `exe epmd -daemon -port N` and waits for it to exit,
// which it does once its detached server owns the socket, or at once if
// the port is taken. The process is killed when ctx ends first.
func startDaemon(ctx context.Context, exe string, port int) error {
	cmd := exec.Command(exe, "epmd", "-daemon", "-port", strconv.Itoa(port))
	// Nil Stdin, Stdout and Stderr connect to /dev/null, and a new session
	// leaves the caller's terminal and process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-ctx.Done():
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("pid %d did not exit: %w", cmd.Process.Pid, ctx.Err())
	}
}

// waitReply probes addr until an epmd replies or ctx ends.
func waitReply(ctx context.Context, addr string) error {
	ticker := time.NewTicker(probeEvery)
	defer ticker.Stop()
	for {
		err := probe(ctx, addr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

// probe sends NAMES_REQ to addr, so that it succeeds only when an epmd
// serves the port, not merely when a socket accepts connections.
func probe(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := Names(ctx, addr)
	return err
}

// isLoopbackHost reports whether host names 127.0.0.1, the only address
// a started epmd listens on.
func isLoopbackHost(host string) bool {
	switch host {
	case "", "localhost", "127.0.0.1":
		return true
	}
	return false
}
