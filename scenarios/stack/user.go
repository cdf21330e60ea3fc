package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/gauntlet-dev/gauntlet/reports"
)

// HostPort is one address a user's configuration sends traffic to, exactly as
// the file writes it (a target "mockbin1:8080", a service host and port, a
// rate-limiting plugin's redis.host and redis.port).
type HostPort struct {
	Host string
	Port int
}

func (h HostPort) String() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

// UserOptions shape a stack around a user's own configuration (gauntlet
// check): nothing in the user's file is rewritten; instead the stack's
// containers take over the names the file uses, as network aliases.
type UserOptions struct {
	// Name labels the stack's objects.
	Name string
	// Upstreams are the addresses the file's targets and service hosts name.
	// Each gets its own mockbin process listening on that port, reachable
	// under that host name.
	Upstreams []HostPort
	// Redis are the Redis servers the file's rate-limiting plugins name.
	Redis []HostPort
	// GatewayArgs are the gateway's flags after the harness's own
	// --proxy-listen/--admin-listen (so the harness can reach it), e.g.
	// --database off --declarative-config /etc/kong/kong.yml.
	GatewayArgs []string
	// GatewayFiles are put into the gateway's container before it starts,
	// path → content (the user's kong.yml at its declarative_config path).
	GatewayFiles map[string][]byte
	// GatewayImage, when set, runs another gateway that speaks Kong's Admin
	// API (kong:3.9): no flags, only GatewayEnv (KONG_*), and the harness
	// reaches it on container ports 8000 (proxy) and 8001 (Admin API, whose
	// GET /status is its readiness check). BuiltinGateway names this
	// project's own image, driven the same way.
	GatewayImage string
	GatewayEnv   map[string]string
	// MockbinNames name upstreams' mockbins ("mockbin1:8080" → "mockbin1"):
	// Mockbin.Name and the instance header the mockbin answers with. An
	// upstream not in it is named by its address.
	MockbinNames map[string]string
	// Toxiproxy puts every upstream behind its own Toxiproxy proxy (a
	// container aliased "toxiproxy"), as Options.Toxiproxy does: the gateway
	// then reaches the upstream through Mockbin.Target, the proxy's address.
	Toxiproxy bool
}

// GatewayEnv is another gateway image's configuration: Kong's own
// variables, listeners where the harness reaches them (container ports 8000
// and 8001), DB-less, and KONG_DECLARATIVE_CONFIG when declarativePath is
// set (the file read at every start). gauntlet check and gauntlet run both
// drive --gateway-image through it.
func GatewayEnv(declarativePath string) map[string]string {
	env := map[string]string{
		"KONG_PROXY_LISTEN": "0.0.0.0:8000",
		"KONG_ADMIN_LISTEN": "0.0.0.0:8001",
		"KONG_DATABASE":     "off",
	}
	if declarativePath != "" {
		env["KONG_DECLARATIVE_CONFIG"] = declarativePath
	}
	return env
}

// ScenarioUserOptions is a scenario stack (Options: mockbin1..N on :8080,
// Toxiproxy, redis:6379) as a user stack whose gateway is image, driven
// through GatewayEnv only (no flags; the configuration comes by POST
// /config). Options.GatewayArgs and EphemeralData do not apply to another
// image.
func ScenarioUserOptions(o Options, image string) UserOptions {
	o = o.withDefaults()
	u := UserOptions{Name: o.Name, Toxiproxy: o.Toxiproxy, GatewayImage: image, GatewayEnv: GatewayEnv("")}
	u.MockbinNames = map[string]string{}
	for i := 1; i <= o.Mockbins; i++ {
		hp := HostPort{Host: fmt.Sprintf("mockbin%d", i), Port: 8080}
		u.Upstreams = append(u.Upstreams, hp)
		u.MockbinNames[hp.String()] = hp.Host
	}
	if o.Redis {
		u.Redis = []HostPort{{Host: "redis", Port: RedisPort}}
	}
	return u
}

