package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gauntlet-dev/gauntlet/internal/procfs"
	"github.com/gauntlet-dev/gauntlet/reports"
)

// Processes starts stacks as local processes: the fallback when no Docker
// engine answers. Kill is SIGKILL, pause SIGSTOP, and partitions and latency
// go through an in-process Toxiproxy, so the same scenarios run.
type Processes struct {
	log    *slog.Logger
	binDir string
	root   string

	toxiSrv *http.Server
	toxiURL string
	seq     int
	mu      sync.Mutex
}

// NewProcesses builds the binaries into binDir and starts the in-process
// Toxiproxy API on a loopback port.
func NewProcesses(ctx context.Context, log *slog.Logger, binDir string) (*Processes, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	if err := BuildBinaries(ctx, log, root, binDir, Binaries); err != nil {
		return nil, err
	}
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("toxiproxy listen: %w", err)
	}
	p := &Processes{log: log, binDir: binDir, root: root, toxiSrv: &http.Server{Handler: api.Routes()}, toxiURL: "http://" + l.Addr().String()}
	go p.toxiSrv.Serve(l)
	return p, nil
}

func (p *Processes) Kind() string { return reports.StackProcesses }

func (p *Processes) Close(ctx context.Context) error { return p.toxiSrv.Shutdown(ctx) }

// procNode is a local process as a chaos target.
type procNode struct {
	name    string
	bin     string
	args    []string
	logPath string
	ready   func(ctx context.Context) error
	// wipeOnStart is removed before every start but the first (EphemeralData).
	wipeOnStart string
	started     bool
	// proxy, when set, is the Toxiproxy proxy in front of the process, used for
	// partitions (disabled proxy: connections refused, like a vanished host).
	proxy *toxiclient.Proxy
	// env is added to the harness's environment; cred, when set, is the
	// user the process runs as (PostgreSQL refuses root).
	env  []string
	cred *syscall.Credential
	// tree: Kill, Pause and Unpause signal the process's children too, as
	// a container's cgroup would (PostgreSQL's backends each call setsid,
	// so a process group does not hold them). stopSignal is what Stop sends
	// (SIGTERM when zero).
	tree       bool
	stopSignal syscall.Signal

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (n *procNode) Name() string { return n.name }

func (n *procNode) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.cmd != nil {
		select {
		case <-n.done:
		default:
			n.mu.Unlock()
			return fmt.Errorf("start %s: already running", n.name)
		}
	}
	if n.started && n.wipeOnStart != "" {
		if err := os.RemoveAll(n.wipeOnStart); err != nil {
			n.mu.Unlock()
			return fmt.Errorf("start %s: %w", n.name, err)
		}
	}
	n.started = true
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	cmd := exec.Command(n.bin, n.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if len(n.env) > 0 {
		cmd.Env = append(os.Environ(), n.env...)
	}
	// Its own process group, so a terminal's Ctrl-C reaches the harness first
	// and the harness decides how each process ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: n.cred}
	if err := cmd.Start(); err != nil {
		logf.Close()
		n.mu.Unlock()
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	return n.waitReady(ctx)
}

func (n *procNode) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := n.ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-n.done:
			return fmt.Errorf("%s exited before it was ready (log: %s)", n.name, n.logPath)
		default:
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: waiting for readiness: %w (last check: %v)", n.name, ctx.Err(), err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", n.name, readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *procNode) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("%s: not started", n.name)
	}
	p := n.cmd.Process
	if !n.tree || sig == n.stop() {
		return p.Signal(sig)
	}
	// Freeze the parent first: it forks nothing we would miss, and its
	// children stay its own (a dead parent's go to init) while we list them.
	if sig != syscall.SIGCONT {
		_ = p.Signal(syscall.SIGSTOP)
	}
	for _, c := range procfs.Children(p.Pid) {
		_ = syscall.Kill(c, sig)
	}
	return p.Signal(sig)
}

func (n *procNode) stop() syscall.Signal {
	if n.stopSignal != 0 {
		return n.stopSignal
	}
	return syscall.SIGTERM
}

func (n *procNode) exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.done
}

func (n *procNode) Kill(ctx context.Context) error {
	_ = n.signal(syscall.SIGCONT) // a paused process must be able to die
	if err := n.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", n.name, err)
	}
	select {
	case <-n.exited():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kill %s: %w", n.name, ctx.Err())
	}
}

func (n *procNode) Stop(ctx context.Context, grace time.Duration) error {
	if err := n.signal(n.stop()); err != nil {
		return fmt.Errorf("stop %s: %w", n.name, err)
	}
	select {
	case <-n.exited():
		return nil
	case <-time.After(grace):
		return n.Kill(ctx)
	}
}

func (n *procNode) Pause(context.Context) error   { return n.signal(syscall.SIGSTOP) }
func (n *procNode) Unpause(context.Context) error { return n.signal(syscall.SIGCONT) }

func (n *procNode) Disconnect(context.Context) error {
	if n.proxy == nil {
		return fmt.Errorf("partition %s: only components behind Toxiproxy can be partitioned on a process stack", n.name)
	}
	return n.proxy.Disable()
}

func (n *procNode) Reconnect(context.Context) error {
	if n.proxy == nil {
		return fmt.Errorf("reconnect %s: not behind Toxiproxy", n.name)
	}
	return n.proxy.Enable()
}

