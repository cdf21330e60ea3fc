package scenariofile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Outcome is one scenario file's run.
type Outcome struct {
	File    string
	Name    string
	Pass    bool
	Misses  []string
	Err     error // the scenario could not run (stack, configuration, faults)
	Summary string
	Took    time.Duration
}

// Run runs f on a fresh stack from p and writes its record to outDir ("" :
// harness.OutDir()).
func Run(ctx context.Context, p stack.Provider, log *slog.Logger, f *File, outDir string) (out Outcome) {
	start := time.Now()
	out = Outcome{File: f.Path, Name: f.Name}
	defer func() { out.Took = time.Since(start) }()
	sc, err := harness.Begin(ctx, p, log, f.Name, []string{"run"}, stack.Options{
		Mockbins: f.Stack.Mockbins, Toxiproxy: f.Stack.Toxiproxy, Redis: f.Stack.Redis,
	})
	if sc != nil {
		sc.SetOutDir(outDir)
	}
	failure := ""
	defer func() {
		if sc != nil {
			if ferr := sc.Finish(ctx, failure); ferr != nil {
				log.Warn("finishing the scenario", "file", f.Path, "err", ferr)
			}
		}
	}()
	if err != nil {
		out.Err, failure = fmt.Errorf("start the stack: %w", err), "start the stack: "+err.Error()
		return out
	}
	if err := configure(ctx, sc, f); err != nil {
		out.Err, failure = err, err.Error()
		return out
	}
	steps, faults, err := timeline(sc.Stack, f)
	if err != nil {
		out.Err, failure = err, err.Error()
		return out
	}
	var targets []vegeta.Target
	for _, r := range f.Load.Requests {
		h := http.Header{}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
		targets = append(targets, vegeta.Target{Method: r.Method, URL: sc.Stack.Gateway.ProxyURL + r.Path, Header: h})
	}
	run, tl, err := sc.Attack(ctx, load.Attack{Name: f.Name, Rate: f.Load.Rate, Duration: f.Load.Duration,
		Timeout: f.Load.Timeout, Targets: targets}, steps...)
	if err != nil {
		out.Err, failure = err, err.Error()
		return out
	}
	for _, ev := range tl.Events() {
		if ev.Err != "" {
			out.Err = fmt.Errorf("%s %s: %s", ev.Action, ev.Fault, ev.Err)
			failure = out.Err.Error()
			return out
		}
	}
	for i, e := range f.Expect {
		if err := expect(sc, f, run, tl, faults, i, e); err != nil {
			out.Err, failure = err, err.Error()
			return out
		}
	}
	out.Misses = sc.Misses()
	out.Pass = len(out.Misses) == 0
	if !out.Pass {
		failure = strings.Join(out.Misses, "\n")
	}
	out.Summary = harness.Describe(run.Results)
	return out
}

// configure loads the file's configuration through POST /config. A target
// or service host naming mockbinN:8080 reaches mockbin N, through its
// Toxiproxy proxy when the stack has one, so toxics apply.
func configure(ctx context.Context, sc *harness.Scenario, f *File) error {
	c := f.Config
	route := map[string]string{}
	for _, m := range sc.Stack.Mockbins {
		route[m.Direct] = m.Target
	}
	for _, t := range c.Targets {
		if to, ok := route[t.Target]; ok {
			t.Target = to
		}
	}
	for _, s := range c.Services {
		if to, ok := route[s.Host+":"+strconv.Itoa(s.Port)]; ok {
			h, p, _ := strings.Cut(to, ":")
			s.Host = h
			s.Port, _ = strconv.Atoi(p)
		}
	}
	doc := config.DeclarativeMap(c)
	sc.SetGatewayConfig(doc)
	if err := sc.Stack.Gateway.Admin.Do(ctx, http.MethodPost, "/config", doc, nil); err != nil {
		return fmt.Errorf("load the configuration: %w", err)
	}
	return nil
}

// timeline builds the chaos steps; faults[i] is the fault of f.Faults[i].
func timeline(st *stack.Stack, f *File) ([]chaos.Step, []chaos.Fault, error) {
	var steps []chaos.Step
	var faults []chaos.Fault
	for _, ft := range f.Faults {
		fault, err := build(st, ft)
		if err != nil {
			return nil, nil, err
		}
		faults = append(faults, fault)
		steps = append(steps, chaos.Step{At: ft.At, Fault: fault, Hold: ft.Hold})
	}
	return steps, faults, nil
}

