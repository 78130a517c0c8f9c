package commands

import (
	"fmt"
	"slices"
	"time"

	"github.com/gonode/gonode/node/term"
)

func runSelf(ev *evaluator, _ []any) (any, error) {
	return ev.rt.Self(), nil
}

func runAlive(*evaluator, []any) (any, error) { return true, nil }

func atomList(nodes []term.Atom) term.List {
	out := make(term.List, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n)
	}
	return out
}

// runList returns the connected nodes, or with an argument the nodes of
// one kind or a list of kinds, as Node.list/1 does. Each node appears
// once, in the order of the kinds.
func runList(ev *evaluator, args []any) (any, error) {
	if len(args) == 0 {
		return atomList(ev.rt.List()), nil
	}
	kinds, ok := args[0].(term.List)
	if !ok {
		kinds = term.List{args[0]}
	}
	var nodes []term.Atom
	add := func(ns ...term.Atom) {
		for _, n := range ns {
			if !slices.Contains(nodes, n) {
				nodes = append(nodes, n)
			}
		}
	}
	for _, k := range kinds {
		switch k {
		case term.Atom("visible"):
			add(ev.rt.List()...)
		case term.Atom("connected"):
			add(ev.rt.List()...)
			add(ev.rt.Hidden()...)
		case term.Atom("hidden"):
			add(ev.rt.Hidden()...)
		case term.Atom("this"):
			add(ev.rt.Self())
		case term.Atom("known"):
			add(ev.rt.Self())
			add(ev.rt.List()...)
			add(ev.rt.Known()...)
		default:
			return nil, argumentErrorf("invalid node kind %s for Node.list/1: expected :visible, :hidden, :connected, :this, :known or a list of them", term.Inspect(k))
		}
	}
	return atomList(nodes), nil
}

func runPing(ev *evaluator, args []any) (any, error) {
	node, err := nodeName(fmt.Sprintf("Node.ping/%d", len(args)), args[0])
	if err != nil {
		return nil, err
	}
	if len(args) == 2 {
		return pingSeries(ev, node, args[1])
	}
	if _, err := ev.rt.Ping(ev.ctx, node); err != nil {
		return term.Atom("pang"), nil
	}
	return term.Atom("pong"), nil
}

// pingOptions are the options of Node.ping/2.
type pingOptions struct {
	count    int
	interval time.Duration
}

// maxPingCount bounds Node.ping(node, count: n).
const maxPingCount = 10000

func parsePingOptions(v any) (pingOptions, error) {
	opts := pingOptions{count: 1, interval: time.Second}
	kw, ok := keywordList(v)
	if !ok {
		return opts, argumentErrorf("invalid options %s for Node.ping/2: expected a keyword list like [count: 3, interval: 200]", term.Inspect(v))
	}
	for _, kv := range kw {
		n, isInt := kv.value.(int64)
		switch {
		case kv.key == "count" && isInt && n >= 1 && n <= maxPingCount:
			opts.count = int(n)
		case kv.key == "interval" && isInt && n >= 0 && n <= 3_600_000:
			opts.interval = time.Duration(n) * time.Millisecond
		case kv.key == "count":
			return opts, argumentErrorf("invalid count %s for Node.ping/2: expected an integer from 1 to %d", term.Inspect(kv.value), maxPingCount)
		case kv.key == "interval":
			return opts, argumentErrorf("invalid interval %s for Node.ping/2: expected milliseconds from 0 to 3600000", term.Inspect(kv.value))
		default:
			return opts, argumentErrorf("unknown option %s for Node.ping/2: expected count or interval", term.Inspect(kv.key))
		}
	}
	return opts, nil
}

type keywordPair struct {
	key   term.Atom
	value any
}

// keywordList returns the pairs of a keyword list.
func keywordList(v any) ([]keywordPair, bool) {
	l, ok := v.(term.List)
	if !ok {
		return nil, false
	}
	out := make([]keywordPair, 0, len(l))
	for _, el := range l {
		t, ok := el.(term.Tuple)
		if !ok || len(t) != 2 {
			return nil, false
		}
		k, ok := t[0].(term.Atom)
		if !ok {
			return nil, false
		}
		out = append(out, keywordPair{k, t[1]})
	}
	return out, true
}

