// Package stack brings up the system under test for one scenario: a gateway,
// N mockbins (mockbin1..N), optionally each behind its own Toxiproxy proxy, on
// their own network, and tears it down again. It runs them as FROM scratch
// containers through testcontainers-go, or, when no Docker engine answers, as
// local processes with an in-process Toxiproxy; scenarios see the same Stack.
package stack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gauntlet-dev/gauntlet/chaos"
	"github.com/gauntlet-dev/gauntlet/reports"
)

// Options shape one stack.
type Options struct {
	// Name labels the stack's objects (the scenario's slug).
	Name string
	// Mockbins is the number of mockbin instances, named mockbin1..N (default 2).
	Mockbins int
	// Toxiproxy puts every mockbin behind its own Toxiproxy proxy; the gateway
	// then reaches mockbinN through Mockbin.Target, the proxy's address.
	Toxiproxy bool
	// GatewayArgs are extra gateway flags.
	GatewayArgs []string
	// EphemeralData loses the gateway's data dir whenever the gateway stops
	// (a tmpfs in a container, a wiped directory for a process): a gateway
	// whose config store does not survive restarts, for proving that the
	// restart scenario would notice.
	EphemeralData bool
	// Declarative, when set, runs the gateway DB-less (--database off) on
	// the kong.yml it returns, written to a file the gateway reads at every
	// start. It is called once the mockbins are up, with them, so the file
	// can name their addresses.
	Declarative func(mockbins []*Mockbin) string
	// Redis starts a redis-server (component "redis") before the gateway, for
	// the rate-limiting plugin's redis policy; Stack.Redis says how to reach it.
	Redis bool
	// Nodes, when 2 or more, runs a cluster as Kong runs in production:
	// gateway nodes gateway1..N with database=postgres sharing one
	// PostgreSQL (component "postgres", Stack.Postgres, bootstrapped by
	// `gateway migrations bootstrap` as Kong's compose file does), and
	// HAProxy in front of them (component "haproxy", Stack.LB). The nodes
	// and PostgreSQL share a network of their own (on a process stack: each
	// node reaches PostgreSQL through a Toxiproxy proxy of its own), so a
	// node can be cut off the database alone (Gateway.DBLink). Stack.Gateway
	// is gateway1.
	Nodes int
	// NodeEnv are extra settings of every cluster node (KONG_* variables),
	// over ClusterEnv.
	NodeEnv map[string]string
	// LBCheck is HAProxy's health check of the nodes (nil:
	// DefaultHAProxyCheck).
	LBCheck *HAProxyCheck
}

// ClusterEnv are the settings every cluster node gets besides the
// database's, shorter than Kong's defaults so that scenarios stay short:
//   - changes are polled every 2 s (db_update_frequency, default 5 s), the
//     fallback of LISTEN/NOTIFY: a node that missed a notification catches
//     up within 2 s of the database answering it;
//   - every database operation is bounded by 1 s (pg_timeout, default 5 s):
//     a write during an outage answers 503 within about 1 s.
var ClusterEnv = map[string]string{"KONG_DB_UPDATE_FREQUENCY": "2", "KONG_PG_TIMEOUT": "1000"}

// Cluster timing that follows from ClusterEnv, for the scenarios' bounds.
const (
	ClusterUpdateFrequency = 2 * time.Second
	ClusterPGTimeout       = time.Second
)

// declarativePath is where a DB-less gateway's kong.yml lives in its container.
const declarativePath = "/etc/gauntlet/kong.yml"

func (o Options) withDefaults() Options {
	if o.Mockbins == 0 {
		o.Mockbins = 2
	}
	if o.Name == "" {
		o.Name = "stack"
	}
	return o
}

// Gateway is the gateway under test.
type Gateway struct {
	Node chaos.Partitionable
	// ProxyURL and AdminURL are reachable from the harness (127.0.0.1).
	ProxyURL string
	AdminURL string
	Admin    *Admin
	// Image names what ran (an image reference or a binary path).
	Image string
	// Name is the node's name in a cluster (gateway1..N), "gateway" alone.
	Name string
	// DBLink is a cluster node's link to PostgreSQL: Disconnect cuts the
	// node off the database's network and nothing else (on a process
	// stack: disables the node's Toxiproxy proxy to PostgreSQL; nil alone).
	DBLink chaos.Partitionable
}

