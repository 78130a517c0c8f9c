// Package shell is gonode's interactive shell: a readline prompt in the
// manner of iex when standard input is a terminal, and a line-by-line
// command reader for pipes, scripts (--script) and one expression
// (--eval). The commands themselves are parsed and evaluated by package
// commands; this package reads input, prints results and keeps log lines
// from other goroutines above the prompt.
package shell

import (
	"context"
	"fmt"
	"io"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node"
)

// MailboxName is the registered name of the shell's mailbox:
// send({:shell, node}, msg) reaches the shell.
const MailboxName = "shell"

// maxLine is the longest line read from a pipe or script.
const maxLine = 1 << 20

// maxInputLines bounds the lines of one input that stays incomplete, such
// as a string whose closing quote never comes.
const maxInputLines = 1000

// Options set up a shell.
type Options struct {
	Node    *node.Node
	Mailbox *node.Mailbox

	In  io.Reader
	Out io.Writer
	Err io.Writer

	// Interactive selects the readline prompt; otherwise input is read
	// from In, Script or Eval with no prompt and results printed one a
	// line.
	Interactive bool
	// Color paints results and errors with iex's default colors.
	Color bool
	// HistoryFile keeps line-editing history; empty means none.
	HistoryFile string
	// Logs is the log output, which the interactive shell points at the
	// line editor so that log lines print above the prompt.
	Logs *SwitchWriter

	// Script selects the scripting modes of the command line.
	Script ScriptOptions

	// Remote, when set, runs every input on the remote node in place of
	// Node (gonode --remsh), in every mode.
	Remote *RemoteShell
}

// evaluator runs the inputs of one shell: in a session on this node, or
// in a remote one for --remsh.
type evaluator interface {
	Eval(ctx context.Context, src string) (commands.Result, error)
	// Counter returns the number of the next input, for the prompt.
	Counter() int
	Variables() []string
	// NodeName returns the node where the inputs run.
	NodeName() string
}

// localEvaluator runs inputs in a session on this node.
type localEvaluator struct {
	session *commands.Session
	rt      *Runtime
}

func (e *localEvaluator) Eval(ctx context.Context, src string) (commands.Result, error) {
	return e.session.Eval(ctx, e.rt, src)
}

func (e *localEvaluator) Counter() int        { return e.session.Counter() }
func (e *localEvaluator) Variables() []string { return e.session.Variables() }
func (e *localEvaluator) NodeName() string    { return string(e.rt.Self()) }

// nodeName returns the name of the node where inputs run.
func (opts Options) nodeName() string {
	if opts.Remote != nil {
		return opts.Remote.NodeName()
	}
	return opts.Node.Name()
}

// newEvaluator returns the remote shell, or else a new local session
// whose commands print their lines with print as they come.
func (opts Options) newEvaluator(rt *Runtime, print func(string)) evaluator {
	if opts.Remote != nil {
		return opts.Remote
	}
	session := commands.NewSession()
	session.Print = print
	return &localEvaluator{session: session, rt: rt}
}

// Run reads and evaluates commands until the input ends, System.halt or
// ctx is done, and returns the exit status.
func Run(ctx context.Context, opts Options) int {
	rt := NewRuntime(opts.Node, opts.Mailbox)
	defer rt.Close()
	switch {
	case opts.Script.Eval != "":
		return runEval(ctx, rt, opts)
	case opts.Script.File != "":
		return runScriptFile(ctx, rt, opts)
	case opts.Interactive && opts.Script.Format != FormatJSON:
		return runInteractive(ctx, rt, opts)
	}
	return runLines(ctx, rt, opts, opts.In, "")
}

// prompt returns iex's prompt with gonode's name: "gonode(hoge@host)1> ".
func prompt(name string, counter int) string {
	return fmt.Sprintf("gonode(%s)%d> ", name, counter)
}

// continuationPrompt is shown while brackets or quotes are open:
// "...(hoge@host)1> ".
func continuationPrompt(name string, counter int) string {
	return fmt.Sprintf("...(%s)%d> ", name, counter)
}
