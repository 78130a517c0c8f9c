package nodetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestMainIsolates(t *testing.T) {
	if os.Getenv(envMarker) == "" {
		t.Fatal("test runs outside the private namespace")
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback == 0 {
			t.Errorf("interface %s present, want only loopback", ifc.Name)
		}
	}
}

func TestNetnsSeparatesListeners(t *testing.T) {
	ns := NewNetns(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The outer namespace's listener is not in the inner one's socket table.
	out, err := ns.Command(ctx, "sh", "-c", "ip -o link show && cat /proc/net/tcp").CombinedOutput()
	if err != nil {
		t.Fatalf("command in namespace: %v: %s", err, out)
	}
	links := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "link/") {
			links++
		}
	}
	if links != 1 {
		t.Errorf("namespace has %d links, want loopback only:\n%s", links, out)
	}
	hexPort := fmt.Sprintf(":%04X ", port)
	if strings.Contains(string(out), hexPort) {
		t.Errorf("outer listener on port %d is visible inside the namespace:\n%s", port, out)
	}
}
