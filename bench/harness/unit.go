package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/epmd"
)

// Systems a unit measures.
const (
	sysGonode = "gonode"
	sysErlang = "erlang"
	sysTCP    = "tcp"
)

// cookie is the cookie of every node in a run.
const cookie = "bench"

// unitResult is what a unit writes to standard output, as JSON.
type unitResult struct {
	Values map[string]float64 `json:"values"`
	Notes  []string           `json:"notes,omitempty"`
	Error  string             `json:"error,omitempty"`
}

// unitParams are the flags of one unit.
type unitParams struct {
	scenario string
	system   string
	bin      string // directory of the gonode and harness executables
	erlDir   string // directory of the compiled gonode_bench module
	busy     bool
	count    int // messages, round trips or nodes, by scenario
	senders  int
	signal   string
	idle     time.Duration
	// plain turns transport encryption off in every gonode process of
	// the unit: nodes and load drivers.
	plain bool
}

// unit is one measurement: one scenario on one system, run inside a
// network namespace of its own that bench/run made for it.
type unit struct {
	unitParams
	host   string
	values map[string]float64
	notes  []string

	mu    sync.Mutex
	procs []*proc    // guarded by mu
	ptys  []*ptyProc // guarded by mu
}

// runUnit runs one unit and writes its unitResult. It returns the exit
// status.
func runUnit(args []string) int {
	var p unitParams
	fs := flag.NewFlagSet("unit", flag.ContinueOnError)
	fs.StringVar(&p.scenario, "scenario", "", "the scenario")
	fs.StringVar(&p.system, "system", "", "gonode, erlang or tcp")
	fs.StringVar(&p.bin, "bin", "", "directory of the gonode and harness executables")
	fs.StringVar(&p.erlDir, "erl-dir", "", "directory of gonode_bench.beam")
	fs.BoolVar(&p.busy, "busy", false, "keep the other core busy")
	fs.IntVar(&p.count, "count", 0, "messages, round trips or nodes")
	fs.IntVar(&p.senders, "senders", 1, "senders of the one-way stream")
	fs.StringVar(&p.signal, "signal", "KILL", "KILL or STOP, for failure detection")
	fs.DurationVar(&p.idle, "idle", 2*time.Second, "idle time before memory is read")
	fs.BoolVar(&p.plain, "plain", false, "turn transport encryption off in every gonode process (gonode only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if p.plain && p.system != sysGonode {
		fmt.Fprintf(os.Stderr, "harness unit: --plain applies to system gonode only, got %q\n", p.system)
		return 2
	}
	short, err := node.ShortName("x")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, host := node.SplitName(short)
	u := &unit{unitParams: p, host: host, values: map[string]float64{}}

	timeout := 3 * time.Minute
	if p.scenario == "failure" && p.signal == "STOP" && p.system == sysErlang {
		timeout = 4 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err = u.run(ctx)
	cancel()
	u.cleanup()
	res := unitResult{Values: u.values, Notes: u.notes}
	if err != nil {
		res.Error = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(res)
	if err != nil {
		return 1
	}
	return 0
}

func (u *unit) run(ctx context.Context) error {
	if !inPrivateNetns() {
		return errors.New("the unit is not inside a private network namespace; run it through bench/run")
	}
	if u.busy {
		spin, err := u.start("spin", []string{u.harness(), "spin"})
		if err != nil {
			return err
		}
		if _, err := spin.waitLine(ctx, "ready"); err != nil {
			return err
		}
	}
	if u.system != sysTCP {
		if err := u.startEPMD(ctx); err != nil {
			return err
		}
	}
	scenarios := map[string]func(context.Context) error{
		"prompt":      u.prompt,
		"boot_ping":   u.bootPing,
		"memory":      u.memory,
		"autoconnect": u.autoconnect,
		"mesh":        u.mesh,
		"connect":     u.connect,
		"ping":        u.ping,
		"echo":        u.echo,
		"throughput":  u.throughput,
		"failure":     u.failure,
	}
	fn, ok := scenarios[u.scenario]
	if !ok {
		return fmt.Errorf("unknown scenario %q", u.scenario)
	}
	return fn(ctx)
}

// inPrivateNetns reports whether loopback is the only network interface,
// as in the namespaces bench/run makes.
func inPrivateNetns() bool {
	ifaces, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 {
			return false
		}
	}
	return true
}

func (u *unit) harness() string { return filepath.Join(u.bin, "harness") }
func (u *unit) gonode() string  { return filepath.Join(u.bin, "gonode") }
func (u *unit) full(name string) string {
	return name + "@" + u.host
}

func (u *unit) start(name string, argv []string) (*proc, error) {
	return u.startWith(name, argv, nil)
}

func (u *unit) startWith(name string, argv []string, onLine func(line)) (*proc, error) {
	p, err := startProc(name, argv, []string{"GONODE_EPMD_PORT=4369", "ERL_EPMD_PORT=4369"}, onLine)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	u.procs = append(u.procs, p)
	u.mu.Unlock()
	return p, nil
}

// cleanup ends every process the unit started, by PID, and then any
// process left in the namespace. Each gets SIGTERM and half a second
// before SIGKILL: a clean shutdown is not part of any figure.
func (u *unit) cleanup() {
	u.mu.Lock()
	procs, ptys := u.procs, u.ptys
	u.mu.Unlock()
	for _, p := range ptys {
		p.stop()
	}
	var wg sync.WaitGroup
	for i := len(procs) - 1; i >= 0; i-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i].stop(500 * time.Millisecond)
		}()
	}
	wg.Wait()
	if killed := sweepNamespace(); len(killed) > 0 {
		u.notes = append(u.notes, "killed leftover processes: "+strings.Join(killed, ", "))
	}
}

