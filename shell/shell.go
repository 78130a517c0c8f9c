// Package shell is gonode's interactive shell: a readline prompt in the
// manner of iex when standard input is a terminal, and a line-by-line
// command reader when it is not. The commands themselves are parsed and
// evaluated by package commands. This package reads lines, prints
// results and keeps log lines from other goroutines above the prompt.
package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/chzyer/readline"
	"github.com/fatih/color"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
)

// MailboxName is the registered name of the shell's mailbox, so that
// send({:shell, node}, msg) from any node reaches the shell on node.
const MailboxName = "shell"

// maxLine is the longest line read from a pipe.
const maxLine = 1 << 20

// Options set up a shell.
type Options struct {
	Node    *node.Node
	Mailbox *node.Mailbox

	In  io.Reader
	Out io.Writer
	Err io.Writer

	// Interactive selects the readline prompt; otherwise lines are read
	// from In with no prompt and results printed one a line.
	Interactive bool
	// Color paints errors and results in a terminal.
	Color bool
	// HistoryFile keeps line-editing history; empty means none.
	HistoryFile string
	// Logs is the log output, which the interactive shell points at the
	// line editor so that log lines print above the prompt.
	Logs *SwitchWriter
}

// Run reads and evaluates commands until the input ends, System.halt or
// ctx is done, and returns the exit status.
func Run(ctx context.Context, opts Options) int {
	rt := &Runtime{Node: opts.Node, Mailbox: opts.Mailbox}
	if opts.Interactive {
		return runInteractive(ctx, rt, opts)
	}
	return runPipe(ctx, rt, opts)
}

// runPipe evaluates one line at a time from opts.In. A failing line makes
// the exit status 1, and the lines after it still run.
func runPipe(ctx context.Context, rt *Runtime, opts Options) int {
	sc := bufio.NewScanner(opts.In)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	status := 0
	lineNo := 0
	for sc.Scan() {
		lineNo++
		if ctx.Err() != nil {
			return status
		}
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		res, err := commands.Eval(ctx, rt, line)
		if errors.Is(err, commands.ErrEmpty) {
			continue
		}
		if err != nil {
			fmt.Fprintf(opts.Err, "%s\n", err)
			status = 1
			continue
		}
		printResult(opts.Out, res)
		if res.Halt {
			return res.ExitCode
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(opts.Err, "gonode: read line %d of standard input: %v\n", lineNo+1, err)
		return 1
	}
	return status
}

func runInteractive(ctx context.Context, rt *Runtime, opts Options) int {
	rl, err := readline.NewEx(&readline.Config{
		Prompt:          prompt(opts.Node.Name(), 1),
		HistoryFile:     prepareHistory(opts.HistoryFile, opts.Err),
		HistoryLimit:    1000,
		InterruptPrompt: "^C",
		AutoComplete:    completer{},
		Stdin:           io.NopCloser(opts.In),
		Stdout:          opts.Out,
		Stderr:          opts.Err,
	})
	if err != nil {
		fmt.Fprintf(opts.Err, "gonode: start line editor: %v\n", err)
		return 1
	}
	defer rl.Close()
	// SIGTERM, or the caller, ends the shell while it waits for a line.
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			rl.Close()
		case <-stopped:
		}
	}()
	if opts.Logs != nil {
		old := opts.Logs.Set(rl.Stdout())
		defer opts.Logs.Set(old)
	}

	// Ctrl-C while a command runs (the terminal is out of raw mode then)
	// cancels that command, as it interrupts a receive in iex.
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
			}
			mu.Unlock()
		}
	}()

	red := color.New(color.FgRed)
	if opts.Color {
		red.EnableColor()
	} else {
		red.DisableColor()
	}
	counter := 1
	interrupted := false
	for {
		if ctx.Err() != nil {
			return 0
		}
		rl.SetPrompt(prompt(opts.Node.Name(), counter))
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			if line == "" {
				if interrupted {
					return 0
				}
				interrupted = true
				fmt.Fprintln(rl.Stdout(), "(press Ctrl-C again or Ctrl-D to leave the shell)")
			}
			continue
		}
		interrupted = false
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(opts.Err, "gonode: read line: %v\n", err)
			return 1
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		evalCtx, cancel := context.WithCancel(ctx)
		mu.Lock()
		cancelEval = cancel
		mu.Unlock()
		res, err := commands.Eval(evalCtx, rt, line)
		mu.Lock()
		cancelEval = nil
		mu.Unlock()
		cancel()
		if errors.Is(err, commands.ErrEmpty) {
			continue
		}
		if err != nil {
			fmt.Fprintln(rl.Stdout(), red.Sprint(err.Error()))
			continue
		}
		printResult(rl.Stdout(), res)
		counter++
		if res.Halt {
			return res.ExitCode
		}
	}
}

// prompt returns iex's prompt with gonode's name: "gonode(hoge@host)1> ".
func prompt(name string, counter int) string {
	return fmt.Sprintf("gonode(%s)%d> ", name, counter)
}

func printResult(w io.Writer, res commands.Result) {
	var b strings.Builder
	for _, line := range res.Output {
		b.WriteString(line)
		b.WriteString("\n")
	}
	if !res.Halt && !res.Quiet {
		b.WriteString(term.Inspect(res.Value))
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}

// prepareHistory creates the history file with mode 0600 before the line
// editor opens it, so that history is never readable by others. A file
// that cannot be made gives one warning, and the shell runs without
// history: the returned path is then empty.
func prepareHistory(path string, errOut io.Writer) string {
	if path == "" {
		return ""
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		f.Close()
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		fmt.Fprintf(errOut, "gonode: warning: history is off: %v\n", err)
		return ""
	}
	return path
}

// completer completes command names at the start of the line.
type completer struct{}

// Do returns the completions of the word before pos.
func (completer) Do(line []rune, pos int) ([][]rune, int) {
	prefix := string(line[:pos])
	if i := strings.LastIndexAny(prefix, " (,{["); i >= 0 {
		prefix = prefix[i+1:]
	}
	var out [][]rune
	for _, name := range commands.Names() {
		if strings.HasPrefix(name, prefix) && name != prefix {
			out = append(out, []rune(name[len(prefix):]))
		}
	}
	return out, len([]rune(prefix))
}
