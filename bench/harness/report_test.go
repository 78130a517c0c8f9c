package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		in                    []float64
		median, minimum, maxi float64
	}{
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
	}
	for _, tt := range tests {
		s := summarize(tt.in)
		if s.Median != tt.median {
			t.Errorf("summarize(%v).Median = %v, want %v", tt.in, s.Median, tt.median)
		}
		if s.Min != tt.minimum || s.Max != tt.maxi {
			t.Errorf("summarize(%v) min, max = %v, %v, want %v, %v", tt.in, s.Min, s.Max, tt.minimum, tt.maxi)
		}
		if s.Runs != len(tt.in) {
			t.Errorf("summarize(%v).Runs = %d, want %d", tt.in, s.Runs, len(tt.in))
		}
	}
	if summarize(nil) != nil {
		t.Error("summarize(nil) is not nil")
	}
}

func TestPercentileNearestRank(t *testing.T) {
	sorted := make([]time.Duration, 100)
	for i := range sorted {
		sorted[i] = time.Duration(i + 1)
	}
	tests := []struct{ p, want int }{{50, 50}, {99, 99}, {1, 1}, {100, 100}}
	for _, tt := range tests {
		if got := percentile(sorted, tt.p); got != time.Duration(tt.want) {
			t.Errorf("percentile(1..100, %d) = %d, want %d", tt.p, got, tt.want)
		}
	}
	if got := percentile([]int{7}, 99); got != 7 {
		t.Errorf("percentile([7], 99) = %d, want 7", got)
	}
}

// reportWith builds a report from samples of one figure per system.
func reportWith(id string, samples map[string][]float64) *Report {
	r := newReport(runOptions{erlDir: "x"}, Machine{})
	for sys, values := range samples {
		for _, v := range values {
			r.add(job{}, sys, map[string]float64{id: v})
		}
	}
	r.finish(time.Second)
	return r
}

