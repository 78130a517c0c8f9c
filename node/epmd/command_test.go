package epmd

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runCommand runs RunCommand and returns its status, stdout and stderr.
func runCommand(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := RunCommand(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("split %q: %v", addr, err)
	}
	return port
}

func TestCommandNames(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{})
	port := portOf(t, addr)
	r, err := Register(ctx, addr, "b", 40123)
	if err != nil {
		t.Fatalf("Register error: %v", err)
	}
	defer r.Close()

	code, stdout, stderr := runCommand("--names", "--port", port)
	want := "epmd: up and running on port " + port + " with data:\nname b at port 40123\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("epmd --names = %d, %q, %q, want 0, %q, \"\"", code, stdout, stderr, want)
	}
}

func TestCommandNamesNothingRunning(t *testing.T) {
	_, port := freeAddr(t)
	code, stdout, stderr := runCommand("-names", "-port", strconv.Itoa(port))
	want := "epmd: Cannot connect to local epmd\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("epmd -names = %d, %q, %q, want 1, \"\", %q", code, stdout, stderr, want)
	}
}

func TestCommandKill(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{})
	port := portOf(t, addr)
	r, err := Register(ctx, addr, "alive", 1000)
	if err != nil {
		t.Fatalf("Register error: %v", err)
	}

	code, _, stderr := runCommand("-kill", "-port", port)
	want := "Killing not allowed - living nodes in database.\n"
	if code != 1 || stderr != want {
		t.Errorf("epmd -kill with a node = %d, stderr %q, want 1, %q", code, stderr, want)
	}
	r.Close()
	waitFor(t, "alive to be unregistered", isNotFound(ctx, addr, "alive"))

	code, stdout, _ := runCommand("-kill", "-port", port)
	if code != 0 || stdout != "Killed\n" {
		t.Errorf("epmd -kill with no node = %d, %q, want 0, \"Killed\\n\"", code, stdout)
	}
	_, port2 := freeAddr(t)
	code, _, stderr = runCommand("-kill", "-port", strconv.Itoa(port2))
	if code != 1 || stderr != "epmd: Cannot connect to local epmd\n" {
		t.Errorf("epmd -kill with nothing running = %d, %q, want 1 and the connect message", code, stderr)
	}
}

func TestCommandServesUntilKilled(t *testing.T) {
	ctx := testContext(t)
	addr, port := freeAddr(t)
	portText := strconv.Itoa(port)
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := runCommand("-port", portText)
		done <- result{code, stdout, stderr}
	}()
	waitFor(t, "epmd -port to reply", func() bool {
		_, err := Names(ctx, addr)
		return err == nil
	})

	r, err := Register(ctx, addr, "fg", 1234)
	if err != nil {
		t.Fatalf("Register error: %v", err)
	}
	if got, err := Lookup(ctx, addr, "fg"); err != nil || got != 1234 {
		t.Errorf("Lookup(fg) = %d, %v, want 1234, nil", got, err)
	}
	r.Close()
	waitFor(t, "fg to be unregistered", isNotFound(ctx, addr, "fg"))
	if code, _, stderr := runCommand("-kill", "-port", portText); code != 0 {
		t.Fatalf("epmd -kill = %d, %q, want 0", code, stderr)
	}

	select {
	case res := <-done:
		if res.code != 0 {
			t.Errorf("epmd -port exit = %d, stderr %q, want 0", res.code, res.stderr)
		}
		for _, want := range []string{"epmd listening", "registered node", "unregistered node", "stopping on KILL_REQ"} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("epmd log lacks %q:\n%s", want, res.stderr)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("epmd -port did not exit 5s after -kill")
	}
}

func TestCommandPortInUse(t *testing.T) {
	addr := startServer(t, &Server{})
	port := portOf(t, addr)

	code, stdout, stderr := runCommand("-port", port)
	if code != 1 || !strings.Contains(stderr, "cannot listen on :"+port) {
		t.Errorf("epmd -port busy = %d, %q, %q, want 1 and a listen error", code, stdout, stderr)
	}
	code, stdout, stderr = runCommand("-daemon", "-port", port)
	if code != 0 || stdout != "" || stderr != "" {
		t.Errorf("epmd -daemon busy = %d, %q, %q, want 0 and no output", code, stdout, stderr)
	}
}

func TestCommandArguments(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want int
	}{
		{"unknown flag", "", []string{"-bogus"}, 2},
		{"extra argument", "", []string{"-names", "now"}, 2},
		{"port 0", "", []string{"-port", "0"}, 2},
		{"port too large", "", []string{"-port", "65536"}, 2},
		{"port not a number", "", []string{"-port", "x"}, 2},
		{"invalid env port", "nope", []string{"-names"}, 2},
		{"help", "", []string{"-h"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(PortEnv, tt.env)
			code, _, stderr := runCommand(tt.args...)
			if code != tt.want {
				t.Errorf("epmd %q = %d, want %d (stderr %q)", tt.args, code, tt.want, stderr)
			}
			if stderr == "" {
				t.Errorf("epmd %q printed nothing on stderr, want a message or usage", tt.args)
			}
		})
	}
}

func TestCommandPortFlagOverridesEnv(t *testing.T) {
	addr := startServer(t, &Server{})
	t.Setenv(PortEnv, "nope")
	code, _, stderr := runCommand("-names", "-port", portOf(t, addr))
	if code != 0 {
		t.Errorf("epmd -names -port with an invalid %s = %d, %q, want 0", PortEnv, code, stderr)
	}
}

func TestCommandPortFromEnv(t *testing.T) {
	addr := startServer(t, &Server{})
	t.Setenv(PortEnv, portOf(t, addr))
	code, stdout, _ := runCommand("-names")
	if code != 0 || !strings.HasPrefix(stdout, "epmd: up and running on port "+portOf(t, addr)) {
		t.Errorf("epmd -names with %s = %d, %q, want 0 and that port", PortEnv, code, stdout)
	}
}
