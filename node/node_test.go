package node_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/epmd"
	"github.com/gonode/gonode/node/nodetest"
	"github.com/gonode/gonode/node/term"
	"github.com/gonode/gonode/transport"
)

// TestMain runs the package's tests, examples included, in a private
// network namespace, because they listen on loopback and run a port
// mapper. In there, it fails the run when a goroutine outlives the tests,
// which every Node.Close should prevent.
func TestMain(m *testing.M) {
	if !nodetest.Inside() {
		nodetest.Main(m) // runs this binary again in the namespace, and exits
	}
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait in one test.
const testTimeout = 10 * time.Second

// startEPMD starts a port mapper on 127.0.0.1:0 and returns its address.
// It also sets GONODE_EPMD_PORT to its port, because a node that connects
// by name looks the peer up at that port.
func startEPMD(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the port mapper: %v", err)
	}
	srv := &epmd.Server{}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case <-served:
		case <-time.After(testTimeout):
			t.Errorf("port mapper Serve did not return %v after Close", testTimeout)
		}
	})
	port := l.Addr().(*net.TCPAddr).Port
	t.Setenv(epmd.PortEnv, strconv.Itoa(port))
	return l.Addr().String()
}

// fullName returns local@ this machine's short host name, a name that
// resolves to 127.0.0.1 for the nodes of this process.
func fullName(t *testing.T, local string) string {
	t.Helper()
	_, short := hostNames(t)
	return local + "@" + short
}

// startNode starts a node named local@host on 127.0.0.1 that registers
// with the port mapper at epmdAddr, and closes it when the test ends.
func startNode(t *testing.T, local, cookie, epmdAddr string) *node.Node {
	t.Helper()
	return startConfig(t, node.Config{
		Name:       fullName(t, local),
		Cookie:     node.NewCookie(cookie),
		ListenAddr: "127.0.0.1:0",
		EPMDAddr:   epmdAddr,
	})
}

// startConfig starts a node with cfg and closes it when the test ends.
func startConfig(t *testing.T, cfg node.Config) *node.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start node %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond every few milliseconds until it holds or timeout
// passes, and reports whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitEvent returns the first event on ch of kind about peer, skipping
// others, or fails the test after timeout.
func waitEvent(t *testing.T, ch <-chan node.Event, kind node.EventKind, peer string, timeout time.Duration) node.Event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed while waiting for %v of %s", kind, peer)
			}
			if ev.Kind == kind && ev.Node == peer {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %v of %s within %v", kind, peer, timeout)
		}
	}
}

// connectPair connects a to b and waits until both list each other.
func connectPair(t *testing.T, ctx context.Context, a, b *node.Node) {
	t.Helper()
	if err := a.ConnectError(ctx, b.Name()); err != nil {
		t.Fatalf("%s connect to %s: %v", a.Name(), b.Name(), err)
	}
	if !waitFor(testTimeout, func() bool { return b.Connected(a.Name()) }) {
		t.Fatalf("%s does not list %s %v after %s connected", b.Name(), a.Name(), testTimeout, a.Name())
	}
}

