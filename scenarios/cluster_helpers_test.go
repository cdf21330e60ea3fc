//go:build resilience

package scenarios_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Shared by the cluster scenarios (cluster_test.go): three gateway nodes on
// one PostgreSQL behind HAProxy (stack.Options.Nodes). Load goes through
// HAProxy, as a client's would; the scenarios reach a node directly only to
// ask what that node alone knows.

const clusterNodes = 3

// clusterOptions is the stack every cluster scenario runs.
func clusterOptions(redis bool) stack.Options {
	return stack.Options{Mockbins: 2, Nodes: clusterNodes, Redis: redis}
}

// viaLB is a GET through HAProxy.
func viaLB(sc *harness.Scenario, path string) vegeta.Target {
	return vegeta.Target{Method: "GET", URL: sc.Stack.LB.URL + path}
}

// clusterBaseline creates the route every cluster scenario loads: /base on
// an upstream over both mockbins, on gateway1 only, and waits until every
// node serves it (each node learns it from the database).
func clusterBaseline(ctx context.Context, sc *harness.Scenario) error {
	m1, m2 := sc.Stack.Mockbin("mockbin1"), sc.Stack.Mockbin("mockbin2")
	if err := sc.Configure(ctx, harness.Balanced{
		Service:  stack.ServiceSpec{Name: "base", Retries: stack.Int(2), ConnectTimeout: stack.Int(500)},
		Upstream: stack.UpstreamSpec{Name: "base-up"},
		Targets:  []string{m1.Target, m2.Target},
		Path:     "/base",
	}); err != nil {
		return err
	}
	for _, n := range sc.Stack.Nodes {
		if _, err := awaitAnswer(ctx, n.ProxyURL+"/base/request", 10*time.Second); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	return nil
}

// pollClient asks one node at a time; a node that hangs counts as not there
// and is asked again. The timeout is the resolution of a first answer after
// a restart: a poll sent while the container's port is published but its
// process not yet listening can hang until it (measured: a restarted node
// "served" 392 ms after ready with 1 s, behind one such poll).
var pollClient = &http.Client{Timeout: 100 * time.Millisecond}

// pollEvery is how often a node is asked whether a change reached it: the
// resolution of every propagation time measured.
const pollEvery = 5 * time.Millisecond

// awaitAnswer polls url until it answers 200 and returns when it did; a 404
// is a route the node does not know yet.
func awaitAnswer(ctx context.Context, url string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return time.Time{}, err
		}
		resp, err := pollClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s not answering 200 within %v (last: %s)", url, timeout, last)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// adminWrite is one Admin API write of a writer: when it was sent and
// answered, on which node, and the HTTP status (0: no answer).
type adminWrite struct {
	Name       string
	Node       int
	Sent, Done time.Time
	Status     int
	Err        string
}

// adminWriter creates a consumer every `every` on the nodes in turn until
// stopped: the writes an operator's tooling keeps making during a fault.
// Each write goes out on its tick whether or not the one before has been
// answered, so a write that hangs does not hide the ones after it; each is
// bounded by the Admin client's 10 s timeout.
type adminWriter struct {
	mu       sync.Mutex
	writes   []adminWrite
	inFlight sync.WaitGroup
	stop     chan struct{}
	done     chan struct{}
}

func startAdminWriter(ctx context.Context, sc *harness.Scenario, prefix string, every time.Duration) *adminWriter {
	w := &adminWriter{stop: make(chan struct{}), done: make(chan struct{})}
	write := func(i int) {
		defer w.inFlight.Done()
		node := i % len(sc.Stack.Nodes)
		wr := adminWrite{Name: fmt.Sprintf("%s-%d", prefix, i), Node: node, Sent: time.Now()}
		err := sc.Stack.Nodes[node].Admin.Do(ctx, http.MethodPost, "/consumers", map[string]any{"username": wr.Name}, nil)
		wr.Done, wr.Status = time.Now(), http.StatusCreated
		var api *stack.APIError
		switch {
		case errors.As(err, &api):
			wr.Status, wr.Err = api.Status, api.Body
		case err != nil:
			wr.Status, wr.Err = 0, err.Error()
		}
		w.mu.Lock()
		w.writes = append(w.writes, wr)
		w.mu.Unlock()
	}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			w.inFlight.Add(1)
			go write(i)
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// Stop ends the writer and returns its writes in the order sent.
func (w *adminWriter) Stop() []adminWrite {
	close(w.stop)
	<-w.done
	w.inFlight.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	slices.SortFunc(w.writes, func(a, b adminWrite) int { return a.Sent.Compare(b.Sent) })
	return w.writes
}

// sentBetween are the writes sent in [from, to).
func sentBetween(ws []adminWrite, from, to time.Time) []adminWrite {
	var out []adminWrite
	for _, w := range ws {
		if !w.Sent.Before(from) && w.Sent.Before(to) {
			out = append(out, w)
		}
	}
	return out
}

// byNode splits results by the node HAProxy sent them to.
func byNode(rs []vegeta.Result) map[string][]vegeta.Result {
	out := map[string][]vegeta.Result{}
	for _, x := range rs {
		n := x.Headers.Get(stack.ServedByHeader)
		out[n] = append(out[n], x)
	}
	return out
}

// gatewayErrors are the 5xx a gateway node made itself: relayed by HAProxy
// (which names the node only on a server's answer, never on its own 502/503)
// and produced by no mockbin (whose answers carry their instance header).
func gatewayErrors(rs []vegeta.Result) int {
	n := 0
	for _, x := range rs {
		if x.Code >= 500 && x.Headers.Get(stack.ServedByHeader) != "" && x.Headers.Get(load.InstanceHeader) == "" {
			n++
		}
	}
	return n
}

// servingChange is a change of whether HAProxy sends a node requests, as
// its statistics page showed it (polled every statsPoll).
type servingChange struct {
	At      time.Time
	Serving bool
	State   string
}

const statsPoll = 25 * time.Millisecond

// watchServing polls HAProxy's view of node until stopped and returns its
// changes; the first entry is the state when the watch began.
func watchServing(ctx context.Context, lb *stack.LoadBalancer, node string) (stop func() []servingChange) {
	var (
		mu      sync.Mutex
		changes []servingChange
	)
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if states, err := lb.ServerStates(ctx); err == nil {
				st := states[node]
				mu.Lock()
				if len(changes) == 0 || changes[len(changes)-1].Serving != stack.Serving(st) {
					changes = append(changes, servingChange{At: time.Now(), Serving: stack.Serving(st), State: st})
				}
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-time.After(statsPoll):
			}
		}
	}()
	return func() []servingChange {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return changes
	}
}

