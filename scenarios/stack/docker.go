package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/gauntlet-dev/gauntlet/reports"
)

// Offline testcontainers settings (DESIGN.md, "Facts about these machines"):
// Ryuk's image cannot be pulled, and the machine has /.dockerenv, so without
// the host override testcontainers dials the bridge gateway and every wait
// strategy times out. They must be set before testcontainers' first call.
func init() {
	for k, v := range map[string]string{
		"TESTCONTAINERS_RYUK_DISABLED": "true",
		"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
	} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
}

// tcLogger sends testcontainers' progress lines to slog at debug level: the
// scenario log stays readable, and -v with a debug handler still shows them.
type tcLogger struct{ log *slog.Logger }

func (l tcLogger) Printf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }

// Docker starts stacks as containers on a Docker engine.
type Docker struct {
	cli    *client.Client
	log    *slog.Logger
	images Images
	run    string
	labels map[string]string
	seq    atomic.Int64
	// redisImage is the redis-server image (built with the others); redisErr
	// says why there is none, and fails only the stacks that ask for Redis.
	redisImage string
	redisErr   error
	// The cluster's images (PostgreSQL, HAProxy), built once (Prepare); their
	// error fails only the cluster stacks.
	clusterOnce   sync.Once
	clusterImages map[string]string
	clusterErr    error
	root          string
}

// NewDocker connects to the engine, removes leftovers of crashed runs, and
// builds the binaries (into binDir) and images once for the whole run.
func NewDocker(ctx context.Context, log *slog.Logger, binDir string) (*Docker, error) {
	d, err := ConnectDocker(ctx, log)
	if err != nil {
		return nil, err
	}
	if err := d.Prepare(ctx, binDir, Binaries); err != nil {
		return nil, err
	}
	return d, nil
}

// ConnectDocker connects to the engine and removes leftovers of crashed runs.
func ConnectDocker(ctx context.Context, log *slog.Logger) (*Docker, error) {
	tclog.SetDefault(tcLogger{log})
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tc, err := testcontainers.NewDockerClientWithOpts(pingCtx)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	if _, err := tc.Ping(pingCtx, client.PingOptions{}); err != nil {
		return nil, fmt.Errorf("docker ping: %w", err)
	}
	d := &Docker{cli: tc.Client, log: log, run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	d.labels = map[string]string{LabelHarness: "true", LabelOwner: Owner(), LabelRun: d.run}
	if n, err := Cleanup(ctx, d.cli, StaleSelector()); err != nil {
		log.Warn("removing leftovers of earlier runs", "err", err)
	} else if n != (Removed{}) {
		log.Info("removed leftovers of earlier runs", "containers", n.Containers, "networks", n.Networks, "images", n.Images)
	}
	return d, nil
}

// Prepare builds bins into binDir and their images.
func (d *Docker) Prepare(ctx context.Context, binDir string, bins []Binary) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	d.root = root
	if err := BuildBinaries(ctx, d.log, root, binDir, bins); err != nil {
		return err
	}
	// The three kinds of image are built side by side: mostly the engine's
	// I/O, and one after another they took a minute of every run.
	var wg sync.WaitGroup
	wg.Add(2)
	// The Redis image is built once per run with the others. It is a dynamic
	// binary with its libraries, so it skips BuildImages' static check. Its
	// failure (no redis-server, no way to install it) only fails the scenarios
	// that need Redis.
	go func() {
		defer wg.Done()
		bin, err := RedisServerBinary(ctx, root)
		if err == nil {
			d.redisImage, err = BuildRedisImage(ctx, d.cli, d.log, bin, d.labels)
		}
		if err != nil {
			d.redisErr = err
			d.log.Warn("no redis image: scenarios with a Redis will fail", "err", err)
		}
	}()
	// The cluster's images likewise fail only the cluster scenarios.
	go func() {
		defer wg.Done()
		if _, err := d.buildClusterImages(ctx); err != nil {
			d.log.Warn("no cluster images: cluster scenarios will fail", "err", err)
		}
	}()
	d.images, err = BuildImages(ctx, d.cli, d.log, binDir, bins, d.labels)
	wg.Wait()
	return err
}

// requestLabels are the run's labels for one container request, a copy
// each: testcontainers adds its own labels into the request's map, and
// containers start side by side.
func (d *Docker) requestLabels() map[string]string { return maps.Clone(d.labels) }