func TestConnectPingSend(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)

	if got := a.EPMDAddr(); got != epmdAddr {
		t.Errorf("a.EPMDAddr() = %q, want %q", got, epmdAddr)
	}
	port, err := epmd.Lookup(ctx, epmdAddr, "a")
	if err != nil {
		t.Fatalf("look up a at the port mapper: %v", err)
	}
	if port != a.Port() {
		t.Errorf("port mapper has a at port %d, want %d", port, a.Port())
	}

	if !a.Connect(ctx, b.Name()) {
		t.Fatalf("a.Connect(%s) = false, want true", b.Name())
	}
	if got, want := a.List(), []string{b.Name()}; !slices.Equal(got, want) {
		t.Errorf("a.List() = %v, want %v", got, want)
	}
	if !waitFor(testTimeout, func() bool { return slices.Equal(b.List(), []string{a.Name()}) }) {
		t.Errorf("b.List() = %v, want [%s]", b.List(), a.Name())
	}
	if !a.Connect(ctx, b.Name()) {
		t.Errorf("second a.Connect(%s) = false, want true", b.Name())
	}

	rtt, err := a.Ping(ctx, b.Name())
	if err != nil {
		t.Errorf("a.Ping(%s) failed: %v", b.Name(), err)
	}
	if rtt <= 0 || rtt > testTimeout {
		t.Errorf("a.Ping(%s) round trip = %v, want more than 0 and at most %v", b.Name(), rtt, testTimeout)
	}
	if _, err := b.Ping(ctx, a.Name()); err != nil {
		t.Errorf("b.Ping(%s) failed: %v", a.Name(), err)
	}

	inboxA := a.Register("inbox")
	inboxB := b.Register("inbox")
	if b.Register("inbox") != inboxB {
		t.Error("a second Register of the same name returned another mailbox")
	}
	msg := term.Tuple{term.Atom("hi"), "from a", int64(7), term.List{1.5, true, nil}}
	if err := a.Send(ctx, "inbox", b.Name(), msg); err != nil {
		t.Fatalf("a.Send to {inbox, %s}: %v", b.Name(), err)
	}
	got, err := inboxB.Receive(ctx)
	if err != nil {
		t.Fatalf("receive on b: %v", err)
	}
	if !term.Equal(got, msg) {
		t.Errorf("b received %s, want %s", term.Inspect(got), term.Inspect(msg))
	}

	if err := b.Send(ctx, "inbox", a.Name(), term.Atom("pong")); err != nil {
		t.Fatalf("b.Send to {inbox, %s}: %v", a.Name(), err)
	}
	got, err = inboxA.Receive(ctx)
	if err != nil {
		t.Fatalf("receive on a: %v", err)
	}
	if !term.Equal(got, term.Atom("pong")) {
		t.Errorf("a received %s, want :pong", term.Inspect(got))
	}
	if got, want := len(a.List())+len(b.List()), 2; got != want {
		t.Errorf("after traffic both ways the nodes list %d peers in all, want %d (one connection)", got, want)
	}
}

