package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"

	"github.com/gonode/gonode/commands"
)

// historyLimit is the most inputs kept in the history file; the line
// editor drops the oldest when it loads a longer file.
const historyLimit = 1000

// ANSI escapes of the terminal.
const (
	clearScreen = "\x1b[H\x1b[2J"
	ansiRed     = "\x1b[31m"
	ansiReset   = "\x1b[0m"
)

func runInteractive(ctx context.Context, rt *Runtime, opts Options) int {
	ctx, leave := context.WithCancel(ctx)
	defer leave()
	complete := &completer{rt: rt}
	// NOTE: chzyer/readline v1.5.1 redraws the prompt and the whole line
	// for every rune typed or pasted (RuneBuffer.WriteRunes calls Refresh),
	// so pasting an N-rune line writes about 1.5*N*N bytes to the terminal.
	// Measured on a pseudo-terminal: 24 MB and 1 s of gonode CPU time for
	// 4000 runes, so most of the wait is the terminal emulator drawing.
	// The editor's API has no way to insert a pasted run of runes at once.
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 prompt(opts.nodeName(), 1),
		HistoryFile:            prepareHistory(opts.HistoryFile, opts.Err),
		HistoryLimit:           historyLimit,
		DisableAutoSaveHistory: true,
		InterruptPrompt:        "^C",
		AutoComplete:           complete,
		FuncGetWidth:           screenWidth,
		Stdin:                  io.NopCloser(dropNUL{opts.In}),
		Stdout:                 opts.Out,
		Stderr:                 opts.Err,
	})
	if err != nil {
		fmt.Fprintf(opts.Err, "gonode: start line editor: %v\n", err)
		return 1
	}
	defer closeEditor(rl, editorCloseTimeout)
	// SIGTERM, or the caller, ends the shell while it waits for a line.
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			closeEditor(rl, editorCloseTimeout)
		case <-stopped:
		}
	}()
	if opts.Logs != nil {
		old := opts.Logs.Set(rl.Stdout())
		defer opts.Logs.Set(old)
	}

	// Ctrl-C while a command runs (the terminal is out of raw mode then)
	// cancels that command, as it interrupts a receive in iex. While the
	// line editor waits, Ctrl-C is a key, not a signal, so a SIGINT then
	// comes from another process (kill -INT), and the shell leaves.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	var mu sync.Mutex
	var cancelEval context.CancelFunc
	go func() {
		for range sigs {
			mu.Lock()
			if cancelEval != nil {
				cancelEval()
			} else {
				leave()
			}
			mu.Unlock()
		}
	}()

	out := rl.Stdout()
	ev := opts.newEvaluator(rt, func(line string) { fmt.Fprintln(out, line) })
	r := &reader{rl: rl, name: ev.NodeName(), out: out}
	for {
		if ctx.Err() != nil {
			return 0
		}
		src, err := r.read(ev.Counter())
		if errors.Is(err, errLeave) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(opts.Err, "gonode: read line: %v\n", err)
			return 1
		}
		if strings.TrimSpace(src) == "" {
			continue
		}
		rl.SaveHistory(strings.ReplaceAll(src, "\n", " "))

		evalCtx, cancel := context.WithCancel(ctx)
		mu.Lock()
		cancelEval = cancel
		mu.Unlock()
		res, err := ev.Eval(evalCtx, src)
		mu.Lock()
		cancelEval = nil
		mu.Unlock()
		cancel()
		complete.setVariables(ev.Variables())
		if errors.Is(err, commands.ErrEmpty) {
			continue
		}
		if errors.Is(err, ErrRemoteDown) {
			fmt.Fprintf(opts.Err, "gonode: %v\n", err)
			return 1
		}
		if err != nil {
			printError(out, err, src, opts.Color)
			continue
		}
		if res.Clear {
			io.WriteString(out, clearScreen)
		}
		printResult(out, res, screenWidth(), opts.Color)
		if res.Halt {
			return res.ExitCode
		}
	}
}

// editorCloseTimeout bounds how long the shell waits for the line editor
// to close.
const editorCloseTimeout = 2 * time.Second

// closeEditor closes the line editor and gives up after timeout. The
// editor's Close waits for its reading goroutine, which stays blocked in a
// read of standard input until the next key, because that input is not
// closed (it is the process's own terminal). Waiting for it would keep the
// shell, and SIGTERM, from ending. It reports whether Close returned.
func closeEditor(editor io.Closer, timeout time.Duration) bool {
	closed := make(chan struct{})
	go func() {
		editor.Close()
		close(closed)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-closed:
		return true
	case <-timer.C:
		return false
	}
}

// dropNUL removes NUL bytes from the input of the line editor. A terminal
// sends NUL for Ctrl-Space and Ctrl-@. In chzyer/readline v1.5.1, rune 0
// means end of input, so a NUL makes Operation.ioloop return io.EOF from
// Readline and stop. Its terminal goroutine keeps reading keys, and Close
// then blocks waiting for it.
type dropNUL struct{ r io.Reader }