// GatewayImageProvider starts scenario stacks (gauntlet run) with StartUser,
// the path gauntlet check takes, so another gateway image (or
// BuiltinGateway) is driven through KONG_* and its ports only.
type GatewayImageProvider struct {
	Docker *Docker
	Image  string
}

func (p *GatewayImageProvider) Kind() string { return p.Docker.Kind() }

// Close removes what the Docker provider built for the run.
func (p *GatewayImageProvider) Close(ctx context.Context) error { return p.Docker.Close(ctx) }

// Start brings up o as a user stack; its mockbins are named mockbin1..N (and
// answer as such) as on Docker.Start.
func (p *GatewayImageProvider) Start(ctx context.Context, o Options) (*Stack, error) {
	us, err := p.Docker.StartUser(ctx, ScenarioUserOptions(o, p.Image))
	if err != nil {
		return nil, err
	}
	return us.Stack, nil
}

// BuiltinGateway as UserOptions.GatewayImage is this project's gateway image
// driven like a foreign one (KONG_* environment and ports only): the proof
// that the seam works without a Kong image.
const BuiltinGateway = "builtin"

// UserStack is a Stack whose mockbins are named by the address they stand in
// for ("mockbin1:8080"), plus the Redis servers by address.
type UserStack struct {
	*Stack
	// RedisAt maps "host:port" from the file to the server standing in for it.
	RedisAt map[string]*Redis
}

// holderPort is where the placeholder process of a host listens: a port the
// user's file does not use for that host (see StartUser).
func holderPort(used map[int]bool) int {
	for p := 39999; p > 1024; p-- {
		if !used[p] {
			return p
		}
	}
	return 1
}