// Labels are the labels this run puts on its objects.
func (d *Docker) Labels() map[string]string { return d.labels }

func (d *Docker) Kind() string { return reports.StackContainers }

// Client is the engine client (for tests and cleanup).
func (d *Docker) Client() *client.Client { return d.cli }

// Close removes everything of this run, images included.
func (d *Docker) Close(ctx context.Context) error {
	n, err := Cleanup(ctx, d.cli, RunSelector(d.run))
	d.log.Info("removed this run's docker objects", "containers", n.Containers, "networks", n.Networks, "images", n.Images)
	return err
}

// Image returns the image reference of a binary.
func (d *Docker) Image(name string) string { return d.images[name] }

type containerSpec struct {
	name string // network alias and component name
	// alsoOn are further networks the container joins, under the same alias.
	alsoOn []*testcontainers.DockerNetwork
	image  string
	cmd    []string
	env    map[string]string
	ports  []string // container ports to publish on 127.0.0.1
	wait   wait.Strategy
	tmpfs  map[string]string
	files  []testcontainers.ContainerFile // copied in before the start
}

// startContainer starts one container, trying new host ports when the chosen
// ones were taken in the meantime.
func (d *Docker) startContainer(ctx context.Context, stackName string, nw *testcontainers.DockerNetwork, spec containerSpec) (*containerNode, map[string]string, error) {
	return retryPortClash(d, spec.name, func() (*containerNode, map[string]string, error) {
		return d.startContainerOnce(ctx, stackName, nw, spec)
	})
}

// startedContainer is one container of startContainers: its node and its
// published ports (container port → host port), or nil when it did not start.
type startedContainer struct {
	node  *containerNode
	ports map[string]string
}

type startedContainers []startedContainer

// nodes are the containers that started, in spec order: those the stack's
// close must remove even when a sibling failed.
func (cs startedContainers) nodes() []*containerNode {
	var out []*containerNode
	for _, c := range cs {
		if c.node != nil {
			out = append(out, c.node)
		}
	}
	return out
}

// startContainers starts every spec at once and waits for all of them
// (each start has its own readiness timeout), in spec order.
func (d *Docker) startContainers(ctx context.Context, stackName string, nw *testcontainers.DockerNetwork, specs []containerSpec) (startedContainers, error) {
	out := make(startedContainers, len(specs))
	err := parallel(len(specs), func(i int) (err error) {
		out[i].node, out[i].ports, err = d.startContainer(ctx, stackName, nw, specs[i])
		return err
	})
	return out, err
}

// retryPortClash runs start up to three times while its error is a host port
// taken between freePort and the container's start.
func retryPortClash[N any](d *Docker, component string, start func() (N, map[string]string, error)) (N, map[string]string, error) {
	for attempt := 1; ; attempt++ {
		n, ports, err := start()
		if err == nil || attempt == 3 || !portClash(err) {
			return n, ports, err
		}
		d.log.Warn("host port taken, retrying with new ports", "component", component, "err", err)
	}
}

// publishOnLoopback picks a free host port for each container port and binds
// it on 127.0.0.1 only (test traffic never leaves loopback). hostPorts maps
// container port to host port.
func publishOnLoopback(component string, ports []string) (bindings mobynet.PortMap, hostPorts map[string]string, exposed []string, err error) {
	bindings, hostPorts = mobynet.PortMap{}, map[string]string{}
	for _, p := range ports {
		hp, err := freePort()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: free port: %w", component, err)
		}
		port := mobynet.MustParsePort(p + "/tcp")
		bindings[port] = []mobynet.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: hp}}
		hostPorts[p] = hp
		exposed = append(exposed, p+"/tcp")
	}
	return bindings, hostPorts, exposed, nil
}