func httpReady(url string) func(ctx context.Context) error {
	hc := &http.Client{Timeout: time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return nil
	}
}

// Start brings up one stack of processes; its files live in a temporary dir.
func (p *Processes) Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	opts = opts.withDefaults()
	p.mu.Lock()
	p.seq++
	seq := p.seq
	p.mu.Unlock()
	dir, err := os.MkdirTemp("", "gauntlet-"+opts.Name+"-")
	if err != nil {
		return nil, err
	}
	var nodes []*procNode
	var proxies []*toxiclient.Proxy
	s := &Stack{Kind: reports.StackProcesses}
	s.closeFn = func(ctx context.Context) ([]reports.Log, error) {
		var logs []reports.Log
		var errs []error
		for _, n := range nodes {
			if err := n.Kill(ctx); err != nil && n.cmd != nil {
				select {
				case <-n.exited():
				default:
					errs = append(errs, err)
				}
			}
			b, _ := os.ReadFile(n.logPath)
			logs = append(logs, reports.Log{Container: n.name, Tail: string(b)})
		}
		for _, px := range proxies {
			_ = px.Delete()
		}
		return logs, errors.Join(append(errs, os.RemoveAll(dir))...)
	}
	defer func() {
		if err != nil {
			_ = s.Close(ctx)
		}
	}()

	r := stackRecipe(opts)
	at := site{host: "127.0.0.1", dir: dir, dataDir: filepath.Join(dir, "gateway-data")}
	var mockbins []*procNode
	for _, c := range r.inPhase(phaseBackends) {
		if c.binary == "toxiproxy" {
			s.Toxiproxy = toxiclient.NewClient(p.toxiURL) // the in-process one (NewProcesses)
			continue
		}
		n, addrs, err := p.start(ctx, opts, c, at, &nodes)
		if err != nil {
			return nil, err
		}
		s.place(c, n, addrs, addrs)
		if c.binary == "mockbin" {
			mockbins = append(mockbins, n)
		}
	}
	if s.Toxiproxy != nil {
		for i, m := range s.Mockbins {
			px, err := s.Toxiproxy.CreateProxy(fmt.Sprintf("%s-%d-%s", opts.Name, seq, m.Name), "127.0.0.1:0", m.Direct)
			if err != nil {
				return nil, fmt.Errorf("stack %s: toxiproxy proxy for %s: %w", opts.Name, m.Name, err)
			}
			proxies = append(proxies, px)
			m.Proxy, m.Target, mockbins[i].proxy = px, px.Listen, px
		}
	}

	if opts.Nodes >= 2 {
		if err := p.startCluster(ctx, opts, s, dir, seq, &nodes, &proxies); err != nil {
			return nil, fmt.Errorf("stack %s: %w", opts.Name, err)
		}
		p.log.Info("cluster up", "name", opts.Name, "kind", s.Kind, "proxy", s.LB.URL, "nodes", len(s.Nodes), "postgres", s.Postgres.Addr,
			"mockbins", len(s.Mockbins), "toxiproxy", opts.Toxiproxy, "redis", opts.Redis)
		return s, nil
	}

	if opts.Declarative != nil {
		at.declarative = filepath.Join(dir, "kong.yml")
		if err := os.WriteFile(at.declarative, []byte(opts.Declarative(s.Mockbins)), 0o644); err != nil {
			return nil, fmt.Errorf("stack %s: %w", opts.Name, err)
		}
	}
	gw, addrs, err := p.start(ctx, opts, r.gateway(), at, &nodes)
	if err != nil {
		return nil, err
	}
	s.placeGateway(gw, addrs, gw.bin)
	s.logUp(p.log, opts)
	return s, nil
}

// start starts c as a process listening on free loopback ports (addrs, one
// for each of c's ports), added to nodes before its start so that the
// stack's close ends it whatever happens.
func (p *Processes) start(ctx context.Context, opts Options, c component, at site, nodes *[]*procNode) (_ *procNode, addrs []string, _ error) {
	bin := filepath.Join(p.binDir, c.binary)
	if c.binary == "redis" {
		var err error
		if bin, err = RedisServerBinary(ctx, p.root); err != nil {
			return nil, nil, fmt.Errorf("stack %s: %w", opts.Name, err)
		}
	}
	at.ports = make([]string, len(c.ports))
	for i := range c.ports {
		port, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		at.ports[i] = port
		addrs = append(addrs, at.listen(i))
	}
	n := &procNode{name: c.name, bin: bin, args: c.args(at), logPath: filepath.Join(at.dir, c.name+".log")}
	for k, v := range c.env {
		n.env = append(n.env, k+"="+v)
	}
	if c.ready.ping != nil {
		addr := addrs[c.probe]
		n.ready = func(ctx context.Context) error { return c.ready.ping(ctx, addr) }
	} else {
		n.ready = httpReady("http://" + addrs[c.probe] + c.ready.path)
	}
	if c.phase == phaseGateway && opts.EphemeralData {
		n.wipeOnStart = at.dataDir
	}
	*nodes = append(*nodes, n)
	if err := n.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("stack %s: %w", opts.Name, err)
	}
	return n, addrs, nil
}