// StartUser brings up the stack for a user's configuration.
//
// A killed target must look like a dead machine, not a vanished name: a host
// that stops resolving is answered 503 with no retry (Kong does the same for
// a service host that does not resolve), while a dead machine refuses or
// swallows connections and is retried. So every host of the file is a
// placeholder container that owns the network alias (and the published
// ports) and lives through the battery; each host:port is a mockbin process
// in the placeholder's network namespace, which chaos kills, pauses and
// starts. Several ports on one host are several mockbins in one namespace.
func (d *Docker) StartUser(ctx context.Context, o UserOptions) (_ *UserStack, err error) {
	if o.Name == "" {
		o.Name = "check"
	}
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(d.requestLabels()))
	if err != nil {
		return nil, fmt.Errorf("stack %s: network: %w", o.Name, err)
	}
	var nodes []*userNode
	st := &Stack{Kind: reports.StackContainers}
	us := &UserStack{Stack: st, RedisAt: map[string]*Redis{}}
	st.closeFn = func(ctx context.Context) ([]reports.Log, error) {
		ctx = context.WithoutCancel(ctx)
		var logs []reports.Log
		for _, n := range nodes {
			if !n.holder {
				logs = append(logs, reports.Log{Container: n.name, Tail: string(containerLog(ctx, n.c))})
			}
		}
		// The stack is thrown away: one second of grace, and every container
		// of a layer at once. Dependants first: a placeholder's namespace
		// holds its mockbins.
		var errs []error
		for _, holders := range []bool{false, true} {
			var layer []*userNode
			for _, n := range nodes {
				if n.holder == holders {
					layer = append(layer, n)
				}
			}
			errs = append(errs, parallel(len(layer), func(i int) error {
				if err := layer[i].c.Terminate(ctx, testcontainers.StopTimeout(time.Second)); err != nil {
					return fmt.Errorf("terminate %s: %w", layer[i].name, err)
				}
				return nil
			}))
		}
		if err := nw.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("remove network: %w", err))
		}
		return logs, errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = st.Close(ctx)
		}
	}()

	// Redis, each host with its mockbins, and Toxiproxy depend on nothing
	// but the network: they start together, each component's result in its
	// own slot so the stack's order stays the file's.
	if len(o.Redis) > 0 && d.redisErr != nil {
		return nil, fmt.Errorf("stack %s: redis: %w", o.Name, d.redisErr)
	}
	byHost := map[string][]int{}
	for _, u := range o.Upstreams {
		if !containsInt(byHost[u.Host], u.Port) {
			byHost[u.Host] = append(byHost[u.Host], u.Port)
		}
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	redis := make([]startedUser, len(o.Redis))
	upstreams := make([][]startedUser, len(hosts)) // per host: placeholder, then its ports' mockbins
	var toxi startedUser
	tasks := len(o.Redis) + len(hosts) + 1
	startErr := parallel(tasks, func(i int) error {
		var err error
		switch {
		case i < len(o.Redis):
			r := o.Redis[i]
			port := strconv.Itoa(r.Port)
			redis[i].node, redis[i].ports, err = d.startUserContainer(ctx, o.Name, nw, userSpec{
				name: "redis-" + r.String(), image: d.redisImage, aliases: []string{r.Host},
				// The image listens on 6379; a later --port wins in redis-server.
				cmd:   []string{"--port", port},
				ports: []string{port},
				ready: func(ctx context.Context, addr string) error { return RedisPing(ctx, addr) },
				probe: port,
			})
		case i < len(o.Redis)+len(hosts):
			h := i - len(o.Redis)
			upstreams[h], err = d.startUserHost(ctx, o, nw, hosts[h], byHost[hosts[h]])
		case o.Toxiproxy:
			toxi.node, toxi.ports, err = d.startUserContainer(ctx, o.Name, nw, userSpec{
				name: "toxiproxy", image: d.images["toxiproxy"], aliases: []string{"toxiproxy"},
				env:   map[string]string{"LOG_LEVEL": "warn"},
				ports: []string{"8474"},
				ready: httpReadyAt("/version"),
				probe: "8474",
			})
		}
		return err
	})
	for _, c := range redis {
		if c.node != nil {
			nodes = append(nodes, c.node)
		}
	}
	for _, host := range upstreams {
		for _, c := range host {
			if c.node != nil {
				nodes = append(nodes, c.node)
			}
		}
	}
	if toxi.node != nil {
		nodes = append(nodes, toxi.node)
	}
	if startErr != nil {
		return nil, fmt.Errorf("stack %s: %w", o.Name, startErr)
	}
	for i, r := range o.Redis {
		port := strconv.Itoa(r.Port)
		us.RedisAt[r.String()] = &Redis{Node: redis[i].node, Host: r.Host, Port: r.Port, Addr: "127.0.0.1:" + redis[i].ports[port]}
		if st.Redis == nil {
			st.Redis = us.RedisAt[r.String()]
		}
	}
	for h, host := range hosts {
		published := upstreams[h][0].ports
		for j, p := range byHost[host] {
			n := upstreams[h][j+1].node
			addr := n.name
			st.Mockbins = append(st.Mockbins, &Mockbin{Name: o.mockbinName(addr), Node: n, Target: addr, Direct: addr,
				URL: "http://127.0.0.1:" + published[strconv.Itoa(p)]})
		}
	}

	if o.Toxiproxy {
		st.Toxiproxy = toxiclient.NewClient("http://127.0.0.1:" + toxi.ports["8474"])
		for i, m := range st.Mockbins {
			listen := fmt.Sprintf("0.0.0.0:%d", ToxiproxyPortBase+i+1)
			p, err := st.Toxiproxy.CreateProxy(containerName(m.Name), listen, m.Direct)
			if err != nil {
				return nil, fmt.Errorf("stack %s: toxiproxy proxy for %s: %w", o.Name, m.Name, err)
			}
			m.Proxy = p
			m.Target = fmt.Sprintf("toxiproxy:%d", ToxiproxyPortBase+i+1)
		}
	}

	var files []testcontainers.ContainerFile
	for path, data := range o.GatewayFiles {
		files = append(files, testcontainers.ContainerFile{Reader: strings.NewReader(string(data)), ContainerFilePath: path, FileMode: 0o644})
	}
	gwSpec := userSpec{
		name: "gateway", image: d.images["gateway"], aliases: []string{"gateway"},
		cmd:   append([]string{"--proxy-listen", "0.0.0.0:8000", "--admin-listen", "0.0.0.0:8001"}, o.GatewayArgs...),
		env:   o.GatewayEnv,
		ports: []string{"8000", "8001"},
		ready: httpReadyAt("/status"),
		probe: "8001",
		files: files,
	}
	if o.GatewayImage != "" {
		gwSpec.cmd = nil
		if o.GatewayImage != BuiltinGateway {
			gwSpec.image = o.GatewayImage
		}
	}
	gw, ports, err := d.startUserContainer(ctx, o.Name, nw, gwSpec)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", o.Name, err)
	}
	gw.name = "gateway"
	nodes = append(nodes, gw)
	st.Gateway = &Gateway{
		Node:     gw,
		ProxyURL: "http://127.0.0.1:" + ports["8000"],
		AdminURL: "http://127.0.0.1:" + ports["8001"],
		Image:    gwSpec.image,
	}
	st.Gateway.Admin = NewAdmin(st.Gateway.AdminURL)
	d.log.Info("user stack up", "name", o.Name, "proxy", st.Gateway.ProxyURL, "admin", st.Gateway.AdminURL,
		"upstreams", len(st.Mockbins), "redis", len(us.RedisAt))
	return us, nil
}

