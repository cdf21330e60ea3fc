package battery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/harness"
	"github.com/gauntlet-dev/gauntlet/scenarios/load"
	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

// Verdicts of one property.
const (
	Holds = "holds"
	Fails = "fails"
	NA    = "n/a"
	// Error: the property could not be judged (the stack did not start, the
	// service never answered before any fault).
	Error = "error"
)

// Result is one property's verdict on one service.
type Result struct {
	Service  string `json:"service"`
	Property string `json:"property"`
	Verdict  string `json:"verdict"`
	// Key is the number that decided it, in words ("0 failed of 600").
	Key string `json:"key"`
	// Misses are the missed bounds, one line each (harness.Miss).
	Misses []string      `json:"misses,omitempty"`
	Took   time.Duration `json:"took"`
}

// Battery runs a plan against the user's configuration.
type Battery struct {
	Docker *stack.Docker
	Log    *slog.Logger
	Plan   *Plan
	// OutDir receives records/ and results/ as the Go scenarios write them.
	OutDir string
	// Config is the configuration the gateway loads (the user's file, or it
	// less the plugins the gateway does not implement), YAML or JSON.
	Config []byte
	// Progress gets one line per finished property.
	Progress io.Writer
	// Rate is the load of the fault properties (default 100 rps).
	Rate int
	// GatewayImage runs another gateway speaking Kong's Admin API instead of
	// this project's (stack.UserOptions.GatewayImage): configured through
	// KONG_* only, DB-less, since the battery brings no database.
	GatewayImage string
}

// Run runs every property of every service and returns the verdicts in
// service, then property order.
func (b *Battery) Run(ctx context.Context) []Result {
	if b.Rate == 0 {
		b.Rate = 100
	}
	var out []Result
	for _, sp := range b.Plan.Services {
		for _, prop := range Properties {
			r := b.runOne(ctx, sp, prop)
			out = append(out, r)
			if b.Progress != nil {
				fmt.Fprintln(b.Progress, ProgressLine(r))
			}
			if ctx.Err() != nil {
				return out
			}
		}
	}
	return out
}

// ProgressLine is the CI log line of a finished property.
func ProgressLine(r Result) string {
	return fmt.Sprintf("check: %-24s %-16s %-6s %s (%s)", r.Service, r.Property, r.Verdict, r.Key, r.Took.Round(100*time.Millisecond))
}

// property is one property's body: it runs load and faults on sc and returns
// the key number; the verdict follows from sc's misses.
type property func(ctx context.Context, p *run) (key string, err error)

// run is one property on its own fresh stack.
type run struct {
	b   *Battery
	sp  *ServicePlan
	sc  *harness.Scenario
	us  *stack.UserStack
	tgt vegeta.Target
	// rate is the fault properties' load (Battery.Rate below the service's
	// rate limits).
	rate int
}

func (b *Battery) runOne(ctx context.Context, sp *ServicePlan, prop string) (res Result) {
	start := time.Now()
	res = Result{Service: sp.Name, Property: prop}
	defer func() { res.Took = time.Since(start) }()
	if sp.Skip != "" {
		res.Verdict, res.Key = NA, sp.Skip
		return res
	}
	body, na := b.property(sp, prop)
	if body == nil {
		res.Verdict, res.Key = NA, na
		return res
	}
	name := fmt.Sprintf("check %s %s", sp.Name, prop)
	us, err := b.Docker.StartUser(ctx, stack.UserOptions{
		Name: reports.Slug(name), Upstreams: b.Plan.Upstreams, Redis: b.Plan.Redis,
		GatewayArgs: b.gatewayArgs(), GatewayFiles: b.gatewayFiles(),
		GatewayImage: b.GatewayImage, GatewayEnv: b.gatewayEnv(),
	})
	if err != nil {
		res.Verdict, res.Key = Error, "stack: "+oneLine(err.Error())
		return res
	}
	sc := harness.Adopt(us.Stack, b.Log, name, []string{"check", sp.Name, prop}, b.OutDir)
	sc.SetGatewayConfig(map[string]any{"service": sp.Service, "upstream": sp.Upstream, "request": sp.Request, "rate_limit": sp.RateLimit})
	rate, _ := sp.FaultRate(b.Rate)
	p := &run{b: b, sp: sp, sc: sc, us: us, tgt: b.target(us, sp), rate: rate}
	key, err := func() (string, error) {
		if err := b.load(ctx, us); err != nil {
			return "", err
		}
		return body(ctx, p)
	}()
	failure := ""
	switch {
	case err != nil:
		res.Verdict, res.Key = Error, oneLine(err.Error())
		failure = res.Key
	case len(sc.Misses()) > 0:
		res.Verdict, res.Key, res.Misses = Fails, key, sc.Misses()
		failure = strings.Join(res.Misses, "\n")
	default:
		res.Verdict, res.Key = Holds, key
	}
	if err := sc.Finish(ctx, failure); err != nil {
		b.Log.Warn("finishing the property", "service", sp.Name, "property", prop, "err", err)
	}
	return res
}

