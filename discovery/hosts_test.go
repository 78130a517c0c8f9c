package discovery

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonode/gonode/node/epmd"
)

// runStrategy runs s for c until the test ends and checks then that Run
// returns nil in time.
func runStrategy(t *testing.T, s Strategy, c Cluster) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("%s Run = %v, want nil", s.Name(), err)
			}
		case <-time.After(testTimeout):
			t.Errorf("%s Run still running %v after its context ended", s.Name(), testTimeout)
		}
	})
}

// connectedNames returns the names c was asked to connect to, each once.
func connectedNames(c *fakeCluster) []string {
	var names []string
	for _, p := range c.Connects() {
		if !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names
}

func TestParseNodeList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"a@h1,b@h2", []string{"a@h1", "b@h2"}},
		{" a@h1 , ,b@h2,", []string{"a@h1", "b@h2"}},
		{"", nil},
	} {
		if got := ParseNodeList(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ParseNodeList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewHostsRejects(t *testing.T) {
	for _, nodes := range [][]string{nil, {"nohost"}, {"a@"}, {"@h"}, {"a@b@c"}, {"a b@h"}} {
		if _, err := NewHosts(HostsConfig{Nodes: nodes}); err == nil {
			t.Errorf("NewHosts(%q) = nil error", nodes)
		}
	}
}

func TestHostsConnectsByName(t *testing.T) {
	h, err := NewHosts(HostsConfig{Nodes: []string{"a@h1", "b@h2", "c@h3", "b@h2"}, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.Nodes(), []string{"a@h1", "b@h2", "c@h3"}; !slices.Equal(got, want) {
		t.Errorf("Nodes() = %q, want %q", got, want)
	}
	c := newFakeCluster("a@h1", "c@h3")
	runStrategy(t, h, c)
	waitFor(t, "a Connect call", func() bool { return len(c.Connects()) > 0 })
	for _, p := range c.Connects() {
		if p != (Peer{Name: "b@h2", Strategy: "hosts"}) {
			t.Errorf("Connect(%+v), want only b@h2 by name", p)
		}
	}
}

func TestHostsReconnectsAfterBreak(t *testing.T) {
	h, err := NewHosts(HostsConfig{Nodes: []string{"b@h2"}, Interval: 10 * time.Millisecond, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeCluster("a@h1")
	runStrategy(t, h, c)
	waitFor(t, "the first attempt", func() bool { return len(c.Connects()) == 1 })
	c.setConnected("b@h2", true)
	time.Sleep(50 * time.Millisecond)
	c.setConnected("b@h2", false)
	// The back-off is an hour, but a broken connection is retried at once.
	waitFor(t, "an attempt after the break", func() bool { return len(c.Connects()) == 2 })
}

func TestParseHosts(t *testing.T) {
	data := `% Erlang's .hosts.erlang
'h1'.
'h2'. 'h3'.   % two on a line
  h4
db.example.com
10.0.0.7
fd00::7
h5.
# a comment
'h1'.

`
	got, err := ParseHosts("hosts", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"h1", "h2", "h3", "h4", "db.example.com", "10.0.0.7", "fd00::7", "h5"}
	if !slices.Equal(got, want) {
		t.Errorf("ParseHosts = %q, want %q", got, want)
	}
}

func TestParseHostsErrors(t *testing.T) {
	for _, tc := range []struct {
		data string
		want string
	}{
		{"'h1'.\n'h2\n", "f:2: missing closing quote"},
		{"'h1'\n", "f:1: missing '.'"},
		{"ok\nbad host\n", `f:2: invalid host name "bad host"`},
		{"'h1'. h2\n", "f:1: unexpected"},
		{"''.\n", "f:1: empty host name"},
		{"'a_b'.\n", "f:1: invalid host name"},
	} {
		_, err := ParseHosts("f", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseHosts(%q) = %v, want an error with %q", tc.data, err, tc.want)
		}
	}
}

func TestNewHostsFileReportsBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".hosts.erlang")
	if err := os.WriteFile(path, []byte("'h1'.\n'h2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewHostsFile(HostsFileConfig{Path: path, EPMDPort: 4369})
	if err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Errorf("NewHostsFile = %v, want an error naming %s:2", err, path)
	}
	_, err = NewHostsFile(HostsFileConfig{Path: filepath.Join(t.TempDir(), "missing"), EPMDPort: 4369})
	if err == nil {
		t.Error("NewHostsFile of a missing file = nil error")
	}
}

// startEPMD serves a port mapper on 127.0.0.1 and returns its port.
func startEPMD(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &epmd.Server{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(l)
	}()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return l.Addr().(*net.TCPAddr).Port
}

// registerName registers name at port with the port mapper on epmdPort
// until the test ends.
func registerName(t *testing.T, epmdPort int, name string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	reg, err := epmd.Register(ctx, "127.0.0.1:"+strconv.Itoa(epmdPort), name, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
}

func TestHostsFileAsksPortMappers(t *testing.T) {
	epmdPort := startEPMD(t)
	registerName(t, epmdPort, "a", 1111)
	registerName(t, epmdPort, "b", 2222)
	dir := t.TempDir()
	path := filepath.Join(dir, ".hosts.erlang")
	// 127.0.0.2 is loopback too, but nothing listens there on the port.
	if err := os.WriteFile(path, []byte("'127.0.0.1'.\n127.0.0.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	h, err := NewHostsFile(HostsFileConfig{Path: path, EPMDPort: epmdPort, Interval: 20 * time.Millisecond, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeCluster("a@127.0.0.1")
	runStrategy(t, h, c)
	waitFor(t, "a Connect call for b", func() bool { return len(c.Connects()) > 0 })
	for _, p := range c.Connects() {
		if p != (Peer{Name: "b@127.0.0.1", Addr: "127.0.0.1:2222", Strategy: "hosts-file"}) {
			t.Errorf("Connect(%+v), want only b@127.0.0.1 at port 2222", p)
		}
	}
	waitFor(t, "a log line about 127.0.0.2", func() bool {
		return strings.Contains(logs.String(), "cannot list the nodes on host 127.0.0.2")
	})
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(logs.String(), "cannot list the nodes on host 127.0.0.2"); n != 1 {
		t.Errorf("%d log lines about the silent host in 200ms, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "component=hosts-file") {
		t.Errorf("logs lack component=hosts-file:\n%s", logs.String())
	}

	// An edit takes effect on the next poll, and a bad edit keeps the
	// last good list.
	registerName(t, epmdPort, "c", 3333)
	if err := os.WriteFile(path, []byte("'127.0.0.1'.\n'oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a Connect call for c", func() bool { return slices.Contains(connectedNames(c), "c@127.0.0.1") })
	waitFor(t, "a log line about the bad line", func() bool { return strings.Contains(logs.String(), path+":2:") })
}
