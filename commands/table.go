package commands

import (
	"strconv"
	"strings"
)

// command is one shell command. The table below is the single source of
// names, arities, help text and completion.
type command struct {
	name    string // "Node.ping" or "flush"
	arities []int
	usage   []string // call forms shown by h, one for each way to call it
	help    string   // one line for the list that h shows
	doc     string   // more detail, shown by h with the command's name
	// nodeArg is the index of the argument that names a node, where a
	// bare name like b@vm means the atom; -1 when there is none.
	nodeArg int
	// quoted commands get their arguments unevaluated, as source names,
	// as h Node.ping does.
	quoted bool
	run    func(ev *evaluator, args []any) (any, error)
}

func (c *command) acceptsArity(n int) bool {
	for _, a := range c.arities {
		if a == n {
			return true
		}
	}
	return false
}

// signatures returns "Node.ping/1" or "System.halt/0, System.halt/1".
func (c *command) signatures() string {
	var parts []string
	for _, a := range c.arities {
		parts = append(parts, c.name+"/"+strconv.Itoa(a))
	}
	return strings.Join(parts, ", ")
}

// module returns "Node" for Node.ping and "" for a local command.
func (c *command) module() string {
	if i := strings.LastIndexByte(c.name, '.'); i >= 0 {
		return c.name[:i]
	}
	return ""
}

// commandTable lists every command; init fills it to avoid an
// initialization cycle through the run functions.
var commandTable []command