func (b *Battery) property(sp *ServicePlan, prop string) (property, string) {
	switch prop {
	case PropKill:
		if len(sp.Targets) < 2 {
			return nil, "a single target: killing it is all-down"
		}
		return propKill, ""
	case PropStall:
		return propStall, ""
	case PropBlackhole:
		return propBlackhole, ""
	case PropAllDown:
		return propAllDown, ""
	case PropRestart:
		if b.GatewayImage != "" && !b.Plan.Node.DBLess() {
			return nil, "the node uses a database and the battery brings none for another gateway image"
		}
		return propRestart, ""
	case PropRateLimit:
		if sp.RateLimit == nil {
			return nil, "no rate limit found"
		}
		if _, why := sp.RateLimit.Offered(); why != "" {
			return nil, why
		}
		return propRateLimit, ""
	}
	return nil, "unknown property"
}

// declarativePath is where the node loads the file at start, when it does:
// only a DB-less node reads declarative_config (Kong ignores it with a
// database).
func (b *Battery) declarativePath() string {
	if b.Plan.Node.DBLess() {
		return b.Plan.Node.DeclarativeConfig
	}
	return ""
}

// gatewayArgs map the node's settings onto the gateway's flags: DB-less stays
// DB-less (in memory, plus the file at start when declarative_config says
// so); any database becomes the gateway's persistent embedded store.
func (b *Battery) gatewayArgs() []string {
	if b.Plan.Node.DBLess() {
		args := []string{"--database", "off"}
		if p := b.declarativePath(); p != "" {
			args = append(args, "--declarative-config", p)
		}
		return args
	}
	return []string{"--database", "embedded", "--data-dir", "/data"}
}

// gatewayEnv is another gateway image's configuration: Kong's own variables,
// listeners where the harness reaches them, DB-less (with the file at start
// when the node reads it then).
func (b *Battery) gatewayEnv() map[string]string {
	if b.GatewayImage == "" {
		return nil
	}
	return stack.GatewayEnv(b.declarativePath())
}

func (b *Battery) gatewayFiles() map[string][]byte {
	if p := b.declarativePath(); p != "" {
		return map[string][]byte{p: b.Config}
	}
	return nil
}

// load gives a node that did not read the file at start the configuration
// the way such a node gets it: POST /config (DB-less) or, with a database,
// the same endpoint, which the gateway persists (as decK sync would).
func (b *Battery) load(ctx context.Context, us *stack.UserStack) error {
	if b.declarativePath() != "" {
		return nil
	}
	err := us.Gateway.Admin.Do(ctx, http.MethodPost, "/config", map[string]any{"config": string(b.Config)}, nil)
	if err != nil {
		return fmt.Errorf("load the configuration: %w", err)
	}
	return nil
}

func (b *Battery) target(us *stack.UserStack, sp *ServicePlan) vegeta.Target {
	h := http.Header{}
	for k, v := range sp.Request.Header {
		h.Set(k, v)
	}
	if sp.Request.Host != "" {
		h.Set("Host", sp.Request.Host)
	}
	return vegeta.Target{Method: sp.Request.Method, URL: us.Gateway.ProxyURL + sp.Request.Path, Header: h}
}

// baseline is the answer the service gives before any fault: the most common
// status of the results sent before t. A request "served as before" gets it.
func baseline(rs []vegeta.Result, t time.Time) (int, error) {
	codes := load.Codes(load.Between(rs, time.Time{}, t))
	best, n := 0, 0
	for c, k := range codes {
		if k > n || (k == n && c < best) {
			best, n = c, k
		}
	}
	if n == 0 {
		return 0, errors.New("no request was sent before the fault")
	}
	if best == 0 || best >= 500 || best == http.StatusNotFound || best == http.StatusUnauthorized || best == http.StatusForbidden {
		return 0, fmt.Errorf("the service does not answer before any fault (codes %v): nothing to judge", codes)
	}
	return best, nil
}

// notServed counts the results answered neither with code nor with one of
// also.
func notServed(rs []vegeta.Result, code int, also ...int) int {
	n := 0
	for _, x := range rs {
		if int(x.Code) != code && !slices.Contains(also, int(x.Code)) {
			n++
		}
	}
	return n
}

// notServed is notServed for this service: where a rate limit applies, a
// 429 is the limiter keeping its promise (requests held while the gateway
// restarted arrive as one burst), not a failure of the property.
func (p *run) notServed(rs []vegeta.Result, code int) int {
	if p.sp.RateLimit != nil {
		return notServed(rs, code, http.StatusTooManyRequests)
	}
	return notServed(rs, code)
}

// stillWaiting counts the requests the client gave up on (no answer by its
// timeout).
func stillWaiting(rs []vegeta.Result) int {
	n := 0
	for _, x := range rs {
		if x.Code == 0 && strings.Contains(x.Error, "Client.Timeout") || x.Code == 0 && strings.Contains(x.Error, "deadline exceeded") {
			n++
		}
	}
	return n
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Summary counts verdicts.
func Summary(rs []Result) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		out[r.Verdict]++
	}
	return out
}

// Failed reports whether any property failed or could not be judged.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Verdict == Fails || r.Verdict == Error {
			return true
		}
	}
	return false
}

// Services lists the services of rs in first-seen order.
func Services(rs []Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rs {
		if !seen[r.Service] {
			seen[r.Service] = true
			out = append(out, r.Service)
		}
	}
	return out
}
