package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// netnsSetup brings up loopback in a new network namespace and routes
// IPv4 multicast over it, as gossip needs; node/nodetest does the same.
const netnsSetup = `ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo src 127.0.0.1`

// runOptions are the flags of "harness run".
type runOptions struct {
	quick   bool
	bin     string
	erlDir  string
	noErl   string // why Erlang is not measured, when it is not
	outPath string
	command string
	only    string
}

// job is one scenario with its flags, run on each system in turn.
type job struct {
	scenario string
	suffix   string // appended to the unit's value keys to name figures
	args     []string
	systems  []string
	runs     int
	timeout  time.Duration
}

func runAll(args []string) int {
	var o runOptions
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.BoolVar(&o.quick, "quick", false, "fewer runs and messages: about a minute")
	fs.StringVar(&o.bin, "bin", "", "directory of the gonode and harness executables")
	fs.StringVar(&o.erlDir, "erl-dir", "", "directory of gonode_bench.beam; empty skips Erlang")
	fs.StringVar(&o.noErl, "no-erlang-reason", "", "why Erlang is skipped, for the report")
	fs.StringVar(&o.outPath, "out", "bench/results.json", "results `FILE`")
	fs.StringVar(&o.command, "command", "bench/run", "the command line, for the report")
	fs.StringVar(&o.only, "only", "", "comma-separated scenarios to run (default: all)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.bin == "" {
		fmt.Fprintln(os.Stderr, "harness run: --bin is required")
		return 2
	}
	began := time.Now()
	jobs := planJobs(o)
	if o.only != "" {
		keep := strings.Split(o.only, ",")
		jobs = slices.DeleteFunc(jobs, func(j job) bool { return !slices.Contains(keep, j.scenario) })
	}
	rep := newReport(o, machineInfo(o.erlDir != ""))
	if o.erlDir == "" {
		fmt.Fprintf(os.Stderr, "bench: Erlang/OTP columns skipped: %s\n", o.noErl)
	} else if o.quick && slices.ContainsFunc(jobs, func(j job) bool { return j.scenario == "failure" }) {
		rep.addNote("--quick skips Erlang's SIGSTOP figure, which takes 45 to 75 s a run (net_ticktime 60)")
	}
	total := 0
	for _, j := range jobs {
		total += j.runs * len(j.systems)
	}
	done := 0
	for _, j := range jobs {
		for r := range j.runs {
			for _, sys := range j.systems {
				done++
				unitStart := time.Now()
				res, err := runUnitInNetns(o, j, sys)
				status := formatValues(res.Values)
				if err != nil {
					status = "FAILED: " + err.Error()
					rep.Errors = append(rep.Errors, fmt.Sprintf("%s%s on %s, run %d: %v", j.scenario, j.suffix, sys, r+1, err))
				}
				for _, n := range res.Notes {
					rep.addNote(n)
				}
				fmt.Fprintf(os.Stderr, "[%d/%d] %s%s %s run %d/%d (%.1fs): %s\n", done, total, j.scenario, j.suffix, sys, r+1, j.runs,
					time.Since(unitStart).Seconds(), status)
				if err == nil {
					rep.add(j, sys, res.Values)
				}
			}
		}
	}
	rep.finish(time.Since(began))
	fmt.Print(rep.table(false))
	if err := rep.write(o.outPath); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s (%s)\n", o.outPath, time.Since(began).Round(time.Second))
	if len(rep.Errors) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d units failed; see \"errors\" in %s\n", len(rep.Errors), o.outPath)
		return 1
	}
	return 0
}

