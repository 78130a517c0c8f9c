package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// figureDef describes one figure of the table.
type figureDef struct {
	id      string
	title   string
	unit    string
	message string
	// gonodeFrom names another figure whose gonode samples this one
	// shows, and tcpFrom one whose TCP samples it shows.
	gonodeFrom, tcpFrom string
	target              *target
}

// target is one goal of the issue, checked against the medians.
type target struct {
	text  string
	check func(f *Figure) (met bool, known bool)
}

// ratioAtMost is met when gonode/Erlang is at most max.
func ratioAtMost(text string, maxRatio float64) *target {
	return &target{text: text, check: func(f *Figure) (bool, bool) {
		if f.RatioErlang == nil {
			return false, false
		}
		return *f.RatioErlang <= maxRatio, true
	}}
}

// ratioAtLeast is met when gonode/Erlang is at least minRatio.
func ratioAtLeast(text string, minRatio float64) *target {
	return &target{text: text, check: func(f *Figure) (bool, bool) {
		if f.RatioErlang == nil {
			return false, false
		}
		return *f.RatioErlang >= minRatio, true
	}}
}

// valueBelow is met when gonode's median is below limit, or equal to it
// when orEqual is set.
func valueBelow(text string, limit float64, orEqual bool) *target {
	return &target{text: text, check: func(f *Figure) (bool, bool) {
		if f.Gonode == nil {
			return false, false
		}
		return f.Gonode.Median < limit || orEqual && f.Gonode.Median == limit, true
	}}
}

// roundTrip is met when gonode is no slower than Erlang and within 1.5
// times the plain-TCP limit. Without Erlang it is known only to be
// missed, when the limit is.
var roundTrip = &target{
	text: "<= Erlang and <= 1.5x TCP",
	check: func(f *Figure) (bool, bool) {
		if f.RatioTCP != nil && *f.RatioTCP > 1.5 {
			return false, true
		}
		if f.RatioTCP == nil || f.RatioErlang == nil {
			return false, false
		}
		return *f.RatioErlang <= 1, true
	},
}

func figureDefs() []figureDef {
	const (
		echoMsg   = "{:\"a@vm\", :bench, i} to a registered echo mailbox, sent back (Erlang: {self(), i})"
		streamMsg = "{:msg, i} to a registered mailbox"
	)
	defs := []figureDef{
		{id: "prompt_ms", title: "start-up to the shell prompt (Erlang: iex)", unit: "ms",
			target: ratioAtMost("<= 1/10 of iex", 0.1)},
		{id: "prompt_erl_ms", title: "start-up to the shell prompt (Erlang: erl)", unit: "ms", gonodeFrom: "prompt_ms"},
		{id: "boot_ping_ms", title: "start-up until the node answers a ping", unit: "ms"},
		{id: "memory_node_mib", title: "idle node resident memory", unit: "MiB",
			target: ratioAtMost("<= 1/3 of erl", 1.0/3)},
		{id: "memory_epmd_mib", title: "idle port mapper resident memory", unit: "MiB"},
		{id: "autoconnect_ms", title: "auto-connect of a 2nd node (Erlang: boot + ping, no gossip)", unit: "ms",
			target: valueBelow("< 30 ms", 30, false)},
		{id: "mesh_ms_8", title: "8 nodes started together, full mesh", unit: "ms"},
		{id: "mesh_ms_32", title: "32 nodes started together, full mesh", unit: "ms"},
		{id: "mesh_ms_64", title: "64 nodes started together, full mesh", unit: "ms",
			target: valueBelow("<= 2 s", 2000, true)},
	}
	for _, v := range []struct{ suffix, label string }{{"", "idle"}, {"_busy", "busy"}} {
		defs = append(defs, figureDef{id: "connect_us" + v.suffix, title: "connection set-up, fresh node (" + v.label + ")",
			unit: "µs", target: ratioAtMost("<= 1/3 of Erlang", 1.0/3)})
		for _, kind := range []string{"ping", "echo"} {
			for _, stat := range []string{"avg", "p50", "p99"} {
				d := figureDef{id: kind + "_" + stat + "_us" + v.suffix, unit: "µs"}
				d.title = fmt.Sprintf("%s round trip %s (%s)", kind, stat, v.label)
				if kind == "echo" {
					d.message = echoMsg
					d.title = fmt.Sprintf("echo round trip %s (%s)", stat, v.label)
				}
				if stat != "p99" {
					d.target = roundTrip
				}
				defs = append(defs, d)
			}
			if kind == "ping" && v.suffix == "" {
				defs = append(defs, plainPingDefs()...)
			}
		}
	}
	defs = append(defs,
		figureDef{id: "msgs_per_s_1", title: "one-way throughput, 1 sender", unit: "msg/s", message: streamMsg,
			target: ratioAtLeast(">= 2x Erlang (encryption on)", 2)},
		figureDef{id: "msgs_per_s_2", title: "one-way throughput, 2 senders", unit: "msg/s", message: streamMsg,
			tcpFrom: "msgs_per_s_1", target: ratioAtLeast(">= 2x Erlang (encryption on)", 2)},
		figureDef{id: "msgs_per_s_1_plain", title: "one-way throughput, 1 sender, encryption off", unit: "msg/s",
			message: streamMsg, tcpFrom: "msgs_per_s_1"},
		figureDef{id: "failure_ms_kill", title: "failure detection, SIGKILL of the peer", unit: "ms"},
		figureDef{id: "failure_ms_stop", title: "failure detection, SIGSTOP of the peer", unit: "ms",
			target: valueBelow("<= 5 s", 5000, true)},
	)
	return defs
}