func figure(t *testing.T, r *Report, id string) *Figure {
	t.Helper()
	for _, f := range r.Figures {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no figure %s in %v", id, r.Figures)
	return nil
}

func TestTargets(t *testing.T) {
	tests := []struct {
		id      string
		samples map[string][]float64
		met     bool
	}{
		{"prompt_ms", map[string][]float64{sysGonode: {5}, sysErlang: {100}}, true},
		{"prompt_ms", map[string][]float64{sysGonode: {11}, sysErlang: {100}}, false},
		{"memory_node_mib", map[string][]float64{sysGonode: {10}, sysErlang: {33}}, true},
		{"autoconnect_ms", map[string][]float64{sysGonode: {30}}, false},
		{"mesh_ms_64", map[string][]float64{sysGonode: {2000}}, true},
		{"failure_ms_stop", map[string][]float64{sysGonode: {5001}}, false},
		{"ping_avg_us", map[string][]float64{sysGonode: {30}, sysErlang: {40}, sysTCP: {20}}, true},
		{"ping_avg_us", map[string][]float64{sysGonode: {31}, sysErlang: {40}, sysTCP: {20}}, false},
		{"ping_avg_us", map[string][]float64{sysGonode: {30}, sysErlang: {29}, sysTCP: {20}}, false},
		// Past 1.5x the TCP limit the target is missed, Erlang or not.
		{"ping_avg_us", map[string][]float64{sysGonode: {31}, sysTCP: {20}}, false},
		{"msgs_per_s_1", map[string][]float64{sysGonode: {2e6}, sysErlang: {1e6}}, true},
		{"msgs_per_s_1", map[string][]float64{sysGonode: {1.9e6}, sysErlang: {1e6}}, false},
	}
	for _, tt := range tests {
		f := figure(t, reportWith(tt.id, tt.samples), tt.id)
		if f.TargetMet == nil {
			t.Errorf("%s %v: target not checked", tt.id, tt.samples)
			continue
		}
		if *f.TargetMet != tt.met {
			t.Errorf("%s %v: target met = %v, want %v", tt.id, tt.samples, *f.TargetMet, tt.met)
		}
	}
}

func TestTargetUnknownWithoutErlang(t *testing.T) {
	f := figure(t, reportWith("connect_us", map[string][]float64{sysGonode: {500}}), "connect_us")
	if f.TargetMet != nil {
		t.Errorf("connect_us without Erlang: target met = %v, want unknown", *f.TargetMet)
	}
	if !strings.Contains(reportWith("connect_us", map[string][]float64{sysGonode: {500}}).table(true), "| n/a |") {
		t.Error("table does not mark the unknown target n/a")
	}
}

func TestRoundTripUnknownWithoutErlang(t *testing.T) {
	f := figure(t, reportWith("ping_p50_us", map[string][]float64{sysGonode: {20}, sysTCP: {20}}), "ping_p50_us")
	if f.TargetMet != nil {
		t.Errorf("ping_p50_us within the TCP limit, without Erlang: target met = %v, want unknown", *f.TargetMet)
	}
}

func TestFigureCopiesSamples(t *testing.T) {
	r := newReport(runOptions{}, Machine{})
	r.add(job{}, sysGonode, map[string]float64{"prompt_ms": 4})
	r.add(job{}, sysErlang, map[string]float64{"prompt_erl_ms": 200})
	r.add(job{suffix: "_1"}, sysTCP, map[string]float64{"msgs_per_s": 1e7, "message_bytes": 33})
	r.add(job{suffix: "_2"}, sysGonode, map[string]float64{"msgs_per_s": 5e5})
	r.finish(time.Second)
	erl := figure(t, r, "prompt_erl_ms")
	if erl.Gonode == nil || erl.Gonode.Median != 4 {
		t.Errorf("prompt_erl_ms gonode = %+v, want the samples of prompt_ms", erl.Gonode)
	}
	two := figure(t, r, "msgs_per_s_2")
	if two.TCP == nil || two.TCP.Median != 1e7 || two.TCP.MessageBytes != 33 {
		t.Errorf("msgs_per_s_2 tcp = %+v, want the samples of msgs_per_s_1", two.TCP)
	}
}

func TestPlanCoversScenarios(t *testing.T) {
	for _, quick := range []bool{true, false} {
		var seen []string
		for _, j := range planJobs(runOptions{quick: quick, erlDir: "x"}) {
			if j.runs < 1 {
				t.Errorf("quick=%v: %s%s has %d runs", quick, j.scenario, j.suffix, j.runs)
			}
			if !slices.Contains(seen, j.scenario) {
				seen = append(seen, j.scenario)
			}
		}
		want := []string{"prompt", "boot_ping", "memory", "autoconnect", "mesh", "connect", "ping", "echo", "throughput", "failure"}
		for _, s := range want {
			if !slices.Contains(seen, s) {
				t.Errorf("quick=%v: no job runs scenario %s", quick, s)
			}
		}
	}
}

func TestPlanPlainJobsGonodeOnly(t *testing.T) {
	jobs := planJobs(runOptions{erlDir: "x"})
	for _, want := range []struct{ scenario, suffix string }{{"ping", "_plain"}, {"throughput", "_1_plain"}} {
		i := slices.IndexFunc(jobs, func(j job) bool { return j.scenario == want.scenario && j.suffix == want.suffix })
		if i < 0 {
			t.Errorf("no job %s%s", want.scenario, want.suffix)
			continue
		}
		j := jobs[i]
		if !slices.Equal(j.systems, []string{sysGonode}) {
			t.Errorf("%s%s systems = %v, want gonode only", j.scenario, j.suffix, j.systems)
		}
		if !slices.Contains(j.args, "--plain") {
			t.Errorf("%s%s args = %v, want --plain", j.scenario, j.suffix, j.args)
		}
	}
	for _, j := range jobs {
		if slices.Contains(j.args, "--plain") != strings.HasSuffix(j.suffix, "_plain") {
			t.Errorf("%s%s args = %v: --plain and the _plain suffix disagree", j.scenario, j.suffix, j.args)
		}
	}
}

func TestPlainFiguresShowTCPLimit(t *testing.T) {
	r := newReport(runOptions{erlDir: "x"}, Machine{})
	r.add(job{}, sysTCP, map[string]float64{"ping_avg_us": 20})
	r.add(job{suffix: "_plain"}, sysGonode, map[string]float64{"ping_avg_us": 30})
	r.add(job{suffix: "_1"}, sysTCP, map[string]float64{"msgs_per_s": 1e7})
	r.add(job{suffix: "_1_plain"}, sysGonode, map[string]float64{"msgs_per_s": 5e5})
	r.finish(time.Second)
	ping := figure(t, r, "ping_avg_us_plain")
	if ping.Gonode == nil || ping.Gonode.Median != 30 {
		t.Errorf("ping_avg_us_plain gonode = %+v, want median 30", ping.Gonode)
	}
	if ping.RatioTCP == nil || *ping.RatioTCP != 1.5 {
		t.Errorf("ping_avg_us_plain gonode/TCP = %v, want 1.5", ping.RatioTCP)
	}
	if ping.Target != "" {
		t.Errorf("ping_avg_us_plain target = %q, want none", ping.Target)
	}
	stream := figure(t, r, "msgs_per_s_1_plain")
	if stream.TCP == nil || stream.TCP.Median != 1e7 {
		t.Errorf("msgs_per_s_1_plain tcp = %+v, want the samples of msgs_per_s_1", stream.TCP)
	}
	if stream.Erlang != nil {
		t.Errorf("msgs_per_s_1_plain erlang = %+v, want none", stream.Erlang)
	}
}