func build(st *stack.Stack, ft Fault) (chaos.Fault, error) {
	var node chaos.Partitionable
	var m *stack.Mockbin
	switch {
	case ft.Target == "gateway":
		node = st.Gateway.Node
	case ft.Target == "redis":
		if st.Redis == nil {
			return nil, errors.New("no redis in the stack")
		}
		if p, ok := st.Redis.Node.(chaos.Partitionable); ok {
			node = p
		} else if ft.Fault == "partition" {
			return nil, errors.New("redis cannot be partitioned on this stack")
		}
		if node == nil {
			return processFault(st.Redis.Node, ft)
		}
	default:
		if m = st.Mockbin(ft.Target); m == nil {
			return nil, fmt.Errorf("no %s in the stack", ft.Target)
		}
		node = m.Node
	}
	switch ft.Fault {
	case "partition":
		return chaos.Partition(node), nil
	case "latency", "timeout", "reset", "bandwidth":
		if m == nil || m.Proxy == nil {
			return nil, fmt.Errorf("%s on %s needs its Toxiproxy proxy", ft.Fault, ft.Target)
		}
		var t chaos.Toxic
		switch ft.Fault {
		case "latency":
			t = chaos.Latency(ft.Latency, ft.Jitter)
		case "timeout":
			t = chaos.Timeout(ft.Timeout)
		case "reset":
			t = chaos.ResetPeer(ft.Timeout)
		case "bandwidth":
			t = chaos.Bandwidth(ft.Rate)
		}
		return chaos.ToxicOn(m.Proxy, t), nil
	case "mockbin":
		return chaos.Mockbin(m.Name, m.URL, chaos.MockbinFault{Status: ft.Status, LatencyMS: int(ft.Latency / time.Millisecond)}), nil
	}
	return processFault(node, ft)
}

func processFault(n chaos.Node, ft Fault) (chaos.Fault, error) {
	switch ft.Fault {
	case "kill":
		return chaos.Kill(n), nil
	case "stop":
		return chaos.Stop(n, 10*time.Second), nil
	case "restart":
		return chaos.Restart(n, 10*time.Second), nil
	case "pause":
		return chaos.Pause(n), nil
	}
	return nil, fmt.Errorf("fault %s does not apply to %s", ft.Fault, ft.Target)
}

// expect measures e over its window and records the check on sc.
func expect(sc *harness.Scenario, f *File, run *load.Run, tl *chaos.Timeline, faults []chaos.Fault, i int, e Expect) error {
	kind, fi, err := f.window(e.Window)
	if err != nil {
		return err
	}
	from, to := time.Time{}, time.Time{}
	if kind != "all" {
		in, ok := tl.EventOf(faults[fi], chaos.ActionInject)
		if !ok {
			return fmt.Errorf("expect[%d]: %s never ran", i, f.Faults[fi].ID())
		}
		rev, reverted := tl.EventOf(faults[fi], chaos.ActionRevert)
		switch kind {
		case "before":
			to = in.Started
		case "during":
			// From the moment the fault is in place to the start of its revert
			// (the end of the load when it is held to the end).
			from = in.Ended
			if reverted {
				to = rev.Started
			}
		case "after":
			// After the fault took effect; "after" a held fault's revert is
			// what `offset` and a fault with hold express.
			from = in.Ended
			if reverted {
				from = rev.Ended
			}
		}
	}
	if e.Offset != "" && !from.IsZero() {
		d, _ := time.ParseDuration(e.Offset)
		from = from.Add(d)
	} else if e.Offset != "" {
		d, _ := time.ParseDuration(e.Offset)
		from = run.Start.Add(d)
	}
	if e.Trim != "" {
		d, _ := time.ParseDuration(e.Trim)
		if to.IsZero() {
			to = run.Start.Add(run.Attack.Duration)
		}
		to = to.Add(-d)
	}
	rs := load.Between(run.Results, from, to)
	name, arg, _ := measure(e.Measure)
	var v float64
	unit := ""
	switch name {
	case "requests":
		v = float64(len(rs))
	case "failures":
		v = float64(load.Failures(rs))
	case "success":
		v, unit = harness.Share(len(rs)-load.Failures(rs), len(rs)), "ratio"
	case "max-latency":
		v, unit = harness.Ms(load.MaxLatency(rs)), "ms"
	case "p50":
		v, unit = harness.Ms(load.Percentile(rs, 0.5)), "ms"
	case "p99":
		v, unit = harness.Ms(load.Percentile(rs, 0.99)), "ms"
	case "share-of-code":
		c, _ := strconv.Atoi(arg)
		v, unit = harness.Share(load.Codes(rs)[c], len(rs)), "ratio"
	case "share-of-instance":
		v, unit = harness.Share(load.Instances(rs)[arg], len(rs)), "ratio"
	}
	label := e.Measure
	if w := strings.TrimSpace(e.Window); w != "" && w != "all" {
		label += " " + w
	}
	if e.Offset != "" {
		label += " (from +" + e.Offset + ")"
	}
	if e.Trim != "" {
		label += " (until −" + e.Trim + ")"
	}
	switch {
	case e.Equal != nil:
		sc.Equal(label, v, *e.Equal, unit, e.Reason)
	case e.AtMost != nil:
		sc.AtMost(label, v, *e.AtMost, unit, e.Reason)
	case e.AtLeast != nil:
		sc.AtLeast(label, v, *e.AtLeast, unit, e.Reason)
	}
	return nil
}
