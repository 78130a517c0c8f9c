package commands

import (
	"fmt"
	"strings"
)

// Names returns every command spelling, such as "Node.list", "node",
// "flush" and "h", for completion and suggestions.
func Names() []string {
	var names []string
	for _, c := range commandTable {
		names = append(names, c.name)
	}
	return names
}

// Help returns the help text that h prints, one line per command.
func Help() []string {
	lines := []string{"Commands (parentheses are optional for zero or one argument):"}
	width := 0
	for _, c := range commandTable {
		width = max(width, len(c.usage[0]))
	}
	for _, c := range commandTable {
		lines = append(lines, fmt.Sprintf("  %-*s  %s", width, c.usage[0], c.help))
	}
	lines = append(lines,
		`Nodes are atoms like :"b@vm"; "b@vm" and b@vm work too.`,
		"Bind a variable with name = expression; pipe with value |> call(more args).",
		"h Node.ping shows the details of one command, h Node those of a module.")
	return lines
}

// HelpFor returns the help of the command or module name, as h Node.ping
// and h Node print it, and false when nothing has that name.
func HelpFor(name string) ([]string, bool) {
	var lines []string
	for i := range commandTable {
		c := &commandTable[i]
		if c.name != name && c.module() != name {
			continue
		}
		if lines != nil {
			lines = append(lines, "")
		}
		lines = append(lines, c.usage...)
		lines = append(lines, "", "  "+c.help+".")
		if c.doc != "" {
			lines = append(lines, wrap(c.doc, 76, "  ")...)
		}
	}
	return lines, lines != nil
}

// wrap breaks text into lines of at most width characters after indent.
func wrap(text string, width int, indent string) []string {
	var lines []string
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

func runHelp(ev *evaluator, args []any) (any, error) {
	ev.result.Quiet = true
	if len(args) == 0 {
		for _, line := range Help() {
			ev.print(line)
		}
		return nil, nil
	}
	name := args[0].(string)
	lines, ok := HelpFor(name)
	if !ok {
		msg := fmt.Sprintf("no help for %s", name)
		if near := nearestCommand(name); near != nil {
			msg += ". Did you mean: " + near.name
		}
		return nil, &Error{Kind: "ArgumentError", Message: msg + "; h lists every command"}
	}
	for _, line := range lines {
		ev.print(line)
	}
	return nil, nil
}