// startedUser is one started container of a user stack and its published
// ports (container port → host port).
type startedUser struct {
	node  *userNode
	ports map[string]string
}

// startUserHost starts the placeholder that owns host's name and ports,
// then a mockbin per port in its namespace, those side by side. The first
// element is the placeholder; a mockbin that did not start is a zero slot.
func (d *Docker) startUserHost(ctx context.Context, o UserOptions, nw *testcontainers.DockerNetwork, host string, ports []int) ([]startedUser, error) {
	sort.Ints(ports)
	used := map[int]bool{}
	var exposed []string
	for _, p := range ports {
		used[p] = true
		exposed = append(exposed, strconv.Itoa(p))
	}
	hp := strconv.Itoa(holderPort(used))
	out := make([]startedUser, 1+len(ports))
	var err error
	out[0].node, out[0].ports, err = d.startUserContainer(ctx, o.Name, nw, userSpec{
		name: "host-" + host, image: d.images["mockbin"], aliases: []string{host}, holder: true,
		cmd:   []string{"--listen", ":" + hp, "--name", host + " (placeholder)"},
		ports: append([]string{hp}, exposed...),
		ready: httpReadyAt("/__mockbin/health"),
		probe: hp,
	})
	if err != nil {
		return out, err
	}
	holder, published := out[0].node, out[0].ports
	err = parallel(len(ports), func(i int) error {
		addr := HostPort{host, ports[i]}.String()
		port := strconv.Itoa(ports[i])
		n, _, err := d.startUserContainer(ctx, o.Name, nw, userSpec{
			name: "mockbin-" + addr, image: d.images["mockbin"], netns: holder.c.GetContainerID(),
			cmd:      []string{"--listen", ":" + port, "--name", o.mockbinName(addr)},
			readyURL: "http://127.0.0.1:" + published[port],
			ready:    httpReadyAt("/__mockbin/health"),
		})
		if err != nil {
			return err
		}
		n.name = addr
		out[i+1].node = n
		return nil
	})
	return out, err
}

// mockbinName is the name the mockbin serving addr (host:port) reports.
func (o UserOptions) mockbinName(addr string) string {
	if v := o.MockbinNames[addr]; v != "" {
		return v
	}
	return addr
}

