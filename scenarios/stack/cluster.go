package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// buildClusterImages builds the PostgreSQL and HAProxy images once per run
// (Prepare starts it beside the other images; a stack of a provider that
// was not prepared builds them on its first cluster).
func (d *Docker) buildClusterImages(ctx context.Context) (map[string]string, error) {
	d.clusterOnce.Do(func() {
		d.clusterErr = func() error {
			binDir, err := postgresBinDir(ctx, d.root)
			if err != nil {
				return err
			}
			im, cleanup, err := postgresImage(ctx, binDir)
			if err != nil {
				return err
			}
			defer cleanup()
			pg, err := im.build(ctx, d.cli, d.log, d.labels)
			if err != nil {
				return err
			}
			bin, err := debianBinary(ctx, d.root, "haproxy", "haproxy")
			if err != nil {
				return err
			}
			ha, err := haproxyImage(bin).build(ctx, d.cli, d.log, d.labels)
			if err != nil {
				return err
			}
			d.clusterImages = map[string]string{"postgres": pg, "haproxy": ha}
			return nil
		}()
	})
	return d.clusterImages, d.clusterErr
}

// startCluster starts what Options.Nodes asks for, after the mockbins (and
// Redis, Toxiproxy): PostgreSQL on a database network, its schema
// bootstrapped, the gateway nodes on both networks, HAProxy in front. It
// returns once HAProxy sends requests to every node.
func (d *Docker) startCluster(ctx context.Context, opts Options, s *Stack, front *testcontainers.DockerNetwork,
	nodes *[]*containerNode, nets *[]*testcontainers.DockerNetwork) error {
	images, err := d.buildClusterImages(ctx)
	if err != nil {
		return fmt.Errorf("cluster images: %w", err)
	}
	db, err := tcnetwork.New(ctx, tcnetwork.WithLabels(maps.Clone(d.labels)))
	if err != nil {
		return fmt.Errorf("database network: %w", err)
	}
	*nets = append(*nets, db)

	pgNode, ports, err := d.startContainer(ctx, opts.Name, db, containerSpec{
		name:  "postgres",
		image: images["postgres"],
		ports: []string{fmt.Sprint(PostgresPort)},
		wait:  postgresWait(),
	})
	if err != nil {
		return err
	}
	*nodes = append(*nodes, pgNode)
	s.Postgres = &Postgres{Node: pgNode, Host: "postgres", Port: PostgresPort, Addr: "127.0.0.1:" + ports[fmt.Sprint(PostgresPort)]}
	env := s.Postgres.Env()
	maps.Copy(env, ClusterEnv)
	maps.Copy(env, opts.NodeEnv)

	// `kong migrations bootstrap` before any node starts, as in Kong's
	// docker-compose: a one-shot container of the gateway image.
	mig, _, err := d.startContainer(ctx, opts.Name, db, containerSpec{
		name:  "migrations",
		image: d.images["gateway"],
		cmd:   []string{"migrations", "bootstrap"},
		env:   env,
		wait:  wait.ForExit().WithExitTimeout(readyTimeout),
	})
	if err != nil {
		return err
	}
	*nodes = append(*nodes, mig)
	st, err := mig.c.State(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if st.ExitCode != 0 {
		return fmt.Errorf("gateway migrations bootstrap exited %d:\n%s", st.ExitCode, logTail(containerLog(ctx, mig.c), 2048))
	}

	// The nodes start side by side: each waits for its own /status, and
	// one after another they took a third of a cluster scenario's set-up.
	names := make([]string, opts.Nodes)
	started := make([]*containerNode, opts.Nodes)
	nodePorts := make([]map[string]string, opts.Nodes)
	errs := make([]error, opts.Nodes)
	gateway := stackRecipe(opts).gateway()
	var wg sync.WaitGroup
	for i := range names {
		names[i] = fmt.Sprintf("gateway%d", i+1)
		node := gateway
		node.name, node.env = names[i], env
		spec := d.componentSpec(node, site{postgres: true})
		spec.alsoOn = []*testcontainers.DockerNetwork{db}
		wg.Add(1)
		go func() {
			defer wg.Done()
			started[i], nodePorts[i], errs[i] = d.startContainer(ctx, opts.Name, front, spec)
		}()
	}
	wg.Wait()
	for _, n := range started {
		if n != nil {
			*nodes = append(*nodes, n) // removed with the stack, even when another node failed
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, n := range started {
		ports := nodePorts[i]
		gw := &Gateway{
			Node:     n,
			ProxyURL: "http://127.0.0.1:" + ports["8000"],
			AdminURL: "http://127.0.0.1:" + ports["8001"],
			Image:    d.images["gateway"],
			Name:     names[i],
			// The same container on the database network: Disconnect there
			// cuts this node off PostgreSQL alone.
			DBLink: &containerNode{name: "postgres link on " + names[i], c: n.c, cli: d.cli, netID: db.ID, aliases: []string{names[i]}},
		}
		gw.Admin = NewAdmin(gw.AdminURL)
		s.Nodes = append(s.Nodes, gw)
	}
	s.Gateway = s.Nodes[0]

	check := DefaultHAProxyCheck
	if opts.LBCheck != nil {
		check = *opts.LBCheck
	}
	lb, ports, err := d.startContainer(ctx, opts.Name, front, containerSpec{
		name:  "haproxy",
		image: images["haproxy"],
		files: []testcontainers.ContainerFile{{Reader: strings.NewReader(HAProxyConfig(ContainerHAProxy(names, check))),
			ContainerFilePath: haproxyConfigPath, FileMode: 0o644}},
		ports: []string{fmt.Sprint(HAProxyPort), fmt.Sprint(HAProxyStatsPort)},
		wait:  wait.ForHTTP("/stats").WithPort(fmt.Sprintf("%d/tcp", HAProxyStatsPort)).WithStartupTimeout(readyTimeout),
	})
	if err != nil {
		return err
	}
	*nodes = append(*nodes, lb)
	s.LB = &LoadBalancer{Node: lb,
		URL:      fmt.Sprintf("http://127.0.0.1:%s", ports[fmt.Sprint(HAProxyPort)]),
		StatsURL: fmt.Sprintf("http://127.0.0.1:%s/stats", ports[fmt.Sprint(HAProxyStatsPort)]),
		log:      func(ctx context.Context) ([]byte, error) { return containerLog(ctx, lb.c), nil },
	}
	// Rise checks must pass before HAProxy sends a node anything.
	for _, n := range names {
		if _, err := s.LB.AwaitServing(ctx, n, true, time.Duration(check.Rise+1)*(check.Interval+check.Timeout)+5*time.Second); err != nil {
			return err
		}
	}
	return nil
}