// pingSeries runs Node.ping(node, count: n, interval: ms), printing a line
// per ping and the statistics of ping(8) at the end.
func pingSeries(ev *evaluator, node term.Atom, optArg any) (any, error) {
	opts, err := parsePingOptions(optArg)
	if err != nil {
		return nil, err
	}
	var rtts []time.Duration
	sent := 0
	for seq := 1; seq <= opts.count && ev.ctx.Err() == nil; seq++ {
		if seq > 1 && !sleepCtx(ev, opts.interval) {
			break
		}
		sent++
		rtt, err := ev.rt.Ping(ev.ctx, node)
		switch {
		case err == nil:
			rtts = append(rtts, rtt)
			ev.print(fmt.Sprintf("pong from %s: seq=%d time=%s", term.Inspect(node), seq, formatMillis(rtt)))
		case ev.ctx.Err() != nil:
			sent--
		default:
			ev.print(fmt.Sprintf("pang from %s: seq=%d %v", term.Inspect(node), seq, err))
		}
	}
	ev.print(fmt.Sprintf("--- %s ping statistics ---", term.Inspect(node)))
	lost := 0
	if sent > 0 {
		lost = (sent - len(rtts)) * 100 / sent
	}
	ev.print(fmt.Sprintf("%d pings sent, %d pongs received, %d%% lost", sent, len(rtts), lost))
	if len(rtts) > 0 {
		minRTT, maxRTT := slices.Min(rtts), slices.Max(rtts)
		var sum time.Duration
		for _, r := range rtts {
			sum += r
		}
		avg := sum / time.Duration(len(rtts))
		ev.print(fmt.Sprintf("rtt min/avg/max = %.3f/%.3f/%.3f ms", millis(minRTT), millis(avg), millis(maxRTT)))
		return term.Atom("pong"), nil
	}
	return term.Atom("pang"), nil
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func formatMillis(d time.Duration) string { return fmt.Sprintf("%.3f ms", millis(d)) }

// sleepCtx waits d and reports false when the evaluation was interrupted
// first.
func sleepCtx(ev *evaluator, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ev.ctx.Done():
		return false
	}
}

func runConnect(ev *evaluator, args []any) (any, error) {
	node, err := nodeName("Node.connect/1", args[0])
	if err != nil {
		return nil, err
	}
	return ev.rt.Connect(ev.ctx, node), nil
}

func runDisconnect(ev *evaluator, args []any) (any, error) {
	node, err := nodeName("Node.disconnect/1", args[0])
	if err != nil {
		return nil, err
	}
	return ev.rt.Disconnect(node), nil
}

func runMonitor(ev *evaluator, args []any) (any, error) {
	node, err := nodeName("Node.monitor/2", args[0])
	if err != nil {
		return nil, err
	}
	on, ok := args[1].(bool)
	if !ok {
		return nil, argumentErrorf("invalid flag %s for Node.monitor/2: expected true or false", term.Inspect(args[1]))
	}
	if err := ev.rt.Monitor(ev.ctx, node, on); err != nil {
		return nil, &Error{Kind: "ArgumentError", Message: fmt.Sprintf("Node.monitor/2 of %s failed: %v", term.Inspect(node), err), Err: err}
	}
	return true, nil
}

// runInfo returns Node.info(node) as a map with atom keys.
func runInfo(ev *evaluator, args []any) (any, error) {
	node, err := nodeName("Node.info/1", args[0])
	if err != nil {
		return nil, err
	}
	info, err := ev.rt.Info(node)
	if err != nil {
		return nil, &Error{Kind: "ArgumentError", Message: fmt.Sprintf("Node.info/1 of %s failed: %v", term.Inspect(node), err), Err: err}
	}
	if info.Connected && info.LastRTT == 0 && node != ev.rt.Self() {
		if rtt, err := ev.rt.Ping(ev.ctx, node); err == nil {
			info.LastRTT = rtt
		}
	}
	m := term.NewMap(term.Pair{Key: term.Atom("connected"), Value: info.Connected})
	put := func(key string, v any) { m.Put(term.Atom(key), v) }
	put("strategy", nil)
	put("address", nil)
	put("connected_since", nil)
	put("last_rtt_ms", nil)
	if info.Strategy != "" {
		put("strategy", term.Atom(info.Strategy))
	}
	if info.Address != "" {
		put("address", info.Address)
	}
	if !info.Since.IsZero() {
		put("connected_since", info.Since.UTC().Format(time.RFC3339))
	}
	if info.LastRTT > 0 {
		put("last_rtt_ms", millis(info.LastRTT))
	}
	if info.Connected && node != ev.rt.Self() {
		put("messages_in", int64(info.MessagesIn))
		put("messages_out", int64(info.MessagesOut))
		put("bytes_in", int64(info.BytesIn))
		put("bytes_out", int64(info.BytesOut))
	}
	return m, nil
}

// nodeName converts a node argument of fn: an atom, or a string naming
// one.
func nodeName(fn string, v any) (term.Atom, error) {
	switch x := v.(type) {
	case term.Atom:
		if x != "" {
			return x, nil
		}
	case string:
		if x != "" && len(x) <= term.MaxAtomLen*4 {
			return term.Atom(x), nil
		}
	}
	return "", argumentErrorf(`invalid node name %s for %s: expected an atom like :"b@vm"`, term.Inspect(v), fn)
}
