package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// maxKeptLines bounds the lines kept per process; later lines are still
// passed to onLine but not stored.
const maxKeptLines = 10_000

// line is one line of a child's output and the time the harness read it.
type line struct {
	text string
	at   time.Time
}

// proc is a child process whose standard output and standard error are
// read line by line, each line stamped with the time it was read.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped

	// onLine, when set before start, is called from the reader goroutine
	// for every line.
	onLine func(line)

	mu      sync.Mutex
	lines   []line        // guarded by mu
	changed chan struct{} // guarded by mu; closed when a line arrives
	readers sync.WaitGroup
}

// startProc starts argv with its output piped to the harness.
func startProc(name string, argv []string, env []string, onLine func(line)) (*proc, error) {
	p := &proc{name: name, done: make(chan struct{}), changed: make(chan struct{}), onLine: onLine}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdin = nil
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	p.cmd.Stdout = outW
	p.cmd.Stderr = errW
	// A child outlives no unit: it is killed when the unit dies.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = p.cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	p.readers.Add(2)
	go p.read(outR)
	go p.read(errR)
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) read(r io.ReadCloser) {
	defer p.readers.Done()
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.add(line{text: sc.Text(), at: time.Now()})
	}
}

func (p *proc) add(l line) {
	if p.onLine != nil {
		p.onLine(l)
	}
	p.mu.Lock()
	if len(p.lines) < maxKeptLines {
		p.lines = append(p.lines, l)
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// pid returns the child's process ID.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// waitLine waits for the first line that contains substr and returns it.
func (p *proc) waitLine(ctx context.Context, substr string) (line, error) {
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i].text, substr) {
				l := p.lines[i]
				p.mu.Unlock()
				return l, nil
			}
			if strings.HasPrefix(p.lines[i].text, "error ") {
				l := p.lines[i]
				p.mu.Unlock()
				return line{}, fmt.Errorf("%s: %s", p.name, l.text)
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			// Let the readers drain what the process wrote last.
			p.readers.Wait()
			p.mu.Lock()
			found := false
			for _, l := range p.lines[i:] {
				found = found || strings.Contains(l.text, substr)
			}
			p.mu.Unlock()
			if !found {
				return line{}, fmt.Errorf("%s exited (%v) before writing %q; output: %s", p.name, p.cmd.ProcessState, substr, p.tail(8))
			}
		case <-ctx.Done():
			return line{}, fmt.Errorf("%s: waiting for %q: %w; output: %s", p.name, substr, ctx.Err(), p.tail(8))
		}
	}
}

// result waits for the line "result KEY VALUE" and returns VALUE.
func (p *proc) result(ctx context.Context, key string) (float64, error) {
	l, err := p.waitLine(ctx, "result "+key+" ")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(l.text)
	if len(fields) != 3 {
		return 0, fmt.Errorf("%s: invalid result line %q", p.name, l.text)
	}
	v, err := strconv.ParseFloat(fields[2], 64)
	if err != nil {
		return 0, fmt.Errorf("%s: invalid result line %q: %w", p.name, l.text, err)
	}
	return v, nil
}

// tail returns the last n lines of output, joined with " | ".
func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := max(0, len(p.lines)-n)
	texts := make([]string, 0, n)
	for _, l := range p.lines[start:] {
		texts = append(texts, l.text)
	}
	return strings.Join(texts, " | ")
}

// signal sends sig to the process unless it has been reaped.
func (p *proc) signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// stop ends the process: SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p.cmd.Process == nil {
		return
	}
	p.signal(syscall.SIGCONT)
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// ptyProc is a child on a pseudo-terminal, for start-up to the prompt.
type ptyProc struct {
	cmd  *exec.Cmd
	tty  *os.File
	done chan struct{}
	seen chan struct{} // closed when the prompt has been seen
	at   time.Time     // set before seen is closed

	mu  sync.Mutex
	out bytes.Buffer // guarded by mu; output with escape sequences removed
}

// ansiEscape matches the CSI and OSC escape sequences a shell writes
// around its prompt.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Za-z0-9]|\x1b[=>78]`)

// cursorQuery is the device status report request a line editor may
// send to learn the cursor position.
var cursorQuery = []byte("\x1b[6n")

// startPty starts argv on a new 24x80 pseudo-terminal and reads its
// output until prompt shows. The reader answers cursor position requests
// so that no line editor waits for a terminal that is not there.
func startPty(argv []string, env []string, prompt string) (*ptyProc, error) {
	p := &ptyProc{done: make(chan struct{}), seen: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Pdeathsig: syscall.SIGKILL}
	tty, err := pty.StartWithSize(p.cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		return nil, fmt.Errorf("start %s on a pseudo-terminal: %w", argv[0], err)
	}
	p.tty = tty
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	go func() {
		buf := make([]byte, 4096)
		var raw []byte
		found := false
		for {
			n, err := tty.Read(buf)
			if n > 0 {
				raw = append(raw, buf[:n]...)
				if bytes.Contains(buf[:n], cursorQuery) {
					tty.Write([]byte("\x1b[1;1R"))
				}
				clean := ansiEscape.ReplaceAll(raw, nil)
				p.mu.Lock()
				p.out.Reset()
				p.out.Write(clean)
				p.mu.Unlock()
				if !found && bytes.Contains(clean, []byte(prompt)) {
					found = true
					p.at = time.Now()
					close(p.seen)
				}
				if len(raw) > 1<<20 {
					raw = raw[len(raw)-4096:]
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return p, nil
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop ends the process by PID and closes the terminal. The shells
// measured here need not shut down cleanly, so the grace time is short.
func (p *ptyProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(300 * time.Millisecond):
		p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
	p.tty.Close()
}

// rssKiB returns the resident set size of pid in KiB.
func rssKiB(pid int) (int, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// treeRSSKiB returns the resident set size of pid and all its
// descendants, so that helpers such as BEAM's erl_child_setup count.
func treeRSSKiB(pid int) (int, error) {
	total := 0
	for _, p := range append([]int{pid}, descendants(pid)...) {
		kib, err := rssKiB(p)
		if err != nil {
			if p == pid {
				return 0, err
			}
			continue // a descendant that exited meanwhile
		}
		total += kib
	}
	return total, nil
}

// descendants returns the processes below pid, read from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, p := range allPIDs() {
		if ppid, err := parentPID(p); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 10_000 {
		head := queue[0]
		queue = queue[1:]
		for _, c := range children[head] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func allPIDs() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func parentPID(pid int) (int, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name in brackets may contain spaces; fields after the
	// last ')' are state, then the parent's PID.
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, errors.New("invalid stat")
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 2 {
		return 0, errors.New("invalid stat")
	}
	return strconv.Atoi(fields[1])
}

// sweepNamespace kills, by PID, every process left in this process's
// network namespace, such as a port mapper a node started on its own.
// The namespace is private to this unit, so all of them are its own
// children. It returns the commands it had to kill.
func sweepNamespace() []string {
	// Helpers such as erl_child_setup exit on their own shortly after
	// their parent; give them a second first.
	for range 50 {
		if len(namespacePIDs()) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	var killed []string
	for _, pid := range namespacePIDs() {
		comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, fmt.Sprintf("%s (pid %d)", strings.TrimSpace(string(comm)), pid))
		}
	}
	return killed
}

// namespacePIDs returns the processes other than this one in this
// process's network namespace.
func namespacePIDs() []int {
	self := os.Getpid()
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return nil
	}
	var pids []int
	for _, pid := range allPIDs() {
		if pid == self {
			continue
		}
		ns, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns/net"))
		if err != nil || ns != own {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
