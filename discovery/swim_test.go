package discovery

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustSWIM(t *testing.T, cfg SWIMConfig) *SWIM {
	t.Helper()
	cfg.BindAddr = "127.0.0.1"
	cfg.MinBackoff = 10 * time.Millisecond
	cfg.MaxBackoff = 10 * time.Millisecond
	if cfg.RejoinInterval == 0 {
		// A node may start before its seed listens.
		cfg.RejoinInterval = 200 * time.Millisecond
	}
	s, err := NewSWIM(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSWIMRejects(t *testing.T) {
	for _, cfg := range []SWIMConfig{
		{TransportPort: 0},
		{TransportPort: 1, Port: 70000},
		{TransportPort: 1, Join: []string{"h:notaport"}},
		{TransportPort: 1, Join: []string{":7946"}},
		{TransportPort: 1, RejoinInterval: -time.Second},
	} {
		if _, err := NewSWIM(cfg); err == nil {
			t.Errorf("NewSWIM(%+v) = nil error", cfg)
		}
	}
}

func TestSeedAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.1", "10.0.0.1:7946"},
		{"10.0.0.1:8000", "10.0.0.1:8000"},
		{"seed.test", "seed.test:7946"},
		{"fd00::1", "[fd00::1]:7946"},
	} {
		got, err := seedAddr(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("seedAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSWIMMembersConnect(t *testing.T) {
	ports := []int{testPort(), testPort(), testPort()}
	seed := "127.0.0.1:" + strconv.Itoa(ports[0])
	var clusters []*fakeCluster
	var logs logBuffer
	for i, port := range ports {
		name := "n" + strconv.Itoa(i) + "@127.0.0.1"
		c := newFakeCluster(name)
		clusters = append(clusters, c)
		s := mustSWIM(t, SWIMConfig{NodeName: name, TransportPort: 5000 + i, Port: port, Join: []string{seed}, Secret: []byte("s3cret"), Logger: logs.logger()})
		runStrategy(t, s, c)
	}
	for i, c := range clusters {
		var want []string
		for j := range clusters {
			if j != i {
				want = append(want, "n"+strconv.Itoa(j)+"@127.0.0.1")
			}
		}
		waitFor(t, "Connect calls on n"+strconv.Itoa(i), func() bool { return slices.Equal(connectedNames(c), want) })
		for _, p := range c.Connects() {
			j := strings.TrimSuffix(strings.TrimPrefix(p.Name, "n"), "@127.0.0.1")
			if want := "127.0.0.1:500" + j; p.Addr != want || p.Strategy != "swim" {
				t.Errorf("n%d: Connect(%+v), want Addr %s and strategy swim", i, p, want)
			}
		}
	}
	if !strings.Contains(logs.String(), "component=swim") {
		t.Errorf("logs lack component=swim:\n%s", logs.String())
	}
}

func TestSWIMSecretMismatch(t *testing.T) {
	seedPort, otherPort := testPort(), testPort()
	a := newFakeCluster("a@127.0.0.1")
	var logsA, logsB logBuffer
	runStrategy(t, mustSWIM(t, SWIMConfig{NodeName: "a@127.0.0.1", TransportPort: 5000, Port: seedPort, Secret: []byte("one"), Logger: logsA.logger()}), a)
	// b joins once the seed listens, so that its first, logged, failure
	// is the secret and not a refused connection.
	waitFor(t, "the seed to start", func() bool { return strings.Contains(logsA.String(), "swim started") })
	b := newFakeCluster("b@127.0.0.1")
	seed := "127.0.0.1:" + strconv.Itoa(seedPort)
	runStrategy(t, mustSWIM(t, SWIMConfig{NodeName: "b@127.0.0.1", TransportPort: 5001, Port: otherPort, Join: []string{seed}, Secret: []byte("two"), RejoinInterval: 100 * time.Millisecond, Logger: logsB.logger()}), b)
	time.Sleep(time.Second)
	if got := a.Connects(); len(got) != 0 {
		t.Errorf("a was asked to connect to %v, which has another secret", got)
	}
	if got := b.Connects(); len(got) != 0 {
		t.Errorf("b was asked to connect to %v, which has another secret", got)
	}

	// The seed fails to decrypt b's join, and b's join fails.
	waitFor(t, "a warning on the seed", func() bool { return strings.Contains(logsA.String(), "level=WARN") })
	waitFor(t, "a warning on the joining node", func() bool { return strings.Contains(logsB.String(), "cannot join any seed") })
	for side, out := range map[string]string{"seed": logsA.String(), "joining node": logsB.String()} {
		warnings := warningLines(out)
		if !strings.Contains(warnings, "the gossip secrets differ") {
			t.Errorf("%s warnings do not say the gossip secrets differ:\n%s", side, warnings)
		}
		if strings.Contains(warnings, `\n`) {
			t.Errorf("%s warnings contain an escaped newline:\n%s", side, warnings)
		}
		if strings.Contains(warnings, "repeats=0") {
			t.Errorf("%s warnings have repeats=0, want it left out:\n%s", side, warnings)
		}
	}
}

// warningLines returns the lines of out with level=WARN.
func warningLines(out string) string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=WARN") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

func TestMemberlistErrorOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1 error occurred:\n\t* failed to join 10.0.0.1:7946: dial tcp 10.0.0.1:7946: connect: connection refused\n\n",
			"dial tcp 10.0.0.1:7946: connect: connection refused"},
		{"2 errors occurred:\n\t* failed to join 10.0.0.1:7946: dial tcp 10.0.0.1:7946: i/o timeout\n\t* failed to join 10.0.0.2:7946: EOF\n\n",
			"dial tcp 10.0.0.1:7946: i/o timeout; failed to join 10.0.0.2:7946: EOF"},
		{"Failed to send ping: write: broken pipe", "Failed to send ping: write: broken pipe"},
	}
	for _, tt := range tests {
		if got := memberlistError(tt.in); got != tt.want {
			t.Errorf("memberlistError(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMemberlistLogLimitsWarnings(t *testing.T) {
	var logs logBuffer
	l := newMemberlistLog(logs.logger())
	for range 20 {
		l.Write([]byte("[WARN] memberlist: Failed to send ping\n"))
	}
	l.Write([]byte("[DEBUG] memberlist: Stream connection\n"))
	out := logs.String()
	if got := strings.Count(out, "level=WARN"); got != 1 {
		t.Errorf("%d warning records for 20 memberlist warnings, want 1:\n%s", got, out)
	}
	if got := strings.Count(out, "level=DEBUG"); got != 20 {
		t.Errorf("%d debug records, want 20 (19 held-back warnings and 1 debug line):\n%s", got, out)
	}
}