func (d *Docker) startContainerOnce(ctx context.Context, stackName string, nw *testcontainers.DockerNetwork, spec containerSpec) (*containerNode, map[string]string, error) {
	bindings, hostPorts, exposed, err := publishOnLoopback(spec.name, spec.ports)
	if err != nil {
		return nil, nil, err
	}
	name := fmt.Sprintf("gauntlet-%s-%d-%s-%s", d.run, d.seq.Add(1), stackName, spec.name)
	networks, aliases := []string{nw.Name}, map[string][]string{nw.Name: {spec.name}}
	for _, n := range spec.alsoOn {
		networks = append(networks, n.Name)
		aliases[n.Name] = []string{spec.name}
	}
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:          spec.image,
			Name:           name,
			Cmd:            spec.cmd,
			Env:            spec.env,
			ExposedPorts:   exposed,
			Labels:         d.requestLabels(),
			Networks:       networks,
			NetworkAliases: aliases,
			WaitingFor:     spec.wait,
			Files:          spec.files,
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.PortBindings = bindings
				hc.Tmpfs = spec.tmpfs
			},
		},
		Started: true,
	}
	c, err := testcontainers.GenericContainer(ctx, req)
	dc, _ := c.(*testcontainers.DockerContainer)
	if err != nil {
		if dc != nil {
			// Keep the failed container's log in the error: it says why.
			logs := containerLog(ctx, dc)
			_ = dc.Terminate(context.WithoutCancel(ctx))
			return nil, nil, fmt.Errorf("start %s: %w\n%s", spec.name, err, logTail(logs, 2048))
		}
		return nil, nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	return &containerNode{name: spec.name, c: dc, cli: d.cli, netID: nw.ID, aliases: []string{spec.name}}, hostPorts, nil
}

func containerLog(ctx context.Context, c *testcontainers.DockerContainer) []byte {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rc, err := c.Logs(ctx)
	if err != nil {
		return []byte("(log unavailable: " + err.Error() + ")")
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

// ToxiproxyPortBase is where mockbin i's proxy listens inside the Toxiproxy
// container (ToxiproxyPortBase + i).
const ToxiproxyPortBase = 20000

// Start brings up one stack: network, mockbins, Toxiproxy (if asked), gateway.
func (d *Docker) Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	opts = opts.withDefaults()
	runLabels := map[string]string{}
	for k, v := range d.labels {
		runLabels[k] = v
	}
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(runLabels))
	if err != nil {
		return nil, fmt.Errorf("stack %s: network: %w", opts.Name, err)
	}
	var nodes []*containerNode
	nets := []*testcontainers.DockerNetwork{nw}
	s := &Stack{Kind: reports.StackContainers}
	s.closeFn = func(ctx context.Context) ([]reports.Log, error) {
		ctx = context.WithoutCancel(ctx)
		logs := make([]reports.Log, len(nodes))
		for i, n := range nodes {
			logs[i] = reports.Log{Container: n.name, Tail: string(containerLog(ctx, n.c))}
		}
		// The logs are read first, then every container goes at once: the
		// stack is being thrown away, so one second of grace, not Docker's
		// ten, and not one container after another (a cluster has nine).
		errs := []error{parallel(len(nodes), func(i int) error {
			if err := nodes[i].c.Terminate(ctx, testcontainers.StopTimeout(time.Second)); err != nil {
				return fmt.Errorf("terminate %s: %w", nodes[i].name, err)
			}
			return nil
		})}
		for _, n := range nets {
			if err := n.Remove(ctx); err != nil {
				errs = append(errs, fmt.Errorf("remove network: %w", err))
			}
		}
		return logs, errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = s.Close(ctx)
		}
	}()

	// The backends (Redis, the mockbins, Toxiproxy) depend on nothing but
	// the network, so they start together (one after another cost a second
	// or two of every scenario); the gateway starts after them, so its first
	// health probe finds its targets answering.
	r := stackRecipe(opts)
	backends := r.inPhase(phaseBackends)
	specs := make([]containerSpec, len(backends))
	for i, c := range backends {
		if c.binary == "redis" && d.redisErr != nil {
			return nil, fmt.Errorf("stack %s: redis: %w", opts.Name, d.redisErr)
		}
		specs[i] = d.componentSpec(c, site{})
	}
	started, err := d.startContainers(ctx, opts.Name, nw, specs)
	nodes = append(nodes, started.nodes()...)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", opts.Name, err)
	}
	for i, c := range backends {
		reach, harness := containerAddrs(specs[i], started[i].ports)
		s.place(c, started[i].node, reach, harness)
	}
	if s.Toxiproxy != nil {
		for i, m := range s.Mockbins {
			listen := fmt.Sprintf("0.0.0.0:%d", ToxiproxyPortBase+i+1)
			p, err := s.Toxiproxy.CreateProxy(m.Name, listen, m.Direct)
			if err != nil {
				return nil, fmt.Errorf("stack %s: toxiproxy proxy for %s: %w", opts.Name, m.Name, err)
			}
			m.Proxy = p
			m.Target = fmt.Sprintf("toxiproxy:%d", ToxiproxyPortBase+i+1)
		}
	}

	if opts.Nodes >= 2 {
		if err := d.startCluster(ctx, opts, s, nw, &nodes, &nets); err != nil {
			return nil, fmt.Errorf("stack %s: %w", opts.Name, err)
		}
		d.log.Info("cluster up", "name", opts.Name, "proxy", s.LB.URL, "nodes", len(s.Nodes), "postgres", s.Postgres.Addr,
			"mockbins", len(s.Mockbins), "redis", opts.Redis)
		return s, nil
	}

	var files []testcontainers.ContainerFile
	declarative := ""
	if opts.Declarative != nil {
		declarative = declarativePath
		files = append(files, testcontainers.ContainerFile{Reader: strings.NewReader(opts.Declarative(s.Mockbins)),
			ContainerFilePath: declarativePath, FileMode: 0o644})
	}
	spec := d.componentSpec(r.gateway(), site{declarative: declarative})
	spec.files = files
	if opts.EphemeralData {
		spec.tmpfs = map[string]string{containerDataDir: ""} // emptied whenever the container stops
	}
	gw, ports, err := d.startContainer(ctx, opts.Name, nw, spec)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", opts.Name, err)
	}
	nodes = append(nodes, gw)
	_, harness := containerAddrs(spec, ports)
	s.placeGateway(gw, harness, spec.image)
	s.Gateway.Name = spec.name
	s.logUp(d.log, opts)
	return s, nil
}