// Mockbin is one upstream instance.
type Mockbin struct {
	Name string
	Node chaos.Partitionable
	// Target is host:port as the gateway must use it in an upstream target:
	// through the instance's Toxiproxy proxy when there is one.
	Target string
	// Direct is host:port of the instance itself as the gateway sees it.
	Direct string
	// URL reaches the instance directly from the harness (fault endpoints,
	// baseline latency).
	URL string
	// Proxy is the instance's Toxiproxy proxy (nil without Toxiproxy).
	Proxy *toxiclient.Proxy
}

// Stack is a running system under test.
type Stack struct {
	// Kind is reports.StackContainers or reports.StackProcesses.
	Kind     string
	Gateway  *Gateway
	Mockbins []*Mockbin
	// Toxiproxy is the client of the stack's Toxiproxy (nil without it).
	Toxiproxy *toxiclient.Client
	// Redis is the stack's redis-server (nil without Options.Redis).
	Redis *Redis
	// Nodes are a cluster's gateway nodes (Options.Nodes), Nodes[0] being
	// Gateway; Postgres and LB are its database and load balancer.
	Nodes    []*Gateway
	Postgres *Postgres
	LB       *LoadBalancer

	// closeFn tears the stack down and returns each component's whole log.
	closeFn func(ctx context.Context) ([]reports.Log, error)
	logs    []reports.Log
	closed  bool
}

// Mockbin returns the instance named name, or nil.
func (s *Stack) Mockbin(name string) *Mockbin {
	for _, m := range s.Mockbins {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Close stops and removes everything the stack started, keeping each
// component's log tail for the report. Calling it twice is harmless.
func (s *Stack) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	logs, err := s.closeFn(ctx)
	s.logs = logs
	return err
}

// Logs are the components' log tails (the last 8 KiB), available after Close.
func (s *Stack) Logs() []reports.Log {
	out := make([]reports.Log, len(s.logs))
	for i, l := range s.logs {
		out[i] = reports.Log{Container: l.Container, Tail: logTail([]byte(l.Tail), tailBytes)}
	}
	return out
}

// FullLogs are the components' whole logs, available after Close.
func (s *Stack) FullLogs() []reports.Log { return s.logs }

// Provider starts stacks of one kind.
type Provider interface {
	Kind() string
	Start(ctx context.Context, opts Options) (*Stack, error)
	// Close removes what the provider built for the whole run (images).
	Close(ctx context.Context) error
}

// logTail keeps the last n bytes of a log, cut at a line start.
func logTail(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[len(b)-n:]
	for i, c := range b {
		if c == '\n' {
			return string(b[i+1:])
		}
	}
	return string(b)
}

const (
	tailBytes = 8 << 10
	// readyTimeout bounds how long a component may take to answer its
	// readiness check; a FROM scratch container is up in ~0.35 s.
	readyTimeout = 30 * time.Second
)

// Detect picks the provider: containers when a Docker engine answers, local
// processes otherwise (said in one line on log). GAUNTLET_STACK=containers or
// =processes forces one.
func Detect(ctx context.Context, log *slog.Logger, binDir string) (Provider, error) {
	switch os.Getenv("GAUNTLET_STACK") {
	case "processes":
		return NewProcesses(ctx, log, binDir)
	case "containers":
		return NewDocker(ctx, log, binDir)
	}
	d, err := ConnectDocker(ctx, log)
	if err != nil {
		log.Warn(fmt.Sprintf("no Docker engine answers (%v); running scenarios on a process stack", err))
		return NewProcesses(ctx, log, binDir)
	}
	if err := d.Prepare(ctx, binDir, Binaries); err != nil {
		return nil, err
	}
	return d, nil
}
