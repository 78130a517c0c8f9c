package epmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().String(), l.Addr().(*net.TCPAddr).Port
}

// helperSetup makes processes that the test starts from its own binary
// run RunCommand, and returns the file where detached servers write their
// PIDs. Every PID found there is ended when the test ends.
func helperSetup(t *testing.T) (exe, pidFile string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	pidFile = filepath.Join(t.TempDir(), "pids")
	t.Setenv(helperEnv, "1")
	t.Setenv(pidFileEnv, pidFile)
	t.Cleanup(func() {
		for _, pid := range readPIDs(t, pidFile) {
			endProcess(t, pid)
		}
	})
	return exe, pidFile
}

func readPIDs(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("read PID file: %v", err)
	}
	var pids []int
	for _, field := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(field)
		if err != nil {
			t.Fatalf("PID file line %q: %v", field, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// endProcess sends SIGTERM to pid and waits up to 5 s for it to exit,
// then sends SIGKILL.
func endProcess(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if !errors.Is(err, syscall.ESRCH) {
			t.Errorf("SIGTERM to pid %d: %v", pid, err)
		}
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("pid %d still running 5s after SIGTERM; sent SIGKILL", pid)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processGone reports whether pid has exited, counting a zombie that its
// new parent has not reaped yet as exited.
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	state := data[i+2]
	return state == 'Z' || state == 'X'
}

func TestEnsureRunningStartsDaemon(t *testing.T) {
	ctx := testContext(t)
	exe, pidFile := helperSetup(t)
	addr, _ := freeAddr(t)

	if err := EnsureRunning(ctx, addr, exe); err != nil {
		t.Fatalf("EnsureRunning error: %v", err)
	}
	pids := readPIDs(t, pidFile)
	if len(pids) != 1 {
		t.Fatalf("started servers = %v, want one", pids)
	}

	r, err := Register(ctx, addr, "spawned", 4242)
	if err != nil {
		t.Fatalf("Register with the started epmd error: %v", err)
	}
	defer r.Close()
	if port, err := Lookup(ctx, addr, "spawned"); err != nil || port != 4242 {
		t.Errorf("Lookup(spawned) = %d, %v, want 4242, nil", port, err)
	}

	if err := EnsureRunning(ctx, addr, exe); err != nil {
		t.Errorf("EnsureRunning with the epmd running error: %v", err)
	}
	if got := readPIDs(t, pidFile); len(got) != 1 {
		t.Errorf("servers after a second EnsureRunning = %v, want the first one only", got)
	}

	r.Close()
	endProcess(t, pids[0])
	if _, err := Names(ctx, addr); err == nil {
		t.Errorf("Names after ending pid %d succeeded, want no epmd", pids[0])
	}
}

func TestEnsureRunningConcurrentStarts(t *testing.T) {
	ctx := testContext(t)
	exe, pidFile := helperSetup(t)
	addr, _ := freeAddr(t)

	const callers = 4
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { errs[i] = EnsureRunning(ctx, addr, exe) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("EnsureRunning caller %d error: %v", i, err)
		}
	}
	if pids := readPIDs(t, pidFile); len(pids) != 1 {
		t.Errorf("started servers = %v, want exactly one", pids)
	}
}

func TestEnsureRunningAlreadyRunning(t *testing.T) {
	addr := startServer(t, &Server{})
	missing := filepath.Join(t.TempDir(), "no-such-program")
	if err := EnsureRunning(testContext(t), addr, missing); err != nil {
		t.Errorf("EnsureRunning with a server running error: %v, want nil without starting %s", err, missing)
	}
}

func TestEnsureRunningFailures(t *testing.T) {
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatalf("write script: %v", err)
	}
	addr, _ := freeAddr(t)
	tests := []struct {
		name string
		addr string
		exe  string
		want string
	}{
		{"not loopback", "192.0.2.1:4369", "/bin/true", "only on 127.0.0.1"},
		{"no port", "127.0.0.1", "/bin/true", "missing port"},
		{"bad port", "127.0.0.1:70000", "/bin/true", "invalid port"},
		{"missing program", addr, filepath.Join(dir, "missing"), "no such file"},
		{"program fails", addr, "/bin/false", "exit status 1"},
		{"program exits without serving", addr, "/bin/true", "no epmd replies"},
		{"program hangs", addr, hang, "did not exit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := EnsureRunning(testContext(t), tt.addr, tt.exe)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("EnsureRunning(%s, %s) error = %v, want one containing %q", tt.addr, tt.exe, err, tt.want)
			}
			if elapsed := time.Since(start); elapsed > StartTimeout+time.Second {
				t.Errorf("EnsureRunning took %v, want at most about StartTimeout (%v)", elapsed, StartTimeout)
			}
		})
	}
}

func TestEnsureRunningCanceled(t *testing.T) {
	addr, _ := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := EnsureRunning(ctx, addr, "/bin/true"); !errors.Is(err, context.Canceled) {
		t.Errorf("EnsureRunning with a canceled context error = %v, want context.Canceled", err)
	}
}

func TestPortFromEnv(t *testing.T) {
	tests := []struct {
		value   string
		want    int
		wantErr bool
	}{
		{"", DefaultPort, false},
		{"14369", 14369, false},
		{"1", 1, false},
		{"65535", 65535, false},
		{"0", DefaultPort, true},
		{"65536", DefaultPort, true},
		{"-5", DefaultPort, true},
		{"epmd", DefaultPort, true},
	}
	for _, tt := range tests {
		t.Setenv(PortEnv, tt.value)
		got, err := PortFromEnv()
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("PortFromEnv with %s=%q = %d, %v, want %d, error %v", PortEnv, tt.value, got, err, tt.want, tt.wantErr)
		}
	}
}
