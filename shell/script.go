package shell

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gonode/gonode/commands"
)

// Output formats of the scripting modes.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// ScriptOptions are the command-line flags of the scripting modes.
type ScriptOptions struct {
	// Eval is one input to evaluate after the node starts (--eval).
	Eval string
	// NoHalt keeps the node running after Eval until SIGINT or SIGTERM
	// (--no-halt).
	NoHalt bool
	// File is a script to run instead of standard input (--script).
	File string
	// Format is FormatText (iex's inspect form) or FormatJSON (--format).
	Format string
}

// AddFlags defines --eval, --no-halt, --script and --format on fs.
func (o *ScriptOptions) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Eval, "eval", "", "evaluate `EXPR` after the node starts, print the result and exit: 0, or 1 on an error")
	fs.BoolVar(&o.NoHalt, "no-halt", false, "with --eval, keep the node running after the expression until SIGINT or SIGTERM")
	fs.StringVar(&o.File, "script", "", "run the commands of `FILE`, one result a line; a failing line makes the exit status 1")
	fs.StringVar(&o.Format, "format", FormatText, "print results in `FORMAT`: text (Elixir's inspect form) or json, one value a line (with --eval, --script or a pipe)")
}

// Check reports a flag combination that cannot work.
func (o *ScriptOptions) Check() error {
	switch {
	case o.Format != FormatText && o.Format != FormatJSON:
		return fmt.Errorf("invalid --format %q: want text or json", o.Format)
	case o.Eval != "" && o.File != "":
		return errors.New("--eval and --script are mutually exclusive: give one")
	case o.NoHalt && o.Eval == "":
		return errors.New("--no-halt works with --eval only")
	case o.File != "":
		if err := checkScriptFile(o.File); err != nil {
			return fmt.Errorf("--script: %w", err)
		}
	}
	return nil
}

// checkScriptFile checks that path names a readable file, so that a typo
// fails before the node starts. A regular file is opened and closed. A
// pipe or device is only checked to exist, because opening a named pipe
// waits for its writer.
func checkScriptFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory, want a file of commands", path)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// Scripted reports whether a scripting flag replaces the shell's input,
// so that the shell is not interactive.
func (o *ScriptOptions) Scripted() bool {
	return o.Eval != "" || o.File != "" || o.Format == FormatJSON
}

// runEval evaluates --eval's input and returns 0, 1 on an error, or the
// status of System.halt. With --no-halt it then waits until ctx is done.
func runEval(ctx context.Context, rt *Runtime, opts Options) int {
	p := newLinePrinter(opts)
	ev := opts.newEvaluator(rt, p.line)
	res, err := ev.Eval(ctx, opts.Script.Eval)
	status := 0
	switch {
	case errors.Is(err, commands.ErrEmpty):
	case err != nil:
		fmt.Fprintln(opts.Err, err)
		status = 1
	default:
		p.result(res)
		if res.Halt {
			return res.ExitCode
		}
	}
	if opts.Script.NoHalt {
		<-ctx.Done()
	}
	return status
}

func runScriptFile(ctx context.Context, rt *Runtime, opts Options) int {
	f, err := os.Open(opts.Script.File)
	if err != nil {
		fmt.Fprintf(opts.Err, "gonode: --script: %v\n", err)
		return 1
	}
	defer f.Close()
	return runLines(ctx, rt, opts, f, opts.Script.File)
}

