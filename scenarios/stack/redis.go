package stack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/gauntlet-dev/gauntlet/chaos"
)

// Redis is the stack's redis-server (Options.Redis), the counter store of the
// rate-limiting plugin's redis policy.
type Redis struct {
	// Node is the server as a chaos target (kill, restart, pause; partition in
	// containers).
	Node chaos.Node
	// Host and Port are how the gateway reaches it: the plugin's redis.host and
	// redis.port ("redis", 6379 on the container network; 127.0.0.1 and a free
	// port for a process stack).
	Host string
	Port int
	// Addr is host:port reachable from the harness (127.0.0.1).
	Addr string
}

// RedisPort is the port redis-server listens on inside its container.
const RedisPort = 6379

// redisArgs make redis-server a pure in-memory counter store reachable from
// the other containers: no snapshots, no append-only file (a restarted Redis
// starts empty, as a crashed cache does), and no protected mode (it would
// refuse connections from other hosts without a password).
var redisArgs = []string{"--protected-mode", "no", "--save", "", "--appendonly", "no"}

// RedisServerBinary finds the Debian redis-server binary, installing the
// package through scripts/apt-ensure.sh when it is missing.
func RedisServerBinary(ctx context.Context, root string) (string, error) {
	return debianBinary(ctx, root, "redis-server", "redis-server")
}

// redisImage is redis-server at /usr/bin/redis-server (the entrypoint,
// whatever its host path) with its loader and libraries, in exec form
// (there is no shell), listening on every interface.
func redisImage(bin string) nativeImage {
	ep, _ := json.Marshal(append([]string{"/usr/bin/redis-server", "--bind", "0.0.0.0", "--port", fmt.Sprint(RedisPort)}, redisArgs...))
	return nativeImage{
		name: "redis",
		bins: map[string]string{"/usr/bin/redis-server": bin},
		// Writable scratch dirs: redis-server's working directory and /tmp.
		dirs: []string{"/tmp", "/data"},
		tail: fmt.Sprintf("WORKDIR /data\nEXPOSE %d\nENTRYPOINT %s\n", RedisPort, ep),
	}
}

// BuildRedisImage packs the Debian redis-server binary into a FROM scratch
// image.
func BuildRedisImage(ctx context.Context, cli *client.Client, log *slog.Logger, bin string, labels map[string]string) (string, error) {
	return redisImage(bin).build(ctx, cli, log, labels)
}

// RedisPing sends PING to addr and expects +PONG: the readiness check of a
// redis-server (an open port alone is not enough behind Docker's port proxy,
// which accepts connections while nothing listens inside).
func RedisPing(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("redis %s: %w", addr, err)
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("redis %s answered %q to PING", addr, strings.TrimSpace(line))
	}
	return nil
}