func (d dropNUL) Read(p []byte) (int, error) {
	for {
		n, err := d.r.Read(p)
		kept := p[:0]
		for _, b := range p[:n] {
			if b != 0 {
				kept = append(kept, b)
			}
		}
		// Read again when a read returned only NULs, because a read of
		// 0 bytes with no error makes bufio give up after 100 tries.
		if len(kept) > 0 || err != nil || n == 0 {
			return len(kept), err
		}
	}
}

// defaultWidth is the column count assumed when the terminal reports none.
const defaultWidth = 80

// screenWidth returns the terminal's column count, or defaultWidth when the
// terminal reports 0 columns or no size at all, as a pseudo-terminal does
// before anyone sets its size (script(1) without stty, some docker exec
// sessions). At width 0, readline v1.5.1 ignores Tab and redraws the
// line on each key with a long run of backspaces.
func screenWidth() int {
	if w := readline.GetScreenWidth(); w > 0 {
		return w
	}
	return defaultWidth
}

// errLeave ends the shell: Ctrl-D, or Ctrl-C twice on an empty line.
var errLeave = errors.New("leave the shell")

// reader reads one input, over several lines while brackets or quotes
// are open.
type reader struct {
	rl          *readline.Instance
	name        string
	out         io.Writer
	interrupted bool // Ctrl-C was pressed on an empty line
}

// read returns the next input. Ctrl-C discards the input being typed.
// On an empty line Ctrl-C prints how to leave, and a second one leaves.
func (r *reader) read(counter int) (string, error) {
	var lines []string
	for {
		if lines == nil {
			r.rl.SetPrompt(prompt(r.name, counter))
		} else {
			r.rl.SetPrompt(continuationPrompt(r.name, counter))
		}
		line, err := r.rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			if line != "" || lines != nil {
				r.interrupted = false
				lines = nil
				continue
			}
			if r.interrupted {
				return "", errLeave
			}
			r.interrupted = true
			fmt.Fprintln(r.out, "(press Ctrl-C again or Ctrl-D to leave the shell)")
			continue
		}
		r.interrupted = false
		if errors.Is(err, io.EOF) {
			return "", errLeave
		}
		if err != nil {
			return "", err
		}
		lines = append(lines, line)
		src := strings.Join(lines, "\n")
		if !commands.Incomplete(src) || len(lines) >= maxInputLines {
			return src, nil
		}
	}
}

func printResult(w io.Writer, res commands.Result, width int, color bool) {
	var b strings.Builder
	for _, line := range res.Output {
		b.WriteString(line)
		b.WriteString("\n")
	}
	if !res.Halt && !res.Quiet {
		b.WriteString(inspect(res.Value, width, color))
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}

// printError prints err in red, and for a syntax error the line of src it
// is on with a caret under the column.
func printError(w io.Writer, err error, src string, color bool) {
	var b strings.Builder
	if color {
		b.WriteString(ansiRed)
	}
	b.WriteString(err.Error())
	if color {
		b.WriteString(ansiReset)
	}
	b.WriteString("\n")
	var e *commands.Error
	if errors.As(err, &e) && e.Line > 0 {
		lines := strings.Split(src, "\n")
		if e.Line <= len(lines) {
			line := lines[e.Line-1]
			runes := []rune(line)
			col := min(e.Column-1, len(runes))
			b.WriteString("    " + line + "\n")
			b.WriteString("    " + strings.Repeat(" ", textWidth(string(runes[:col]))) + "^\n")
		}
	}
	io.WriteString(w, b.String())
}

// maxHistoryBytes bounds the history file that the shell reads.
const maxHistoryBytes = 16 << 20

// prepareHistory creates the history file with mode 0600 before the line
// editor opens it, so that history is never readable by others, and cuts
// it to the last historyLimit inputs. The line editor appends the inputs
// of a session, so the file holds at most historyLimit lines when a shell
// starts and grows by the inputs of that session. A file that cannot be
// read and written gives one warning, and the shell runs without history:
// the returned path is then empty.
func prepareHistory(path string, errOut io.Writer) string {
	if path == "" {
		return ""
	}
	if err := trimHistory(path); err != nil {
		fmt.Fprintf(errOut, "gonode: warning: history is off: %v\n", err)
		return ""
	}
	return path
}

func trimHistory(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > maxHistoryBytes {
		return fmt.Errorf("%s is larger than %d MiB; remove or shorten it", path, maxHistoryBytes>>20)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) <= historyLimit {
		return nil
	}
	lines = lines[len(lines)-historyLimit:]
	// The file is rewritten in place, so it keeps its mode 0600.
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strings.Join(lines, "\n")+"\n"), 0); err != nil {
		return fmt.Errorf("shorten %s: %w", path, err)
	}
	return nil
}