// runLines evaluates the inputs of in, each one line or several while
// brackets or quotes are open. A failing input makes the exit status 1,
// and the inputs after it still run. Errors name file and line when file
// is set.
func runLines(ctx context.Context, rt *Runtime, opts Options, in io.Reader, file string) int {
	where := "standard input"
	if file != "" {
		where = file
	}
	p := newLinePrinter(opts)
	ev := opts.newEvaluator(rt, p.line)
	status := 0
	lineNo := 0
	var pending []string
	firstLine := 0
	lines := readLines(ctx, in)
	for {
		var ln inputLine
		select {
		case <-ctx.Done():
			// SIGINT or SIGTERM while waiting for input: a pipe that
			// never closes must not keep the node alive.
			fmt.Fprintf(opts.Err, "gonode: interrupted while reading line %d of %s\n", lineNo+1, where)
			return 1
		case l, ok := <-lines:
			if !ok {
				if len(pending) > 0 {
					_, err := ev.Eval(ctx, strings.Join(pending, "\n"))
					fmt.Fprintln(opts.Err, err)
					return 1
				}
				return status
			}
			ln = l
		}
		lineNo++
		if ln.err != nil {
			fmt.Fprintf(opts.Err, "gonode: read line %d of %s: %v\n", lineNo, where, ln.err)
			if !errors.Is(ln.err, errLineTooLong) {
				return 1
			}
			pending = nil
			status = 1
			continue
		}
		if len(pending) == 0 {
			firstLine = lineNo
		}
		pending = append(pending, ln.text)
		src := strings.Join(pending, "\n")
		if commands.Incomplete(src) && len(pending) < maxInputLines {
			continue
		}
		pending = nil
		res, err := ev.Eval(ctx, src)
		if errors.Is(err, commands.ErrEmpty) {
			continue
		}
		if errors.Is(err, ErrRemoteDown) {
			fmt.Fprintf(opts.Err, "gonode: %v\n", err)
			return 1
		}
		if err != nil {
			if file != "" {
				fmt.Fprintf(opts.Err, "%s:%d: ", file, firstLine)
			}
			fmt.Fprintln(opts.Err, err)
			status = 1
			continue
		}
		p.result(res)
		if res.Halt {
			return res.ExitCode
		}
	}
}

// errLineTooLong is the error of an input line longer than maxLine bytes.
// The line is skipped, and the lines after it still run.
var errLineTooLong = fmt.Errorf("line longer than %d bytes, skipped", maxLine)

// inputLine is one line read by readLines, or the error that ended it.
type inputLine struct {
	text string
	err  error
}

// readLines reads lines from in on a goroutine of its own, so that the
// caller can stop waiting when ctx is done. The channel is closed at the
// end of input or after a read error.
//
// NOTE: when ctx ends first, the goroutine stays blocked in Read until in
// closes; the process exits soon after, so it is not waited for.
func readLines(ctx context.Context, in io.Reader) <-chan inputLine {
	lines := make(chan inputLine)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(in, 64*1024)
		for {
			text, err := readLine(r)
			if err == io.EOF && text == "" {
				return
			}
			if err != nil && err != io.EOF && !errors.Is(err, errLineTooLong) {
				select {
				case lines <- inputLine{err: err}:
				case <-ctx.Done():
				}
				return
			}
			var lineErr error
			if errors.Is(err, errLineTooLong) {
				lineErr = err
			}
			select {
			case lines <- inputLine{text: text, err: lineErr}:
			case <-ctx.Done():
				return
			}
			if err == io.EOF {
				return
			}
		}
	}()
	return lines
}

// readLine reads one line without its line ending. A line longer than
// maxLine is read to its end and returned empty with errLineTooLong.
func readLine(r *bufio.Reader) (string, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLine+2 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			if err == nil || err == io.EOF {
				return "", errLineTooLong
			}
			return "", err
		}
		text := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
		return text, err
	}
}

// linePrinter prints the output of non-interactive modes: results in
// iex's inspect form on one line, or as JSON.
type linePrinter struct {
	out  io.Writer
	errs io.Writer
	json bool
}

func newLinePrinter(opts Options) *linePrinter {
	return &linePrinter{out: opts.Out, errs: opts.Err, json: opts.Script.Format == FormatJSON}
}

// line prints a line of a command's output, such as a message of flush().
// In JSON mode it is a JSON string.
func (p *linePrinter) line(s string) {
	if p.json {
		s = jsonLine(s)
	}
	fmt.Fprintln(p.out, s)
}

func (p *linePrinter) result(res commands.Result) {
	for _, line := range res.Output {
		p.line(line)
	}
	if res.Halt || res.Quiet {
		return
	}
	if !p.json {
		fmt.Fprintln(p.out, inspect(res.Value, 0, false))
		return
	}
	b, err := MarshalJSON(res.Value)
	if err != nil {
		fmt.Fprintf(p.errs, "gonode: print result as JSON: %v\n", err)
		return
	}
	fmt.Fprintln(p.out, string(b))
}