// parallel runs f(0) … f(n-1) side by side and joins their errors.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// userSpec is one container of a user stack.
type userSpec struct {
	name    string
	image   string
	cmd     []string
	env     map[string]string
	aliases []string
	ports   []string // container ports published on 127.0.0.1
	// netns, when set, runs the container in that container's network
	// namespace (no network, aliases or ports of its own).
	netns string
	// holder marks a placeholder: its log is not worth keeping.
	holder bool
	files  []testcontainers.ContainerFile
	// ready checks readiness at addr (127.0.0.1:published probe port), or at
	// readyURL's host when the container publishes nothing itself.
	ready    func(ctx context.Context, addr string) error
	probe    string
	readyURL string
}

func httpReadyAt(path string) func(ctx context.Context, addr string) error {
	return func(ctx context.Context, addr string) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return nil
	}
}

// userNode is a container of a user stack as a chaos target. Unlike
// containerNode its Start waits for its own readiness check, because a
// mockbin in a placeholder's namespace has no published port of its own for
// testcontainers' wait strategies.
type userNode struct {
	containerNode
	holder bool
	addr   string // 127.0.0.1:port the readiness check dials
	ready  func(ctx context.Context, addr string) error
}

func (n *userNode) Start(ctx context.Context) error {
	if err := n.c.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	return n.waitReady(ctx)
}

func (n *userNode) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		err := n.ready(ctx, n.addr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %v: %w", n.name, readyTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (d *Docker) startUserContainer(ctx context.Context, stackName string, nw *testcontainers.DockerNetwork, spec userSpec) (*userNode, map[string]string, error) {
	return retryPortClash(d, spec.name, func() (*userNode, map[string]string, error) {
		return d.startUserContainerOnce(ctx, stackName, nw, spec)
	})
}

func (d *Docker) startUserContainerOnce(ctx context.Context, stackName string, nw *testcontainers.DockerNetwork, spec userSpec) (*userNode, map[string]string, error) {
	bindings, hostPorts, exposed, err := publishOnLoopback(spec.name, spec.ports)
	if err != nil {
		return nil, nil, err
	}
	name := fmt.Sprintf("gauntlet-%s-%d-%s-%s", d.run, d.seq.Add(1), stackName, containerName(spec.name))
	req := testcontainers.ContainerRequest{
		Image:        spec.image,
		Name:         name,
		Cmd:          spec.cmd,
		Env:          spec.env,
		ExposedPorts: exposed,
		Labels:       d.requestLabels(),
		Files:        spec.files,
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = bindings
			if spec.netns != "" {
				hc.NetworkMode = container.NetworkMode("container:" + spec.netns)
			}
		},
	}
	if spec.netns == "" {
		req.Networks = []string{nw.Name}
		req.NetworkAliases = map[string][]string{nw.Name: spec.aliases}
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	dc, _ := c.(*testcontainers.DockerContainer)
	if err != nil {
		if dc != nil {
			logs := containerLog(ctx, dc)
			_ = dc.Terminate(context.WithoutCancel(ctx))
			return nil, nil, fmt.Errorf("start %s: %w\n%s", spec.name, err, logTail(logs, 2048))
		}
		return nil, nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	n := &userNode{
		containerNode: containerNode{name: spec.name, c: dc, cli: d.cli, netID: nw.ID, aliases: spec.aliases},
		holder:        spec.holder,
		ready:         spec.ready,
	}
	switch {
	case spec.readyURL != "":
		n.addr = strings.TrimPrefix(spec.readyURL, "http://")
	case spec.probe != "":
		n.addr = "127.0.0.1:" + hostPorts[spec.probe]
	}
	if n.ready != nil {
		if err := n.waitReady(ctx); err != nil {
			logs := containerLog(ctx, dc)
			_ = dc.Terminate(context.WithoutCancel(ctx))
			return nil, nil, fmt.Errorf("start %s: %w\n%s", spec.name, err, logTail(logs, 2048))
		}
	}
	return n, hostPorts, nil
}

// containerName keeps the characters Docker allows in a container name.
func containerName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
