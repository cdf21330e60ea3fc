//go:build resilience

package stack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// TestRedisContainer builds the redis-server image from the Debian binary and
// its libraries, and checks that it answers PING, dies on kill and answers
// again on the same host port after a start. Run with:
// go test -tags resilience -run TestRedisContainer ./scenarios/stack
func TestRedisContainer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	d, err := ConnectDocker(ctx, log)
	if err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	defer d.Close(context.Background())
	if err := d.Prepare(ctx, t.TempDir(), Binaries[1:2]); err != nil {
		t.Fatal(err)
	}
	if d.redisErr != nil {
		t.Fatal(d.redisErr)
	}
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(d.Labels()))
	if err != nil {
		t.Fatal(err)
	}
	n, ports, err := d.startContainer(ctx, "redistest", nw, containerSpec{
		name: "redis", image: d.redisImage,
		ports: []string{fmt.Sprint(RedisPort)},
		wait:  componentWait(redisComponent),
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + ports[fmt.Sprint(RedisPort)]
	if err := RedisPing(ctx, addr); err != nil {
		t.Fatalf("after start: %v", err)
	}
	if err := n.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := RedisPing(ctx, addr); err == nil {
		t.Fatal("redis still answers PING after kill")
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := RedisPing(ctx, addr); err != nil {
		t.Fatalf("after restart: %v (the host port must survive a restart)", err)
	}
}
