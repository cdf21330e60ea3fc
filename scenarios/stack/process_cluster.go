package stack

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// startCluster is the process stack's Options.Nodes, the same cluster as
// the container stack's (cluster.go): PostgreSQL from a data dir made by
// initPostgres, its schema bootstrapped, gateway nodes with
// database=postgres, HAProxy in front. Each node reaches PostgreSQL through
// a Toxiproxy proxy of its own, so that Gateway.DBLink cuts that node off
// the database alone, as a container node's second network does. It
// returns once HAProxy sends requests to every node.
func (p *Processes) startCluster(ctx context.Context, opts Options, s *Stack, dir string, seq int,
	nodes *[]*procNode, proxies *[]*toxiclient.Proxy) error {
	binDir, err := postgresBinDir(ctx, p.root)
	if err != nil {
		return err
	}
	// PostgreSQL runs as its own user when we are root: it must be able to
	// reach its data dir inside the stack's.
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}
	pgDir := filepath.Join(dir, "postgres")
	if err := os.Mkdir(pgDir, 0o700); err != nil {
		return err
	}
	data, cred, err := initPostgres(ctx, binDir, pgDir)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	pgPort, _ := strconv.Atoi(port)
	pg := &Postgres{Host: "127.0.0.1", Port: pgPort, Addr: "127.0.0.1:" + port}
	pgNode := &procNode{
		name: "postgres", bin: filepath.Join(binDir, "postgres"),
		args:    append(postgresArgs(data), "-p", port, "-k", pgDir, "-c", "listen_addresses=127.0.0.1"),
		logPath: filepath.Join(dir, "postgres.log"),
		ready:   func(ctx context.Context) error { return PostgresPing(ctx, pg.DSN()) },
		cred:    cred,
		// SIGINT is a fast shutdown; SIGTERM would wait for every client.
		tree: true, stopSignal: syscall.SIGINT,
	}
	*nodes = append(*nodes, pgNode)
	if err := pgNode.Start(ctx); err != nil {
		return err
	}
	pg.Node = pgNode
	s.Postgres = pg
	nodeEnv := func(pg *Postgres) []string {
		env := pg.Env()
		maps.Copy(env, ClusterEnv)
		maps.Copy(env, opts.NodeEnv)
		var out []string
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		return out
	}

	// `kong migrations bootstrap` before any node starts, as in Kong's
	// docker-compose.
	mctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	mig := exec.CommandContext(mctx, filepath.Join(p.binDir, "gateway"), "migrations", "bootstrap")
	mig.Dir = dir
	mig.Env = append(os.Environ(), nodeEnv(pg)...)
	if out, err := mig.CombinedOutput(); err != nil {
		return fmt.Errorf("gateway migrations bootstrap: %w:\n%s", err, logTail(out, 2048))
	}

	tp := toxiclient.NewClient(p.toxiURL)
	gateway := stackRecipe(opts).gateway()
	var servers []HAProxyServer
	for i := 1; i <= opts.Nodes; i++ {
		name := fmt.Sprintf("gateway%d", i)
		var ports [3]string // proxy, admin, the node's proxy to PostgreSQL
		for j := range ports {
			if ports[j], err = freePort(); err != nil {
				return err
			}
		}
		px, err := tp.CreateProxy(fmt.Sprintf("%s-%d-%s-postgres", opts.Name, seq, name), "127.0.0.1:"+ports[2], pg.Addr)
		if err != nil {
			return fmt.Errorf("toxiproxy proxy from %s to postgres: %w", name, err)
		}
		*proxies = append(*proxies, px)
		pxPort, _ := strconv.Atoi(ports[2])
		admin := "http://127.0.0.1:" + ports[1]
		n := &procNode{
			name: name, bin: filepath.Join(p.binDir, "gateway"),
			args: gateway.args(site{host: "127.0.0.1", ports: ports[:2],
				dataDir: filepath.Join(dir, name+"-data"), postgres: true}),
			env:     nodeEnv(&Postgres{Host: "127.0.0.1", Port: pxPort}),
			logPath: filepath.Join(dir, name+".log"),
			ready:   httpReady(admin + "/status"),
		}
		*nodes = append(*nodes, n)
		if err := n.Start(ctx); err != nil {
			return err
		}
		gw := &Gateway{Node: n, ProxyURL: "http://127.0.0.1:" + ports[0], AdminURL: admin, Admin: NewAdmin(admin),
			Image: n.bin, Name: name,
			DBLink: &dbLink{procNode: n, name: "postgres link on " + name, proxy: px}}
		s.Nodes = append(s.Nodes, gw)
		adminPort, _ := strconv.Atoi(ports[1])
		servers = append(servers, HAProxyServer{Name: name, Addr: "127.0.0.1:" + ports[0], CheckPort: adminPort})
	}
	s.Gateway = s.Nodes[0]

	check := DefaultHAProxyCheck
	if opts.LBCheck != nil {
		check = *opts.LBCheck
	}
	bin, err := debianBinary(ctx, p.root, "haproxy", "haproxy")
	if err != nil {
		return err
	}
	lbPort, err := freePort()
	if err != nil {
		return err
	}
	statsPort, err := freePort()
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(HAProxyConfig(HAProxySetup{Servers: servers,
		Bind: "127.0.0.1:" + lbPort, StatsBind: "127.0.0.1:" + statsPort, Check: check})), 0o644); err != nil {
		return err
	}
	stats := "http://127.0.0.1:" + statsPort + "/stats"
	lb := &procNode{
		name: "haproxy", bin: bin,
		args:    []string{"-db", "-f", cfg},
		logPath: filepath.Join(dir, "haproxy.log"),
		ready:   httpReady(stats),
	}
	*nodes = append(*nodes, lb)
	if err := lb.Start(ctx); err != nil {
		return err
	}
	s.LB = &LoadBalancer{Node: lb, URL: "http://127.0.0.1:" + lbPort, StatsURL: stats,
		log: func(context.Context) ([]byte, error) { return os.ReadFile(lb.logPath) }}
	// Rise checks must pass before HAProxy sends a node anything.
	for _, srv := range servers {
		if _, err := s.LB.AwaitServing(ctx, srv.Name, true, time.Duration(check.Rise+1)*(check.Interval+check.Timeout)+5*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// dbLink is a process node's link to PostgreSQL: the node itself as a
// chaos target (Kill, Pause act on the gateway, as they do on a container
// node's DBLink), partitioned through its own Toxiproxy proxy to the
// database. A disabled proxy refuses connections and drops those open.
type dbLink struct {
	*procNode
	name  string
	proxy *toxiclient.Proxy
}

func (l *dbLink) Name() string { return l.name }

func (l *dbLink) Disconnect(context.Context) error { return l.proxy.Disable() }

func (l *dbLink) Reconnect(context.Context) error { return l.proxy.Enable() }