// containerDataDir is where a component keeps its data in its container.
const containerDataDir = "/data"

// componentSpec is c as a container listening on its container ports, at
// (its store, for a gateway) filled in with where that is.
func (d *Docker) componentSpec(c component, at site) containerSpec {
	spec := containerSpec{name: c.name, image: d.images[c.binary], env: c.env, wait: componentWait(c)}
	if c.binary == "redis" {
		spec.image = d.redisImage
	}
	for _, p := range c.ports {
		spec.ports = append(spec.ports, strconv.Itoa(p))
	}
	if c.args != nil && !c.imageArgs {
		at.host, at.ports, at.dataDir = c.containerHost, spec.ports, containerDataDir
		spec.cmd = c.args(at)
	}
	return spec
}

// componentWait is c's readiness check as a wait strategy on its published
// probe port.
func componentWait(c component) wait.Strategy {
	port := c.ports[c.probe]
	if c.ready.ping != nil {
		return pingWait{port: port, what: c.ready.what, ping: c.ready.ping}
	}
	return wait.ForHTTP(c.ready.path).WithPort(fmt.Sprintf("%d/tcp", port)).WithStartupTimeout(readyTimeout)
}

// containerAddrs are host:port of each of spec's ports as the other
// containers reach it (through its network alias) and as the harness does
// (published on 127.0.0.1: published maps container port to host port).
func containerAddrs(spec containerSpec, published map[string]string) (reach, harness []string) {
	for _, p := range spec.ports {
		reach = append(reach, spec.name+":"+p)
		harness = append(harness, "127.0.0.1:"+published[p])
	}
	return reach, harness
}

// pingWait is a testcontainers wait strategy that runs a protocol-level
// ping against the container's mapped port until it answers, within
// readyTimeout: an open port alone proves nothing behind Docker's port
// proxy, which accepts while nothing listens inside. It also runs when a
// killed container is started again (chaos revert).
type pingWait struct {
	port int
	what string // for the error: "redis answering PING"
	ping func(ctx context.Context, addr string) error
}

func (w pingWait) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		host, err := target.Host(ctx)
		if err == nil {
			p, perr := target.MappedPort(ctx, fmt.Sprintf("%d/tcp", w.port))
			if perr == nil {
				err = w.ping(ctx, net.JoinHostPort(host, p.Port()))
			} else {
				err = perr
			}
		}
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("not %s within %v", w.what, readyTimeout), last)
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
}