// plainPingDefs are the figures of gonode's idle ping round trip with
// transport encryption off. They show the TCP limit of the encrypted
// figure, which the same unit measures. They have no Erlang column and
// no target.
// NOTE: the table has no column for the ratio to the encrypted figure,
// so a reader compares the rows above.
func plainPingDefs() []figureDef {
	var defs []figureDef
	for _, stat := range []string{"avg", "p50", "p99"} {
		defs = append(defs, figureDef{
			id:      "ping_" + stat + "_us_plain",
			title:   "ping round trip " + stat + " (idle, encryption off)",
			unit:    "µs",
			tcpFrom: "ping_" + stat + "_us",
		})
	}
	return defs
}

// Stats summarizes one system's samples of one figure.
type Stats struct {
	Median       float64   `json:"median"`
	Min          float64   `json:"min"`
	Max          float64   `json:"max"`
	Runs         int       `json:"runs"`
	Samples      []float64 `json:"samples"`
	MessageBytes float64   `json:"message_bytes,omitempty"`
}

// Figure is one row of the results.
type Figure struct {
	ID          string   `json:"id"`
	Title       string   `json:"figure"`
	Unit        string   `json:"unit"`
	Message     string   `json:"message,omitempty"`
	Count       int      `json:"count,omitempty"`
	Gonode      *Stats   `json:"gonode,omitempty"`
	Erlang      *Stats   `json:"erlang,omitempty"`
	TCP         *Stats   `json:"tcp,omitempty"`
	RatioErlang *float64 `json:"ratio_gonode_erlang,omitempty"`
	RatioTCP    *float64 `json:"ratio_gonode_tcp,omitempty"`
	Target      string   `json:"target,omitempty"`
	TargetMet   *bool    `json:"target_met,omitempty"`
}

// Report is the content of results.json.
type Report struct {
	Command   string    `json:"command"`
	Quick     bool      `json:"quick"`
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	Machine   Machine   `json:"machine"`
	Erlang    string    `json:"erlang"`
	Figures   []*Figure `json:"figures"`
	Notes     []string  `json:"notes,omitempty"`
	Errors    []string  `json:"errors,omitempty"`
	samples   map[string]map[string][]float64
	msgBytes  map[string]map[string]float64
	counts    map[string]int
	erlangRan bool
}

func newReport(o runOptions, m Machine) *Report {
	r := &Report{
		Command: o.command, Quick: o.quick, Started: time.Now().UTC().Truncate(time.Second), Machine: m,
		samples:   map[string]map[string][]float64{},
		msgBytes:  map[string]map[string]float64{},
		counts:    map[string]int{},
		erlangRan: o.erlDir != "",
	}
	r.Erlang = "measured in the same run, alternating with gonode"
	if !r.erlangRan {
		r.Erlang = "not measured: " + o.noErl
	}
	return r
}

func (r *Report) addNote(n string) {
	if !slices.Contains(r.Notes, n) {
		r.Notes = append(r.Notes, n)
	}
}

// add records one unit's values under the job's figure names.
func (r *Report) add(j job, sys string, values map[string]float64) {
	count := 0
	for i, a := range j.args {
		if a == "--count" && i+1 < len(j.args) {
			count, _ = strconv.Atoi(j.args[i+1])
		}
	}
	var ids []string
	for key, v := range values {
		if key == "message_bytes" {
			continue
		}
		id := key + j.suffix
		ids = append(ids, id)
		if r.samples[id] == nil {
			r.samples[id] = map[string][]float64{}
		}
		r.samples[id][sys] = append(r.samples[id][sys], v)
		if count > 0 {
			r.counts[id] = count
		}
	}
	if b, ok := values["message_bytes"]; ok {
		for _, id := range ids {
			if r.msgBytes[id] == nil {
				r.msgBytes[id] = map[string]float64{}
			}
			r.msgBytes[id][sys] = b
		}
	}
}