// firstChange is the first change to serving at or after t.
func firstChange(cs []servingChange, serving bool, t time.Time) (time.Time, bool) {
	for _, c := range cs {
		if c.Serving == serving && !c.At.Before(t) {
			return c.At, true
		}
	}
	return time.Time{}, false
}

// watchRoute polls url from now on until it answers 200, and stop returns
// when it first did (zero: never). A node that is down or cut off is asked
// again, so the time is when the node first served it, not when asked.
func watchRoute(ctx context.Context, url string) (stop func() time.Time) {
	ctx, cancel := context.WithCancel(ctx)
	var seen time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if t, err := awaitAnswer(ctx, url, time.Second); err == nil {
				seen = t
				return
			}
		}
	}()
	return func() time.Time {
		cancel()
		<-done
		return seen
	}
}

// checksOnTime is the premise of every "0 failed requests through HAProxy"
// check: HAProxy took no node out because a /status check timed out (250
// ms), other than the node the fault itself kills (except). A node whose
// check times out while it proxies fine was stalled by the machine (seen:
// gateway1 out for a 414 ms check while PostgreSQL recovered beside other
// work), and HAProxy's shutdown-sessions then cuts that node's requests
// whatever the gateway did. A node taken out because it answered /status
// wrongly or refused it is the gateway's doing and stays a failure.
func checksOnTime(ctx context.Context, sc *harness.Scenario, except string) reports.Premise {
	outs, err := sc.Stack.LB.TakenOuts(ctx)
	Expect(err).NotTo(HaveOccurred())
	var timedOut []string
	for _, o := range outs {
		if o.CheckTimedOut() && o.Node != except {
			timedOut = append(timedOut, o.Node+" ("+o.Reason+")")
		}
	}
	GinkgoWriter.Printf("HAProxy took out: %+v\n", outs)
	name := "nodes HAProxy took out for a check that timed out"
	if len(timedOut) > 0 {
		name += ": " + strings.Join(timedOut, ", ")
	}
	return harness.AtMostPremise(name, float64(len(timedOut)), 0, "",
		"a stalled machine, not the gateway, makes a /status check time out")
}