// Nodes with polling off and on exchange messages alike: the readers
// then wait in the network poller from the first empty read.
func TestBusyPollOffAndOn(t *testing.T) {
	epmdAddr := startEPMD(t)
	cfg := func(local string, poll time.Duration) node.Config {
		return node.Config{Name: fullName(t, local), Cookie: node.NewCookie("genki"), ListenAddr: "127.0.0.1:0", EPMDAddr: epmdAddr, BusyPoll: poll}
	}
	a := startConfig(t, cfg("a", -1))
	b := startConfig(t, cfg("b", time.Millisecond))
	ctx := testContext(t)
	inbox := b.Register("inbox")
	for i := range 50 {
		if _, err := a.Ping(ctx, b.Name()); err != nil {
			t.Fatalf("ping %d from the node that does not poll: %v", i, err)
		}
		if _, err := b.Ping(ctx, a.Name()); err != nil {
			t.Fatalf("ping %d from the node that polls: %v", i, err)
		}
		if err := a.Send(ctx, "inbox", b.Name(), int64(i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		got, err := inbox.Receive(ctx)
		if err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if got != int64(i) {
			t.Fatalf("message %d arrived as %s", i, term.Inspect(got))
		}
		// A pause longer than the budget makes the next read wait.
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSendToSelf(t *testing.T) {
	a := startNode(t, "a", "genki", startEPMD(t))
	ctx := testContext(t)
	inbox := a.Register("inbox")
	if err := a.Send(ctx, "inbox", a.Name(), "local"); err != nil {
		t.Fatalf("send to self: %v", err)
	}
	got, err := inbox.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if got != "local" {
		t.Errorf("received %s, want \"local\"", term.Inspect(got))
	}
	if err := a.Send(ctx, "nobody", a.Name(), "dropped"); !errors.Is(err, node.ErrNotRegistered) {
		t.Errorf("send to an unregistered local name = %v, want ErrNotRegistered", err)
	}
}

func TestConnectSelf(t *testing.T) {
	a := startNode(t, "a", "genki", startEPMD(t))
	ctx := testContext(t)
	if !a.Connect(ctx, a.Name()) {
		t.Error("a.Connect(self) = false, want true")
	}
	if !a.Connected(a.Name()) {
		t.Error("a.Connected(self) = false, want true")
	}
	if _, err := a.Ping(ctx, a.Name()); err != nil {
		t.Errorf("a.Ping(self) failed: %v", err)
	}
	if got := a.List(); len(got) != 0 {
		t.Errorf("a.List() = %v, want none: a node does not list itself", got)
	}
}

func TestPingUnknownName(t *testing.T) {
	a := startNode(t, "a", "genki", startEPMD(t))
	ctx := testContext(t)
	long := startConfig(t, node.Config{Name: "l@127.0.0.1", Cookie: node.NewCookie("genki"), ListenAddr: "127.0.0.1:0", EPMDAddr: startEPMD(t)})
	for _, tc := range []struct {
		from *node.Node
		name string
	}{{a, fullName(t, "nobody")}, {long, "nobody@127.0.0.1"}} {
		name := tc.name
		start := time.Now()
		_, err := tc.from.Ping(ctx, name)
		elapsed := time.Since(start)
		if err == nil {
			t.Errorf("%s.Ping(%s) succeeded, want an error", tc.from.Name(), name)
			continue
		}
		if !strings.Contains(err.Error(), "no node named nobody") {
			t.Errorf("%s.Ping(%s) error = %q, want it to say no node named nobody is registered", tc.from.Name(), name, err)
		}
		if elapsed > time.Second {
			t.Errorf("a.Ping(%s) took %v to fail, want under 1s", name, elapsed)
		}
		if a.Connect(ctx, name) {
			t.Errorf("a.Connect(%s) = true, want false", name)
		}
	}
	if _, err := a.Ping(ctx, "not a name"); !errors.Is(err, node.ErrInvalidName) {
		t.Errorf("a.Ping of an invalid name = %v, want an error wrapping ErrInvalidName", err)
	}
	if got := a.List(); len(got) != 0 {
		t.Errorf("a.List() = %v after failed pings, want none", got)
	}
}

func TestSendInOrder(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)
	inbox := b.Register("inbox")

	// The first Send connects by name through the port mapper.
	const count = 2000
	for i := range count {
		if err := a.Send(ctx, "inbox", b.Name(), term.Tuple{term.Atom("n"), int64(i)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for i := range count {
		got, err := inbox.Receive(ctx)
		if err != nil {
			t.Fatalf("receive %d of %d: %v", i, count, err)
		}
		want := term.Tuple{term.Atom("n"), int64(i)}
		if !term.Equal(got, want) {
			t.Fatalf("message %d = %s, want %s", i, term.Inspect(got), term.Inspect(want))
		}
	}
	if got := inbox.Len(); got != 0 {
		t.Errorf("inbox has %d more messages, want 0", got)
	}
}

func TestSendToUnregisteredNameDropped(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)
	inbox := b.Register("inbox")
	if err := a.Send(ctx, "nobody", b.Name(), "lost"); err != nil {
		t.Errorf("send to an unregistered remote name = %v, want nil", err)
	}
	// The connection delivers in order, so the second message arriving
	// shows that the first was dropped, not queued somewhere.
	if err := a.Send(ctx, "inbox", b.Name(), "kept"); err != nil {
		t.Fatalf("send: %v", err)
	}
	got, err := inbox.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if got != "kept" {
		t.Errorf("received %s, want \"kept\"", term.Inspect(got))
	}
}

func TestDisconnect(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)
	connectPair(t, ctx, a, b)

	watchA := a.Watch()
	watchB := b.Watch()
	if !a.Disconnect(b.Name()) {
		t.Fatalf("a.Disconnect(%s) = false, want true", b.Name())
	}
	evB := waitEvent(t, watchB, node.NodeDown, a.Name(), time.Second)
	if evB.Reason != "disconnect" {
		t.Errorf("b saw nodedown of a with reason %q, want \"disconnect\"", evB.Reason)
	}
	evA := waitEvent(t, watchA, node.NodeDown, b.Name(), time.Second)
	if evA.Reason != "disconnect" {
		t.Errorf("a saw nodedown of b with reason %q, want \"disconnect\"", evA.Reason)
	}
	if got := a.List(); len(got) != 0 {
		t.Errorf("a.List() = %v after Disconnect, want none", got)
	}
	if !waitFor(time.Second, func() bool { return len(b.List()) == 0 }) {
		t.Errorf("b.List() = %v after a disconnected, want none", b.List())
	}
	if a.Disconnect(b.Name()) {
		t.Errorf("second a.Disconnect(%s) = true, want false", b.Name())
	}

	// Connecting again works and is seen as a new nodeup.
	if !a.Connect(ctx, b.Name()) {
		t.Fatalf("a.Connect(%s) after Disconnect = false, want true", b.Name())
	}
	waitEvent(t, watchB, node.NodeUp, a.Name(), time.Second)
}

func TestWrongCookie(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "other", epmdAddr)
	ctx := testContext(t)

	for _, pair := range [][2]*node.Node{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		err := from.ConnectError(ctx, to.Name())
		if !errors.Is(err, transport.ErrBadCookie) {
			t.Errorf("%s connect to %s with another cookie = %v, want an error wrapping transport.ErrBadCookie", from.Name(), to.Name(), err)
		}
		if from.Connect(ctx, to.Name()) {
			t.Errorf("%s.Connect(%s) with another cookie = true, want false", from.Name(), to.Name())
		}
		if err := from.Send(ctx, "inbox", to.Name(), "x"); !errors.Is(err, transport.ErrBadCookie) {
			t.Errorf("%s send to %s with another cookie = %v, want an error wrapping transport.ErrBadCookie", from.Name(), to.Name(), err)
		}
	}
	if got := a.List(); len(got) != 0 {
		t.Errorf("a.List() = %v, want none", got)
	}
	if got := b.List(); len(got) != 0 {
		t.Errorf("b.List() = %v, want none", got)
	}
}

func TestNameInUse(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	ctx := testContext(t)

	cfg := node.Config{
		Name:       a.Name(),
		Cookie:     node.NewCookie("genki"),
		ListenAddr: "127.0.0.1:0",
		EPMDAddr:   epmdAddr,
	}
	second, err := node.Start(ctx, cfg)
	if err == nil {
		second.Close()
		t.Fatalf("second Start as %s succeeded, want an error", a.Name())
	}
	if !errors.Is(err, epmd.ErrNameInUse) {
		t.Errorf("second Start as %s = %v, want an error wrapping epmd.ErrNameInUse", a.Name(), err)
	}
	if !strings.Contains(err.Error(), "already in use") {
		t.Errorf("error %q does not say the name is already in use", err)
	}

	// Once a closes, its registration ends and the name is free again.
	a.Close()
	var third *node.Node
	if !waitFor(testTimeout, func() bool {
		third, err = node.Start(ctx, cfg)
		return err == nil
	}) {
		t.Fatalf("Start as %s after the first node closed: %v", a.Name(), err)
	}
	third.Close()
}

func TestStartInvalidConfig(t *testing.T) {
	ctx := testContext(t)
	for _, cfg := range []node.Config{
		{Name: "no host", Cookie: node.NewCookie("genki"), NoEPMD: true},
		{Name: "a@vm", NoEPMD: true},
	} {
		n, err := node.Start(ctx, cfg)
		if err == nil {
			n.Close()
			t.Errorf("Start(%+v) succeeded, want an error", cfg)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)
	connectPair(t, ctx, a, b)

	watchA := a.Watch()
	watchB := b.Watch()
	start := time.Now()
	if err := a.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	// The default tick timeout is 4 s, so a nodedown within 1 s comes
	// from the goodbye, not from the peer going silent.
	ev := waitEvent(t, watchB, node.NodeDown, a.Name(), time.Second)
	if ev.Reason != "disconnect" {
		t.Errorf("b saw nodedown of a with reason %q, want \"disconnect\"", ev.Reason)
	}
	t.Logf("b saw a go down %v after Close started", time.Since(start))
	if !waitFor(time.Second, func() bool { return len(b.List()) == 0 }) {
		t.Errorf("b.List() = %v after a closed, want none", b.List())
	}

	select {
	case <-a.Done():
	default:
		t.Error("a.Done() is not closed after Close")
	}
	if !waitFor(time.Second, func() bool {
		_, open := <-watchA
		return !open
	}) {
		t.Error("a's watch channel is not closed after Close")
	}
	if _, open := <-a.Watch(); open {
		t.Error("Watch after Close returned an open channel")
	}
	if a.Connect(ctx, b.Name()) {
		t.Error("a.Connect after Close = true, want false")
	}
	// The port mapper notices the closed registration connection on its
	// own time, so the lookup is retried for a while.
	var err error
	if !waitFor(time.Second, func() bool {
		_, err = epmd.Lookup(ctx, epmdAddr, "a")
		return errors.Is(err, epmd.ErrNotFound)
	}) {
		t.Errorf("port mapper lookup of a after Close = %v, want epmd.ErrNotFound", err)
	}
}

// TestSimultaneousConnect has two fresh nodes connect to each other at the
// same moment, while each sends messages to the other, in many rounds.
// Each round must end with one connection that both sides list, with no
// nodedown after the nodeup, and with every message delivered in order.
func TestSimultaneousConnect(t *testing.T) {
	epmdAddr := startEPMD(t)
	rounds := 50
	if testing.Short() {
		rounds = 10
	}
	for round := range rounds {
		if !simultaneousRound(t, epmdAddr, round) {
			t.Fatalf("round %d failed; stopping", round)
		}
	}
}

// simultaneousRound runs one round of TestSimultaneousConnect and reports
// whether it passed.
func simultaneousRound(t *testing.T, epmdAddr string, round int) bool {
	t.Helper()
	const perSide = 200
	// quiet is how long a settled pair is watched for a late nodedown.
	const quiet = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	failed := false
	errorf := func(format string, args ...any) {
		t.Helper()
		failed = true
		t.Errorf("round %d: "+format, append([]any{round}, args...)...)
	}

	// Fresh names each round, so that no registration of the last round
	// can be in the way.
	a := startNode(t, fmt.Sprintf("a%d", round), "genki", epmdAddr)
	b := startNode(t, fmt.Sprintf("b%d", round), "genki", epmdAddr)
	defer a.Close()
	defer b.Close()
	watchA := a.Watch()
	watchB := b.Watch()
	inboxA := a.Register("inbox")
	inboxB := b.Register("inbox")

	// Every other round delays one side by up to 300 µs, so that the
	// handshakes overlap in different ways. A delayed a (the smaller name)
	// can admit b's connection before its own dial starts.
	var delayA, delayB time.Duration
	if round%2 == 1 {
		d := time.Duration(rand.IntN(300)) * time.Microsecond
		if round%4 == 1 {
			delayA = d
		} else {
			delayB = d
		}
	}

	startLine := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	for _, side := range []struct {
		self, other *node.Node
		delay       time.Duration
	}{{a, b, delayA}, {b, a, delayB}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-startLine
			time.Sleep(side.delay)
			if err := side.self.ConnectAddr(ctx, side.other.Name(), side.other.Addr().String(), "test"); err != nil {
				report("%s ConnectAddr to %s: %v", side.self.Name(), side.other.Name(), err)
			}
		}()
		go func() {
			defer wg.Done()
			<-startLine
			time.Sleep(side.delay)
			for i := range perSide {
				if err := side.self.Send(ctx, "inbox", side.other.Name(), int64(i)); err != nil {
					report("%s send %d to %s: %v", side.self.Name(), i, side.other.Name(), err)
				}
			}
		}()
	}
	close(startLine)
	wg.Wait()
	for _, p := range problems {
		errorf("%s", p)
	}

	// Settle: each lists the other exactly once.
	settled := waitFor(5*time.Second, func() bool {
		return slices.Equal(a.List(), []string{b.Name()}) && slices.Equal(b.List(), []string{a.Name()})
	})
	if !settled {
		errorf("not settled after 5s: a.List() = %v, b.List() = %v", a.List(), b.List())
	}

	// Every message arrives, in the order it was sent.
	for _, in := range []struct {
		inbox *node.Mailbox
		at    string
	}{{inboxA, a.Name()}, {inboxB, b.Name()}} {
		recvCtx, cancelRecv := context.WithTimeout(ctx, 2*time.Second)
		var got []int64
		for range perSide {
			msg, err := in.inbox.Receive(recvCtx)
			if err != nil {
				break
			}
			v, _ := msg.(int64)
			got = append(got, v)
		}
		cancelRecv()
		if len(got) != perSide {
			errorf("%s received %d of %d messages", in.at, len(got), perSide)
		}
		for i, v := range got {
			if v != int64(i) {
				errorf("%s received message %d as number %d, want in order (got %v)", in.at, i, v, got)
				break
			}
		}
	}

	// No flapping: after the settled pair has been quiet a while, each
	// side has seen exactly one nodeup and no nodedown.
	time.Sleep(quiet)
	for _, w := range []struct {
		events <-chan node.Event
		at     string
	}{{watchA, a.Name()}, {watchB, b.Name()}} {
		var events []string
	drain:
		for {
			select {
			case ev := <-w.events:
				events = append(events, fmt.Sprintf("%v %s %s", ev.Kind, ev.Node, ev.Reason))
			default:
				break drain
			}
		}
		if len(events) != 1 || !strings.HasPrefix(events[0], "nodeup") {
			errorf("%s saw events %q, want exactly one nodeup", w.at, events)
		}
	}
	if !slices.Equal(a.List(), []string{b.Name()}) || !slices.Equal(b.List(), []string{a.Name()}) {
		errorf("after %v: a.List() = %v, b.List() = %v, want each other once", quiet, a.List(), b.List())
	}
	return !failed
}

// holdProxy forwards TCP connections to target, but holds the first bytes
// the target sends on each connection until Release. So it pauses a
// handshake that passes through it after the server has admitted the
// client and sent its status, before the client reads that status.
type holdProxy struct {
	l        net.Listener
	target   string
	release  chan struct{}
	replied  chan struct{} // closed when the target first sends on a connection
	once     sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn // guarded by mu
	accepted int        // guarded by mu
}

func startHoldProxy(t *testing.T, target string) *holdProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the proxy: %v", err)
	}
	p := &holdProxy{l: l, target: target, release: make(chan struct{}), replied: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *holdProxy) Addr() string { return p.l.Addr().String() }

// Accepted returns the number of connections the proxy has accepted.
func (p *holdProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *holdProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

func (p *holdProxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepted++
		p.mu.Unlock()
		p.track(client)
		server, err := net.DialTimeout("tcp", p.target, testTimeout)
		if err != nil {
			client.Close()
			continue
		}
		p.track(server)
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			defer server.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					if _, werr := server.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer p.wg.Done()
			defer client.Close()
			buf := make([]byte, 32<<10)
			first := true
			for {
				n, err := server.Read(buf)
				if n > 0 && first {
					first = false
					p.once.Do(func() { close(p.replied) })
					<-p.release
				}
				if n > 0 {
					if _, werr := client.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// Release lets held bytes through, now and from then on.
func (p *holdProxy) Release() {
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

func (p *holdProxy) close() {
	p.Release()
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestConnectWhileIncomingHandshake pins down one order of a simultaneous
// connect. b dials a and a admits b's connection. Before that handshake
// ends, a connects to b. Then a must wait for the handshake in flight and
// not dial a second connection. A second one would replace the first
// after both nodes reported it up, and the replaced one can go down with
// messages still in it.
func TestConnectWhileIncomingHandshake(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)
	watchA := a.Watch()
	watchB := b.Watch()

	toA := startHoldProxy(t, a.Addr().String())
	toB := startHoldProxy(t, b.Addr().String())

	errB := make(chan error, 1)
	go func() { errB <- b.ConnectAddr(ctx, a.Name(), toA.Addr(), "test") }()
	select {
	case <-toA.replied:
	case <-time.After(testTimeout):
		t.Fatalf("a sent no handshake status to b within %v", testTimeout)
	}

	// a has admitted b's connection and waits for b's reply. Now a
	// connects to b through the other proxy.
	errA := make(chan error, 1)
	go func() { errA <- a.ConnectAddr(ctx, b.Name(), toB.Addr(), "test") }()
	select {
	case <-toB.replied:
	case <-time.After(200 * time.Millisecond):
	}
	secondDial := toB.Accepted()

	toA.Release()
	if !waitFor(testTimeout, func() bool { return a.Connected(b.Name()) && b.Connected(a.Name()) }) {
		t.Fatalf("not connected: a.List() = %v, b.List() = %v", a.List(), b.List())
	}
	inbox := b.Register("inbox")
	toB.Release()

	for _, ch := range []chan error{errA, errB} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("ConnectAddr: %v", err)
			}
		case <-time.After(testTimeout):
			t.Fatalf("ConnectAddr did not return within %v", testTimeout)
		}
	}
	if secondDial != 0 {
		t.Errorf("a dialed b %d times while b's connection to a was in its handshake, want 0", secondDial)
	}

	// Messages sent while the second connection (if any) settles must
	// all arrive.
	const count = 500
	for i := range count {
		if err := a.Send(ctx, "inbox", b.Name(), int64(i)); err != nil {
			t.Errorf("send %d: %v", i, err)
		}
	}
	recvCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for i := range count {
		msg, err := inbox.Receive(recvCtx)
		if err != nil {
			t.Errorf("received %d of %d messages", i, count)
			break
		}
		if msg != int64(i) {
			t.Errorf("message %d = %s, want %d", i, term.Inspect(msg), i)
			break
		}
	}

	time.Sleep(200 * time.Millisecond)
	for _, w := range []struct {
		events <-chan node.Event
		at     string
	}{{watchA, a.Name()}, {watchB, b.Name()}} {
		var events []string
	drain:
		for {
			select {
			case ev := <-w.events:
				events = append(events, fmt.Sprintf("%v %s %s", ev.Kind, ev.Node, ev.Reason))
			default:
				break drain
			}
		}
		if len(events) != 1 || !strings.HasPrefix(events[0], "nodeup") {
			t.Errorf("%s saw events %q, want exactly one nodeup", w.at, events)
		}
	}
	if !slices.Equal(a.List(), []string{b.Name()}) || !slices.Equal(b.List(), []string{a.Name()}) {
		t.Errorf("a.List() = %v, b.List() = %v, want each other once", a.List(), b.List())
	}
}

// TestForgedHelloDoesNotBlock opens a handshake to b that claims a's
// name and then stalls, as a client without the cookie can. The real a
// must still connect to b, and b to a.
func TestForgedHelloDoesNotBlock(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)

	forge := func() net.Conn {
		c, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		hello, err := transport.AppendFrame(nil, &transport.Frame{
			Type: transport.FrameHello, Version: transport.HandshakeVersion, Name: a.Name(),
			Nonce: make([]byte, 32), Flags: transport.FlagEncrypt, Creation: 1,
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		// Read the status, so the claim is admitted before a dials.
		c.SetReadDeadline(time.Now().Add(testTimeout))
		if _, err := c.Read(make([]byte, 512)); err != nil {
			t.Fatalf("read the status of the forged hello: %v", err)
		}
		return c
	}

	forge()
	if err := a.ConnectError(ctx, b.Name()); err != nil {
		t.Fatalf("a connect to b while a forged hello claims a: %v", err)
	}
	a.Disconnect(b.Name())
	if !waitFor(testTimeout, func() bool { return !b.Connected(a.Name()) }) {
		t.Fatalf("b still lists a after a disconnected")
	}

	forge()
	if err := b.ConnectError(ctx, a.Name()); err != nil {
		t.Fatalf("b connect to a while a forged hello claims a: %v", err)
	}
}