func summarize(samples []float64) *Stats {
	if len(samples) == 0 {
		return nil
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	med := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	return &Stats{Median: med, Min: sorted[0], Max: sorted[len(sorted)-1], Runs: len(sorted), Samples: samples}
}

// finish computes the figures from the samples.
func (r *Report) finish(elapsed time.Duration) {
	r.Seconds = math.Round(elapsed.Seconds())
	for _, d := range figureDefs() {
		f := &Figure{ID: d.id, Title: d.title, Unit: d.unit, Message: d.message, Count: r.counts[d.id]}
		gonodeID, tcpID := d.id, d.id
		if d.gonodeFrom != "" {
			gonodeID = d.gonodeFrom
		}
		if d.tcpFrom != "" {
			tcpID = d.tcpFrom
		}
		f.Gonode = summarize(r.samples[gonodeID][sysGonode])
		f.Erlang = summarize(r.samples[d.id][sysErlang])
		f.TCP = summarize(r.samples[tcpID][sysTCP])
		if f.Gonode == nil && f.Erlang == nil && f.TCP == nil {
			continue
		}
		for sys, s := range map[string]*Stats{sysGonode: f.Gonode, sysErlang: f.Erlang, sysTCP: f.TCP} {
			if s != nil {
				s.MessageBytes = r.msgBytes[d.id][sys]
				if sys == sysTCP {
					s.MessageBytes = r.msgBytes[tcpID][sys]
				}
			}
		}
		if f.Gonode != nil && f.Erlang != nil && f.Erlang.Median != 0 {
			v := f.Gonode.Median / f.Erlang.Median
			f.RatioErlang = &v
		}
		if f.Gonode != nil && f.TCP != nil && f.TCP.Median != 0 {
			v := f.Gonode.Median / f.TCP.Median
			f.RatioTCP = &v
		}
		if d.target != nil {
			f.Target = d.target.text
			if met, known := d.target.check(f); known {
				f.TargetMet = &met
			}
		}
		r.Figures = append(r.Figures, f)
	}
}

func (r *Report) write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// table formats the figures as aligned text, or as a Markdown table.
func (r *Report) table(markdown bool) string {
	var b strings.Builder
	head := []string{"figure", "unit", "gonode", "Erlang", "gonode/Erlang", "TCP limit", "gonode/TCP", "target", "met"}
	rows := [][]string{head}
	if markdown {
		rows = append(rows, []string{"---", "---", "---:", "---:", "---:", "---:", "---:", "---", "---"})
	}
	for _, f := range r.Figures {
		met := ""
		if f.TargetMet != nil {
			met = map[bool]string{true: "yes", false: "no"}[*f.TargetMet]
		} else if f.Target != "" {
			met = "n/a"
		}
		rows = append(rows, []string{
			f.Title, f.Unit, statText(f.Gonode), statText(f.Erlang), ratioText(f.RatioErlang),
			statText(f.TCP), ratioText(f.RatioTCP), f.Target, met,
		})
	}
	if markdown {
		for _, row := range rows {
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
		return b.String()
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nmedians of runs; machine: %s, %d cores, %s; %s\n", r.Machine.CPU, r.Machine.Cores, r.Machine.Kernel, r.Machine.Go)
	if r.Machine.OTP != "" {
		fmt.Fprintf(&b, "Erlang/OTP %s, %s\n", r.Machine.OTP, r.Machine.Elixir)
	} else {
		fmt.Fprintf(&b, "Erlang: %s\n", r.Erlang)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

func statText(s *Stats) string {
	if s == nil {
		return "-"
	}
	return formatNumber(s.Median)
}

func ratioText(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

// formatNumber prints three significant digits, and large numbers whole.
func formatNumber(v float64) string {
	switch {
	case v >= 10000:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// printTable prints the table of a results file, as text or Markdown.
func printTable(args []string) int {
	markdown := len(args) > 0 && args[0] == "--markdown"
	if markdown {
		args = args[1:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: harness table [--markdown] RESULTS.json")
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness table:", err)
		return 1
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		fmt.Fprintf(os.Stderr, "harness table: invalid %s: %v\n", args[0], err)
		return 1
	}
	fmt.Print(r.table(markdown))
	return 0
}