// startEPMD starts the system's own port mapper on 127.0.0.1:4369 and
// waits until it accepts connections.
func (u *unit) startEPMD(ctx context.Context) error {
	argv := []string{u.gonode(), "epmd", "--port", "4369"}
	if u.system == sysErlang {
		argv = []string{"epmd", "-port", "4369"}
	}
	if _, err := u.start("epmd", argv); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:4369", time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("port mapper did not answer on 127.0.0.1:4369: %w", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (u *unit) epmdProc() *proc {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.procs {
		if p.name == "epmd" {
			return p
		}
	}
	return nil
}

// waitRegistered waits until the port mapper lists name.
func (u *unit) waitRegistered(ctx context.Context, name string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		entries, err := epmd.Names(ctx, "127.0.0.1:4369")
		if err == nil {
			for _, e := range entries {
				if e.Name == name {
					return nil
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("%s did not register with the port mapper within 20s", name)
}

// node starts a node of the unit's system with no driver in it: the
// gonode executable, or a plain erl.
func (u *unit) node(name string, extra ...string) (*proc, error) {
	if u.system == sysErlang {
		argv := []string{"erl", "-sname", name, "-setcookie", cookie, "-noshell", "-start_epmd", "false"}
		return u.start(name, append(argv, extra...))
	}
	argv := append(u.gonodeArgv(name), extra...)
	return u.start(name, argv)
}

// gonodeArgv is the command line of a gonode node without a shell.
func (u *unit) gonodeArgv(name string) []string {
	argv := []string{u.gonode(), "--sname", name, "--cookie", cookie, "--no-shell"}
	if u.plain {
		argv = append(argv, "--dist-encrypt=false")
	}
	return argv
}

// driver starts a load driver of the unit's system on node name; an
// empty name starts an Erlang driver without distribution.
func (u *unit) driver(name, command string, args ...string) (*proc, error) {
	if u.system == sysErlang {
		argv := []string{"erl"}
		if name != "" {
			argv = append(argv, "-sname", name, "-setcookie", cookie)
		}
		argv = append(argv, "-noshell", "-start_epmd", "false", "-pa", u.erlDir,
			"-run", "gonode_bench", "main", strings.ReplaceAll(command, "-", "_"))
		return u.start(command, append(argv, args...))
	}
	if name == "" {
		name = "driver"
	}
	argv := []string{u.harness(), "peer", "--name", u.full(name), "--cookie", cookie}
	if u.plain {
		argv = append(argv, "--no-encrypt")
	}
	argv = append(argv, command)
	return u.start(command, append(argv, args...))
}

func (u *unit) ms(key string, d time.Duration) {
	u.values[key] = float64(d) / float64(time.Millisecond)
}

// prompt times a spawn until the shell prompt shows on a
// pseudo-terminal: gonode's shell, or iex and erl.
func (u *unit) prompt(ctx context.Context) error {
	if u.system == sysGonode {
		d, err := u.timePrompt(ctx, []string{u.gonode(), "--sname", "p", "--cookie", cookie}, "gonode("+u.full("p")+")1>")
		if err != nil {
			return err
		}
		u.ms("prompt_ms", d)
		return nil
	}
	if _, err := exec.LookPath("iex"); err == nil {
		d, err := u.timePrompt(ctx, []string{"iex", "--sname", "p", "--cookie", cookie, "--erl", "-start_epmd false"}, "iex("+u.full("p")+")1>")
		if err != nil {
			return err
		}
		u.ms("prompt_ms", d)
	} else {
		u.notes = append(u.notes, "iex is not installed, so start-up to the iex prompt is not measured")
	}
	d, err := u.timePrompt(ctx, []string{"erl", "-sname", "q", "-setcookie", cookie, "-start_epmd", "false"}, "("+u.full("q")+")1>")
	if err != nil {
		return err
	}
	u.ms("prompt_erl_ms", d)
	return nil
}

func (u *unit) timePrompt(ctx context.Context, argv []string, prompt string) (time.Duration, error) {
	start := time.Now()
	p, err := startPty(argv, []string{"TERM=xterm", "GONODE_EPMD_PORT=4369", "ERL_EPMD_PORT=4369", "HOME=" + os.TempDir()}, prompt)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	select {
	case <-p.seen:
		return p.at.Sub(start), nil
	case <-p.done:
		return 0, fmt.Errorf("%s exited before its prompt %q; output: %q", argv[0], prompt, lastBytes(p.output(), 400))
	case <-time.After(20 * time.Second):
		return 0, fmt.Errorf("no prompt %q from %s within 20s; output: %q", prompt, argv[0], lastBytes(p.output(), 400))
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// bootPing times a spawn until the new node answers a ping from a driver
// that pings it every millisecond.
func (u *unit) bootPing(ctx context.Context) error {
	d, err := u.driver("d", "ping-until", u.full("b"))
	if err != nil {
		return err
	}
	if _, err := d.waitLine(ctx, "ready"); err != nil {
		return err
	}
	start := time.Now()
	if _, err := u.node("b"); err != nil {
		return err
	}
	pong, err := d.waitLine(ctx, "event pong")
	if err != nil {
		return err
	}
	u.ms("boot_ping_ms", pong.at.Sub(start))
	return nil
}

// memory reads the resident memory of an idle node and of the port
// mapper, with the node registered in it.
func (u *unit) memory(ctx context.Context) error {
	m, err := u.node("m")
	if err != nil {
		return err
	}
	if err := u.waitRegistered(ctx, "m"); err != nil {
		return err
	}
	select {
	case <-time.After(u.idle):
	case <-ctx.Done():
		return ctx.Err()
	}
	nodeKiB, err := treeRSSKiB(m.pid())
	if err != nil {
		return err
	}
	epmdKiB, err := treeRSSKiB(u.epmdProc().pid())
	if err != nil {
		return err
	}
	u.values["memory_node_mib"] = float64(nodeKiB) / 1024
	u.values["memory_epmd_mib"] = float64(epmdKiB) / 1024
	return nil
}

// autoconnect times a second node's spawn until both nodes list each
// other. gonode finds the first node by gossip; the Erlang reference,
// having no gossip, pings the first node as soon as it boots.
func (u *unit) autoconnect(ctx context.Context) error {
	var a, b *proc
	var err error
	aSees, bSees := "connected to :\""+u.full("b")+"\"", "connected to :\""+u.full("a")+"\""
	if u.system == sysErlang {
		aSees, bSees = "event nodeup", "event connected"
		if a, err = u.driver("a", "nodeup"); err == nil {
			_, err = a.waitLine(ctx, "ready")
		}
	} else {
		if a, err = u.node("a"); err == nil {
			err = u.waitRegistered(ctx, "a")
		}
	}
	if err != nil {
		return err
	}
	// Give the first node's gossip socket time to open after it
	// registered.
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if u.system == sysErlang {
		b, err = u.driver("b", "connect-at-boot", u.full("a"))
	} else {
		b, err = u.node("b")
	}
	if err != nil {
		return err
	}
	la, err := a.waitLine(ctx, aSees)
	if err != nil {
		return err
	}
	lb, err := b.waitLine(ctx, bSees)
	if err != nil {
		return err
	}
	last := la.at
	if lb.at.After(last) {
		last = lb.at
	}
	u.ms("autoconnect_ms", last.Sub(start))
	return nil
}

// connectedLine matches gonode's log lines about its connection table.
var connectedLine = regexp.MustCompile(`\] (connected to|disconnected from) :"([^"]+)"`)

// mesh spawns u.count gonode nodes at once and times until every node
// lists all the others.
func (u *unit) mesh(ctx context.Context) error {
	count := u.count
	var mu sync.Mutex
	peers := make([]map[string]bool, count)
	complete := 0
	done := make(chan struct{})
	start := time.Now()
	for i := range count {
		peers[i] = map[string]bool{}
		onLine := func(l line) {
			m := connectedLine.FindStringSubmatch(l.text)
			if m == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			before := len(peers[i]) == count-1
			if m[1] == "connected to" {
				peers[i][m[2]] = true
			} else {
				delete(peers[i], m[2])
			}
			after := len(peers[i]) == count-1
			switch {
			case after && !before:
				complete++
				if complete == count {
					close(done)
				}
			case before && !after:
				complete--
			}
		}
		name := "n" + strconv.Itoa(i+1)
		if _, err := u.startWith(name, u.gonodeArgv(name), onLine); err != nil {
			return err
		}
	}
	select {
	case <-done:
		u.ms("mesh_ms", time.Since(start))
		return nil
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("%d of %d nodes listed all the others within 60s", complete, count)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connect times Connect from a fresh node to a running one; the driver
// starts u.count fresh nodes and reports the median.
func (u *unit) connect(ctx context.Context) error {
	if _, err := u.node("b"); err != nil {
		return err
	}
	if err := u.waitRegistered(ctx, "b"); err != nil {
		return err
	}
	args := []string{u.full("b"), strconv.Itoa(u.count)}
	if u.system == sysErlang {
		args = append(args, cookie)
	}
	d, err := u.driver("", "connect", args...)
	if err != nil {
		return err
	}
	v, err := d.result(ctx, "connect_us")
	u.values["connect_us"] = v
	return err
}

// ping measures u.count ping round trips to a running node, or over a
// plain TCP socket.
func (u *unit) ping(ctx context.Context) error {
	if u.system == sysTCP {
		return u.tcpRoundTrips(ctx, "ping", 16)
	}
	if _, err := u.node("b"); err != nil {
		return err
	}
	if err := u.waitRegistered(ctx, "b"); err != nil {
		return err
	}
	d, err := u.driver("a", "ping", u.full("b"), strconv.Itoa(u.count))
	if err != nil {
		return err
	}
	return u.latency(ctx, d, "ping", "ping")
}

// latency copies a driver's average, median and 99th percentile.
func (u *unit) latency(ctx context.Context, d *proc, from, to string) error {
	for _, stat := range []string{"avg", "p50", "p99"} {
		v, err := d.result(ctx, from+"_"+stat+"_us")
		if err != nil {
			return err
		}
		u.values[to+"_"+stat+"_us"] = v
	}
	return nil
}

// tcpRoundTrips measures u.count round trips of one size-byte record
// between two minimal Go processes.
func (u *unit) tcpRoundTrips(ctx context.Context, key string, size int) error {
	srv, err := u.start("tcp-echo", []string{u.harness(), "tcp", "echo-server", strconv.Itoa(size)})
	if err != nil {
		return err
	}
	port, err := readyPort(ctx, srv)
	if err != nil {
		return err
	}
	c, err := u.start("tcp-ping", []string{u.harness(), "tcp", "ping", port, strconv.Itoa(size), strconv.Itoa(u.count)})
	if err != nil {
		return err
	}
	return u.latency(ctx, c, "ping", key)
}

func readyPort(ctx context.Context, p *proc) (string, error) {
	l, err := p.waitLine(ctx, "ready ")
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(l.text, "ready "), nil
}

// echo measures u.count synchronous round trips of a small message to
// an echo mailbox on another node.
func (u *unit) echo(ctx context.Context) error {
	if u.system == sysTCP {
		size, err := frameSize(echoName, u.full("a"), echoMessage(u.full("a"), 100_000))
		if err != nil {
			return err
		}
		u.values["message_bytes"] = float64(size)
		return u.tcpRoundTrips(ctx, "echo", size)
	}
	srv, err := u.driver("b", "echo-server")
	if err != nil {
		return err
	}
	if _, err := srv.waitLine(ctx, "ready"); err != nil {
		return err
	}
	d, err := u.driver("a", "echo", u.full("b"), strconv.Itoa(u.count))
	if err != nil {
		return err
	}
	if u.values["message_bytes"], err = d.result(ctx, "message_bytes"); err != nil {
		return err
	}
	return u.latency(ctx, d, "echo", "echo")
}

// throughput times u.count one-way messages from u.senders senders to a
// registered mailbox on another node, until the receiver confirms the
// count.
func (u *unit) throughput(ctx context.Context) error {
	count := strconv.Itoa(u.count)
	if u.system == sysTCP {
		size, err := frameSize(sinkName, u.full("a"), streamMessage(u.count))
		if err != nil {
			return err
		}
		srv, err := u.start("tcp-sink", []string{u.harness(), "tcp", "sink", strconv.Itoa(size), count})
		if err != nil {
			return err
		}
		port, err := readyPort(ctx, srv)
		if err != nil {
			return err
		}
		c, err := u.start("tcp-stream", []string{u.harness(), "tcp", "stream", port, strconv.Itoa(size), count})
		if err != nil {
			return err
		}
		u.values["message_bytes"] = float64(size)
		u.values["msgs_per_s"], err = c.result(ctx, "msgs_per_s")
		return err
	}
	sink, err := u.driver("b", "sink", count, u.full("a"))
	if err != nil {
		return err
	}
	if _, err := sink.waitLine(ctx, "ready"); err != nil {
		return err
	}
	d, err := u.driver("a", "send", u.full("b"), count, strconv.Itoa(u.senders))
	if err != nil {
		return err
	}
	if u.values["message_bytes"], err = d.result(ctx, "message_bytes"); err != nil {
		return err
	}
	u.values["msgs_per_s"], err = d.result(ctx, "msgs_per_s")
	return err
}

// failure times a SIGKILL or SIGSTOP of a connected peer until the
// watching node reports it down.
func (u *unit) failure(ctx context.Context) error {
	sig := syscall.SIGKILL
	if u.signal == "STOP" {
		sig = syscall.SIGSTOP
	}
	b, err := u.node("b")
	if err != nil {
		return err
	}
	if err := u.waitRegistered(ctx, "b"); err != nil {
		return err
	}
	w, err := u.driver("w", "watch", u.full("b"))
	if err != nil {
		return err
	}
	if _, err := w.waitLine(ctx, "ready"); err != nil {
		return err
	}
	// Let a few ticks pass, as on a connection that has been up a while.
	time.Sleep(time.Second)
	start := time.Now()
	if err := b.signal(sig); err != nil {
		return err
	}
	down, err := w.waitLine(ctx, "event nodedown")
	if err != nil {
		return err
	}
	u.ms("failure_ms", down.at.Sub(start))
	return nil
}
