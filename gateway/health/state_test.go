package health

import (
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

type step struct {
	src Source
	o   Outcome
}

var (
	aOK   = step{Active, Success}
	aTCP  = step{Active, TCPFailure}
	aTO   = step{Active, Timeout}
	aHTTP = step{Active, HTTPFailure}
	pOK   = step{Passive, Success}
	pTCP  = step{Passive, TCPFailure}
	pTO   = step{Passive, Timeout}
	pHTTP = step{Passive, HTTPFailure}
	pNeu  = step{Passive, Neutral}
)

func TestObserveCounterRules(t *testing.T) {
	passive := func(succ, tcp, to, httpf int) *Policy {
		hc := config.DefaultHealthchecks()
		hc.Passive.Healthy.Successes = succ
		hc.Passive.Unhealthy.TCPFailures = tcp
		hc.Passive.Unhealthy.Timeouts = to
		hc.Passive.Unhealthy.HTTPFailures = httpf
		return NewPolicy(hc)
	}
	active := func(succ, tcp, to, httpf int) *Policy {
		hc := config.DefaultHealthchecks()
		hc.Active.Healthy.Interval = 1
		hc.Active.Unhealthy.Interval = 1
		hc.Active.Healthy.Successes = succ
		hc.Active.Unhealthy.TCPFailures = tcp
		hc.Active.Unhealthy.Timeouts = to
		hc.Active.Unhealthy.HTTPFailures = httpf
		return NewPolicy(hc)
	}
	tests := []struct {
		name        string
		p           *Policy
		steps       []step
		wantHealthy bool
		want        Counters
		transitions int
	}{
		{"http_failures=1 ejects on first failure", passive(0, 0, 0, 1), []step{pHTTP}, false, Counters{}, 1},
		{"http_failures=3 needs three", passive(0, 0, 0, 3), []step{pHTTP, pHTTP}, true, Counters{HTTPFailures: 2}, 0},
		{"http_failures=3 third ejects", passive(0, 0, 0, 3), []step{pHTTP, pHTTP, pHTTP}, false, Counters{}, 1},
		{"success clears failures", passive(5, 0, 0, 3), []step{pHTTP, pHTTP, pOK, pHTTP, pHTTP}, true, Counters{HTTPFailures: 2}, 0},
		{"disabled success counter does not clear failures", passive(0, 0, 0, 3), []step{pHTTP, pHTTP, pOK, pHTTP}, false, Counters{}, 1},
		{"failure counters are separate", passive(0, 2, 2, 2), []step{pHTTP, pTCP, pTO}, true, Counters{TCPFailures: 1, Timeouts: 1, HTTPFailures: 1}, 0},
		{"tcp_failures threshold", passive(0, 2, 0, 0), []step{pTCP, pTCP}, false, Counters{}, 1},
		{"timeouts threshold", passive(0, 0, 1, 0), []step{pTO}, false, Counters{}, 1},
		{"disabled counter ignores its failures", passive(0, 0, 1, 0), []step{pTCP, pHTTP, pTCP}, true, Counters{}, 0},
		{"neutral status changes nothing", passive(1, 0, 0, 2), []step{pHTTP, pNeu, pNeu, pHTTP}, false, Counters{}, 1},
		{"fully healthy success changes nothing", passive(1, 0, 0, 2), []step{pOK, pOK}, true, Counters{}, 0},
		{"passive successes re-enable", passive(2, 0, 0, 1), []step{pHTTP, pOK, pOK}, true, Counters{}, 2},
		{"fully unhealthy failure is not counted", passive(2, 0, 0, 1), []step{pHTTP, pHTTP, pHTTP}, false, Counters{}, 1},
		{"failure clears successes while unhealthy", passive(2, 0, 0, 1), []step{pHTTP, pOK, pHTTP, pOK}, false, Counters{Successes: 1}, 1},
		{"passive alone: success threshold 0 never re-enables", passive(0, 0, 0, 1), []step{pHTTP, pOK, pOK, pOK}, false, Counters{}, 1},
		{"active thresholds govern active outcomes", active(3, 1, 1, 2), []step{aHTTP, aHTTP, aOK, aOK, aOK}, true, Counters{}, 2},
		{"active tcp failure", active(1, 1, 0, 0), []step{aTCP, aOK}, true, Counters{}, 2},
		{"active timeout with timeouts=2", active(1, 0, 2, 0), []step{aTO, aTO}, false, Counters{}, 1},
		{"active and passive share counters", func() *Policy {
			p := active(2, 0, 0, 2)
			p.PassiveLimits.HTTPFailures = 2
			return p
		}(), []step{aHTTP, pHTTP}, false, Counters{}, 1},
		{"passive failure does not use active threshold", func() *Policy {
			p := active(2, 0, 0, 1)
			return p
		}(), []step{pHTTP, pHTTP, pHTTP}, true, Counters{}, 0},
		{"checks off ignores everything", NewPolicy(config.DefaultHealthchecks()), []step{pHTTP, pTCP, pTO, aHTTP}, true, Counters{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			tg := NewTarget(func(Transition) { n++ })
			now := time.Unix(1000, 0)
			for _, s := range tc.steps {
				tg.Observe(tc.p, s.src, s.o, now, "")
			}
			if tg.Healthy() != tc.wantHealthy {
				t.Errorf("healthy = %v, want %v", tg.Healthy(), tc.wantHealthy)
			}
			if got := tg.Counters(); got != tc.want {
				t.Errorf("counters = %+v, want %+v", got, tc.want)
			}
			if n != tc.transitions {
				t.Errorf("transitions = %d, want %d", n, tc.transitions)
			}
		})
	}
}

func TestPolicyEnabledRule(t *testing.T) {
	tests := []struct {
		name                  string
		mod                   func(*config.Healthchecks)
		enabled, active, pass bool
	}{
		{"defaults are off", func(*config.Healthchecks) {}, false, false, false},
		{"active healthy interval", func(h *config.Healthchecks) { h.Active.Healthy.Interval = 5 }, true, true, false},
		{"active unhealthy interval", func(h *config.Healthchecks) { h.Active.Unhealthy.Interval = 0.5 }, true, true, false},
		{"passive tcp", func(h *config.Healthchecks) { h.Passive.Unhealthy.TCPFailures = 1 }, true, false, true},
		{"passive timeouts", func(h *config.Healthchecks) { h.Passive.Unhealthy.Timeouts = 1 }, true, false, true},
		{"passive http", func(h *config.Healthchecks) { h.Passive.Unhealthy.HTTPFailures = 1 }, true, false, true},
		{"passive successes alone stay off", func(h *config.Healthchecks) { h.Passive.Healthy.Successes = 3 }, false, false, false},
		{"active thresholds without interval stay off", func(h *config.Healthchecks) {
			h.Active.Unhealthy.HTTPFailures = 1
			h.Active.Healthy.Successes = 1
		}, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hc := config.DefaultHealthchecks()
			tc.mod(&hc)
			p := NewPolicy(hc)
			if p.Enabled != tc.enabled || p.ActiveEnabled != tc.active || p.PassiveEnabled != tc.pass {
				t.Errorf("enabled/active/passive = %v/%v/%v, want %v/%v/%v",
					p.Enabled, p.ActiveEnabled, p.PassiveEnabled, tc.enabled, tc.active, tc.pass)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	p := NewPolicy(config.DefaultHealthchecks())
	tests := []struct {
		tcp, to bool
		status  int
		passive Outcome
		active  Outcome
	}{
		{false, false, 200, Success, Success},
		{false, false, 302, Success, Success},
		{false, false, 204, Success, Neutral},
		{false, false, 500, HTTPFailure, HTTPFailure},
		{false, false, 404, Neutral, HTTPFailure},
		{false, false, 502, Neutral, HTTPFailure},
		{false, false, 429, HTTPFailure, HTTPFailure},
		{false, false, 418, Neutral, Neutral},
		{true, false, 0, TCPFailure, TCPFailure},
		{false, true, 0, Timeout, Timeout},
		{false, false, 0, Neutral, HTTPFailure},
	}
	for _, tc := range tests {
		if got := p.ClassifyPassive(tc.tcp, tc.to, tc.status); got != tc.passive {
			t.Errorf("passive(%v,%v,%d) = %v, want %v", tc.tcp, tc.to, tc.status, got, tc.passive)
		}
		if got := p.ClassifyActive(ProbeResult{TCPFailure: tc.tcp, Timeout: tc.to, Status: tc.status}); got != tc.active {
			t.Errorf("active(%v,%v,%d) = %v, want %v", tc.tcp, tc.to, tc.status, got, tc.active)
		}
	}
	hc := config.DefaultHealthchecks()
	hc.Passive.Type = "tcp"
	tp := NewPolicy(hc)
	for _, st := range []int{200, 404, 500} {
		if got := tp.ClassifyPassive(false, false, st); got != Success {
			t.Errorf("passive tcp, status %d = %v, want success", st, got)
		}
	}
	if got := tp.ClassifyPassive(true, false, 0); got != TCPFailure {
		t.Errorf("passive tcp, connect error = %v", got)
	}
	if got := p.ClassifyActive(ProbeResult{Connected: true}); got != Success {
		t.Errorf("tcp connect = %v, want success", got)
	}
}

func TestManualOverride(t *testing.T) {
	hc := config.DefaultHealthchecks()
	hc.Passive.Unhealthy.HTTPFailures = 3
	hc.HalfOpen = &config.HalfOpen{Cooldown: 10}
	p := NewPolicy(hc)
	var trs []Transition
	tg := NewTarget(func(tr Transition) { trs = append(trs, tr) })
	now := time.Unix(1000, 0)
	tg.Observe(p, Passive, HTTPFailure, now, "")
	tg.Observe(p, Passive, HTTPFailure, now, "")
	tg.Set(p, false, CauseManual, now)
	if tg.Healthy() || tg.Counters() != (Counters{}) {
		t.Fatalf("after manual unhealthy: healthy=%v counters=%+v", tg.Healthy(), tg.Counters())
	}
	if tg.HalfOpenPending() || tg.TryTrial(now.Add(time.Hour)) {
		t.Fatal("a manual ejection must not be undone by half-open")
	}
	tg.Set(p, true, CauseManual, now)
	if !tg.Healthy() {
		t.Fatal("manual healthy did not re-enable")
	}
	if len(trs) != 2 || trs[0].Cause != CauseManual || trs[0].Healthy || !trs[1].Healthy {
		t.Fatalf("transitions = %+v", trs)
	}
	// setting the current state again is not a transition but clears counters
	tg.Observe(p, Passive, HTTPFailure, now, "")
	tg.Set(p, true, CauseManual, now)
	if len(trs) != 2 || tg.Counters() != (Counters{}) {
		t.Fatalf("re-set: transitions=%d counters=%+v", len(trs), tg.Counters())
	}
}

func TestHalfOpenRecovery(t *testing.T) {
	hc := config.DefaultHealthchecks()
	hc.Passive.Unhealthy.HTTPFailures = 1
	hc.HalfOpen = &config.HalfOpen{Cooldown: 5}
	p := NewPolicy(hc)
	var trs []Transition
	tg := NewTarget(func(tr Transition) { trs = append(trs, tr) })
	t0 := time.Unix(1000, 0)
	tg.Observe(p, Passive, HTTPFailure, t0, "status 500")
	if tg.Healthy() || !tg.HalfOpenPending() {
		t.Fatalf("healthy=%v pending=%v after ejection", tg.Healthy(), tg.HalfOpenPending())
	}
	if tg.TryTrial(t0.Add(4999 * time.Millisecond)) {
		t.Fatal("trial granted before the cooldown")
	}
	t1 := t0.Add(5 * time.Second)
	if !tg.TryTrial(t1) {
		t.Fatal("trial refused after the cooldown")
	}
	if tg.TryTrial(t1) {
		t.Fatal("a second concurrent trial was granted")
	}
	// the trial fails: another full cooldown before the next one
	tg.Observe(p, Passive, HTTPFailure, t1, "status 500")
	if tg.Healthy() || tg.TryTrial(t1.Add(4*time.Second)) {
		t.Fatal("failed trial: target re-enabled or trial granted early")
	}
	t2 := t1.Add(5 * time.Second)
	if !tg.TryTrial(t2) {
		t.Fatal("trial refused after the second cooldown")
	}
	// an inconclusive answer releases the trial without waiting a cooldown
	tg.Observe(p, Passive, Neutral, t2, "status 418")
	if !tg.TryTrial(t2) {
		t.Fatal("trial not released after a neutral outcome")
	}
	tg.Observe(p, Passive, Success, t2, "status 200")
	if !tg.Healthy() {
		t.Fatal("successful trial did not re-enable the target")
	}
	if len(trs) != 2 || trs[1].Cause != CauseHalfOpen || !trs[1].Healthy {
		t.Fatalf("transitions = %+v", trs)
	}
	if tg.HalfOpenPending() || tg.TryTrial(t2.Add(time.Hour)) {
		t.Fatal("healthy target still grants trials")
	}
}

func TestHalfOpenOffIsKong(t *testing.T) {
	hc := config.DefaultHealthchecks()
	hc.Passive.Unhealthy.HTTPFailures = 1
	p := NewPolicy(hc)
	tg := NewTarget(nil)
	t0 := time.Unix(1000, 0)
	tg.Observe(p, Passive, HTTPFailure, t0, "")
	if tg.TryTrial(t0.Add(24 * time.Hour)) {
		t.Fatal("trial granted without half_open configured")
	}
}

func TestStatusSet(t *testing.T) {
	s := NewStatusSet([]int{100, 200, 599, 999, -1, 5000})
	for code, want := range map[int]bool{100: true, 200: true, 599: true, 999: true, 201: false, 0: false, -1: false, 5000: false, 1023: false} {
		if s.Has(code) != want {
			t.Errorf("Has(%d) = %v, want %v", code, !want, want)
		}
	}
}
