package stack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gauntlet-dev/gauntlet/chaos"
)

// The recipe of a single-node stack, read by both providers (Docker.Start,
// Processes.Start; a cluster's nodes follow its gateway): which components
// it has, in which order and phase, with which flags, ports, environment
// and readiness check. What a provider keeps
// to itself is how a component runs (container or process), where it listens
// (published container ports or free loopback ports) and how the gateway
// reaches it (network alias or 127.0.0.1).

// phase is when a component starts.
type phase int

const (
	// phaseBackends depend on nothing but the network: they start first.
	phaseBackends phase = iota
	// phaseGateway starts after the backends and the Toxiproxy proxies, so
	// that its first health probe finds its targets answering.
	phaseGateway
)

// component is one part of a stack as both providers start it.
type component struct {
	// name is its component name: network alias, log name, chaos target.
	name string
	// binary is what runs: a Binaries name (image or binary), or "redis"
	// (redis-server, which Binaries does not build).
	binary string
	phase  phase
	// ports are the ports it listens on in a container; a process listens
	// on a free loopback port for each instead.
	ports []int
	// containerHost is the host part of its listen addresses in a
	// container ("": every interface, as the mockbin's ":8080").
	containerHost string
	// args are its flags where it runs (nil: none).
	args func(at site) []string
	// imageArgs: its image's entrypoint already holds its flags
	// (redisImage), so a container is given none.
	imageArgs bool
	env       map[string]string
	// probe is the index in ports its readiness check dials.
	probe int
	ready readiness
}

// readiness is a component's readiness check: GET path answering 200, or
// ping when set.
type readiness struct {
	path string
	ping func(ctx context.Context, addr string) error
	what string // what ping waits for, for the error: "redis answering PING"
}

// site is where a provider runs a component.
type site struct {
	host  string   // the host part of its listen addresses
	ports []string // the port it listens on for each of its ports
	// dir is the stack's scratch dir (redis-server's working dir), dataDir
	// the gateway's data dir, declarative its kong.yml ("" without one).
	dir, dataDir, declarative string
	// postgres: the gateway is a cluster node (Options.Nodes).
	postgres bool
}

// listen is the listen address of the component's i-th port.
func (s site) listen(i int) string { return s.host + ":" + s.ports[i] }

// storeArgs are the gateway's store flags: DB-less on the declarative
// kong.yml, PostgreSQL for a cluster node, or else the embedded store in
// dataDir.
func (s site) storeArgs() []string {
	switch {
	case s.declarative != "":
		return []string{"--database", "off", "--declarative-config", s.declarative}
	case s.postgres:
		return []string{"--database", "postgres", "--data-dir", s.dataDir} // the node id lives in the data dir
	}
	return []string{"--database", "embedded", "--data-dir", s.dataDir}
}

// recipe is the components of a single-node stack of opts in start order.
type recipe []component

// stackRecipe is opts' stack: Redis (when asked), mockbin1..N, Toxiproxy
// (when asked), then the gateway (the model of a cluster's nodes too).
func stackRecipe(opts Options) recipe {
	var r recipe
	if opts.Redis {
		r = append(r, redisComponent)
	}
	for i := 1; i <= opts.Mockbins; i++ {
		name := fmt.Sprintf("mockbin%d", i)
		r = append(r, component{
			name: name, binary: "mockbin", phase: phaseBackends,
			ports: []int{8080},
			args:  func(at site) []string { return []string{"--listen", at.listen(0), "--name", name} },
			ready: readiness{path: "/__mockbin/health"},
		})
	}
	if opts.Toxiproxy {
		r = append(r, component{
			name: "toxiproxy", binary: "toxiproxy", phase: phaseBackends,
			ports: []int{8474},
			// Toxiproxy logs every connection at trace level by default: at
			// hundreds of connections per second that costs real CPU.
			env:   map[string]string{"LOG_LEVEL": "warn"},
			ready: readiness{path: "/version"},
		})
	}
	return append(r, component{
		name: "gateway", binary: "gateway", phase: phaseGateway,
		ports:         []int{8000, 8001}, // proxy, Admin API
		containerHost: "0.0.0.0",
		args: func(at site) []string {
			return append(append([]string{
				"--proxy-listen", at.listen(0),
				"--admin-listen", at.listen(1),
			}, at.storeArgs()...), opts.GatewayArgs...)
		},
		probe: 1,
		ready: readiness{path: "/status"},
	})
}

// redisComponent is the stack's redis-server (Options.Redis).
var redisComponent = component{
	name: "redis", binary: "redis", phase: phaseBackends,
	ports: []int{RedisPort},
	args: func(at site) []string {
		return append([]string{"--bind", at.host, "--port", at.ports[0], "--dir", at.dir}, redisArgs...)
	},
	imageArgs: true,
	ready:     readiness{ping: RedisPing, what: "redis answering PING"},
}

// inPhase is r's components of phase ph, in order.
func (r recipe) inPhase(ph phase) []component {
	var out []component
	for _, c := range r {
		if c.phase == ph {
			out = append(out, c)
		}
	}
	return out
}

// gateway is r's gateway component.
func (r recipe) gateway() component { return r.inPhase(phaseGateway)[0] }

// place records a started backend in s: reach is host:port of each of its
// ports as the gateway reaches it, harness as the harness does.
func (s *Stack) place(c component, node chaos.Partitionable, reach, harness []string) {
	switch c.binary {
	case "redis":
		host, port, _ := net.SplitHostPort(reach[0])
		portNum, _ := strconv.Atoi(port)
		s.Redis = &Redis{Node: node, Host: host, Port: portNum, Addr: harness[0]}
	case "toxiproxy":
		s.Toxiproxy = toxiclient.NewClient("http://" + harness[0])
	case "mockbin":
		s.Mockbins = append(s.Mockbins, &Mockbin{
			Name: c.name, Node: node,
			Target: reach[0], Direct: reach[0],
			URL: "http://" + harness[0],
		})
	}
}

// placeGateway records the started gateway in s, its proxy and Admin API at
// harness (host:port of each of its ports as the harness reaches them).
func (s *Stack) placeGateway(node chaos.Partitionable, harness []string, image string) {
	s.Gateway = &Gateway{Node: node, ProxyURL: "http://" + harness[0], AdminURL: "http://" + harness[1], Image: image}
	s.Gateway.Admin = NewAdmin(s.Gateway.AdminURL)
}

// logUp says that a single-node stack is up.
func (s *Stack) logUp(log *slog.Logger, opts Options) {
	log.Info("stack up", "name", opts.Name, "kind", s.Kind, "proxy", s.Gateway.ProxyURL, "admin", s.Gateway.AdminURL,
		"mockbins", len(s.Mockbins), "toxiproxy", opts.Toxiproxy, "redis", opts.Redis)
}