// planJobs lists the scenarios in the order they run. Quick runs use
// fewer runs and, where the counts would take long, fewer
// messages; results.json records the counts.
func planJobs(o runOptions) []job {
	pick := func(quick, full int) int {
		if o.quick {
			return quick
		}
		return full
	}
	erl := o.erlDir != ""
	both := []string{sysGonode}
	withTCP := []string{sysGonode, sysTCP}
	if erl {
		both = []string{sysGonode, sysErlang}
		withTCP = []string{sysGonode, sysErlang, sysTCP}
	}
	idle := "3s"
	if o.quick {
		idle = "1s"
	}
	jobs := []job{
		{scenario: "prompt", systems: both, runs: pick(3, 10)},
		{scenario: "boot_ping", systems: both, runs: pick(3, 10)},
		{scenario: "memory", systems: both, runs: pick(2, 5), args: []string{"--idle", idle}},
		{scenario: "autoconnect", systems: both, runs: pick(3, 10)},
	}
	for _, n := range []int{8, 32, 64} {
		jobs = append(jobs, job{scenario: "mesh", suffix: "_" + strconv.Itoa(n), systems: []string{sysGonode},
			runs: pick(1, 3), args: []string{"--count", strconv.Itoa(n)}})
	}
	for _, busy := range []bool{false, true} {
		suffix, extra := "", []string(nil)
		if busy {
			suffix, extra = "_busy", []string{"--busy"}
		}
		jobs = append(jobs,
			job{scenario: "connect", suffix: suffix, systems: both, runs: pick(2, 10),
				args: append([]string{"--count", strconv.Itoa(pick(20, 100))}, extra...)},
			job{scenario: "ping", suffix: suffix, systems: withTCP, runs: pick(2, 10),
				args: append([]string{"--count", "10000"}, extra...)},
			job{scenario: "echo", suffix: suffix, systems: withTCP, runs: pick(2, 5),
				args: append([]string{"--count", strconv.Itoa(pick(20_000, 100_000))}, extra...)},
		)
		if !busy {
			// gonode with transport encryption off, to show what the
			// AES-GCM sealing costs on the round trip.
			jobs = append(jobs, job{scenario: "ping", suffix: "_plain", systems: []string{sysGonode}, runs: pick(2, 10),
				args: []string{"--count", "10000", "--plain"}})
		}
	}
	messages := strconv.Itoa(pick(300_000, 1_000_000))
	jobs = append(jobs,
		job{scenario: "throughput", suffix: "_1", systems: withTCP, runs: pick(2, 5),
			args: []string{"--count", messages, "--senders", "1"}},
		job{scenario: "throughput", suffix: "_1_plain", systems: []string{sysGonode}, runs: pick(2, 5),
			args: []string{"--count", messages, "--senders", "1", "--plain"}},
		job{scenario: "throughput", suffix: "_2", systems: both, runs: pick(2, 5),
			args: []string{"--count", messages, "--senders", "2"}},
		job{scenario: "failure", suffix: "_kill", systems: both, runs: pick(2, 10),
			args: []string{"--signal", "KILL"}},
		job{scenario: "failure", suffix: "_stop", systems: []string{sysGonode}, runs: pick(2, 5),
			args: []string{"--signal", "STOP"}},
	)
	if erl && !o.quick {
		// Erlang notices a frozen peer after 45 to 75 s (net_ticktime
		// 60), so this runs in full runs only.
		jobs = append(jobs, job{scenario: "failure", suffix: "_stop", systems: []string{sysErlang}, runs: 2,
			args: []string{"--signal", "STOP"}, timeout: 5 * time.Minute})
	}
	return jobs
}

// runUnitInNetns runs one unit in a new private network namespace and
// returns what it measured.
func runUnitInNetns(o runOptions, j job, sys string) (unitResult, error) {
	timeout := j.timeout
	if timeout == 0 {
		timeout = 4 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	harness := o.bin + "/harness"
	args = append(args, "--", "/bin/sh", "-c", netnsSetup+` && exec "$0" "$@"`, harness, "unit",
		"--scenario", j.scenario, "--system", sys, "--bin", o.bin, "--erl-dir", o.erlDir)
	args = append(args, j.args...)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runErr := cmd.Run()
	var res unitResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("unit wrote no result (%v): %s", runErr, lastBytes(strings.TrimSpace(stderr.String()), 600))
	}
	if res.Error != "" {
		return res, fmt.Errorf("%s", res.Error)
	}
	return res, nil
}

func formatValues(values map[string]float64) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%s", k, strconv.FormatFloat(values[k], 'g', 5, 64))
	}
	return strings.Join(parts, " ")
}

// Machine describes the computer a run measured.
type Machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Memory string `json:"memory"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	OTP    string `json:"otp,omitempty"`
	Elixir string `json:"elixir,omitempty"`
}

func machineInfo(erlang bool) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		first, _, _ := strings.Cut(string(data), "\n")
		m.Memory = strings.Join(strings.Fields(strings.TrimPrefix(first, "MemTotal:")), " ")
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	if erlang {
		m.OTP = commandOutput("erl", "-noshell", "-eval",
			`io:format("~s (erts ~s)", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().`)
		if v := commandOutput("elixir", "--version"); v != "" {
			lines := strings.Split(strings.TrimSpace(v), "\n")
			m.Elixir = strings.TrimSpace(lines[len(lines)-1])
		}
	}
	return m
}

// commandOutput runs a short command and returns its output, or "" when
// it fails.
func commandOutput(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