func init() {
	commandTable = []command{
		{name: "Node.self", arities: []int{0}, usage: []string{"Node.self"}, help: "this node's name", nodeArg: -1, run: runSelf},
		{name: "node", arities: []int{0}, usage: []string{"node()"}, help: "this node's name, like Node.self", nodeArg: -1, run: runSelf},
		{name: "Node.alive?", arities: []int{0}, usage: []string{"Node.alive?"}, help: "true: a gonode node is always distributed", nodeArg: -1, run: runAlive},
		{name: "Node.list", arities: []int{0, 1}, usage: []string{"Node.list", "Node.list(kind)"}, help: "connected nodes, or the nodes of kind",
			doc: "kind is :visible (connected nodes, the default), :hidden (nodes connected over hidden connections: with --hidden, on either side), " +
				":connected (visible and hidden), :this (this node), :known (this node and every node connected since the shell started), " +
				"or a list of these, such as [:this, :visible].",
			nodeArg: -1, run: runList},
		{name: "Node.ping", arities: []int{1, 2}, usage: []string{"Node.ping(node)", "Node.ping(node, count: n, interval: ms)"}, help: "ping a node: :pong on a reply, else :pang",
			doc: "With count, sends n pings interval milliseconds apart (default 1000), prints each round trip as it comes and then min/avg/max, as ping(8) does. " +
				"It returns :pong when any ping was answered. Ctrl-C stops early and prints the statistics so far.",
			nodeArg: 0, run: runPing},
		{name: "Node.connect", arities: []int{1}, usage: []string{"Node.connect(node)"}, help: "connect to a node: true or false", nodeArg: 0, run: runConnect},
		{name: "Node.disconnect", arities: []int{1}, usage: []string{"Node.disconnect(node)"}, help: "drop the connection to a node: true or false", nodeArg: 0, run: runDisconnect},
		{name: "Node.monitor", arities: []int{2}, usage: []string{"Node.monitor(node, true | false)"}, help: "deliver {:nodeup, node} and {:nodedown, node} to this shell",
			doc: "Turning a monitor on connects to the node; when that fails, {:nodedown, node} arrives at once. " +
				"Unlike Erlang's monitor_node, the monitor stays on after a nodedown and also reports each nodeup, until Node.monitor(node, false). Read the messages with flush() or receive.",
			nodeArg: 0, run: runMonitor},
		{name: "Node.info", arities: []int{1}, usage: []string{"Node.info(node)"}, help: "how a node was found, its address, since when, last round trip, traffic",
			doc: "Returns a map: connected, strategy (the discovery strategy, :node for Node.connect or Node.ping, :incoming when the peer connected), " +
				"address, connected_since (UTC, ISO 8601), last_rtt_ms, the last round trip this shell measured (Node.info pings once when there is none), " +
				"and for a connected peer messages_in, messages_out, bytes_in and bytes_out: the messages each way since the connection was made and their bytes on the wire before encryption.",
			nodeArg: 0, run: runInfo},
		{name: "self", arities: []int{0}, usage: []string{"self()"}, help: "the pid of this shell", nodeArg: -1, run: runSelfPID},
		{name: "send", arities: []int{2}, usage: []string{"send(dest, message)"}, help: "send a message to a pid, a local name or {name, node}; returns the message", nodeArg: -1, run: runSend},
		{name: "flush", arities: []int{0}, usage: []string{"flush()"}, help: "print and remove the messages sent to this shell", nodeArg: -1, run: runFlush},
		{name: "receive", arities: []int{0, 1}, usage: []string{"receive(ms)", "receive()"}, help: "the next message to this shell, or :timeout after ms milliseconds",
			doc: "gonode's form of receive do msg -> msg after ms -> :timeout end. " +
				"receive() and receive(:infinity) wait until a message arrives or Ctrl-C; receive(0) only looks.",
			nodeArg: -1, run: runReceive},
		{name: "Process.register", arities: []int{2}, usage: []string{"Process.register(pid, name)"}, help: "register a local pid under an atom name: true", nodeArg: -1, run: runRegister},
		{name: "Process.unregister", arities: []int{1}, usage: []string{"Process.unregister(name)"}, help: "remove a registered name: true", nodeArg: -1, run: runUnregister},
		{name: "Process.whereis", arities: []int{1}, usage: []string{"Process.whereis(name)"}, help: "the pid registered under name, or nil", nodeArg: -1, run: runWhereis},
		{name: "Process.registered", arities: []int{0}, usage: []string{"Process.registered"}, help: "the registered names", nodeArg: -1, run: runRegistered},
		{name: "Process.sleep", arities: []int{1}, usage: []string{"Process.sleep(ms)"}, help: "wait ms milliseconds (or :infinity until interrupted)", nodeArg: -1, run: runSleep},
		{name: "v", arities: []int{0, 1}, usage: []string{"v(n)", "v()"}, help: "the value of input n (negative: counted back), v() the last",
			nodeArg: -1, run: runV},
		{name: "length", arities: []int{1}, usage: []string{"length(list)"}, help: "the number of elements of a list", nodeArg: -1, run: runLength},
		{name: "hd", arities: []int{1}, usage: []string{"hd(list)"}, help: "the first element of a list", nodeArg: -1, run: runHd},
		{name: "tl", arities: []int{1}, usage: []string{"tl(list)"}, help: "a list without its first element", nodeArg: -1, run: runTl},
		{name: "elem", arities: []int{2}, usage: []string{"elem(tuple, index)"}, help: "the element of a tuple at a 0-based index", nodeArg: -1, run: runElem},
		{name: "Map.get", arities: []int{2, 3}, usage: []string{"Map.get(map, key, default \\\\ nil)"}, help: "the value of a key, or default", nodeArg: -1, run: runMapGet},
		{name: "Map.keys", arities: []int{1}, usage: []string{"Map.keys(map)"}, help: "the keys of a map, in term order", nodeArg: -1, run: runMapKeys},
		{name: "h", arities: []int{0, 1}, usage: []string{"h", "h Node.ping"}, help: "show this help, or the help of one command or module", nodeArg: -1, quoted: true, run: runHelp},
		{name: "help", arities: []int{0}, usage: []string{"help"}, help: "show this help", nodeArg: -1, run: runHelp},
		{name: "clear", arities: []int{0}, usage: []string{"clear"}, help: "clear the terminal", nodeArg: -1, run: runClear},
		{name: "System.halt", arities: []int{0, 1}, usage: []string{"System.halt(code \\\\ 0)"}, help: "exit the shell with a status code from 0 to 255", nodeArg: -1, run: runHalt},
	}
}
