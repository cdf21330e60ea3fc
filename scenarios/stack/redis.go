package stack

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go/wait"

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
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "apt-ensure.sh"), "redis-server:redis-server")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install redis-server: %w\n%s", err, out)
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redis-server still missing after installing the Debian package: %w", err)
	}
	return p, nil
}

// imageFile is one file of a FROM scratch image, at its absolute path.
type imageFile struct {
	path string
	mode int64
	data []byte
}

// RedisImageFiles are the files the redis-server image needs: the binary, its
// dynamic loader (PT_INTERP) and every shared library ldd lists, each at the
// path the loader will look it up at. Symbolic links are followed, so the image
// holds real files where the host has links (libfoo.so.1 -> libfoo.so.1.2.3).
func RedisImageFiles(ctx context.Context, bin string) ([]imageFile, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, fmt.Errorf("redis image: %w", err)
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("redis image: read interpreter of %s: %w", bin, err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	f.Close()
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("redis image: ldd %s: %w", bin, err)
	}
	paths := LddPaths(out)
	if interp != "" {
		paths = append(paths, interp)
	}
	seen := map[string]bool{}
	files := []imageFile{}
	add := func(path string, mode int64) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		data, err := os.ReadFile(path) // follows symlinks: the image gets the real file
		if err != nil {
			return fmt.Errorf("redis image: %w", err)
		}
		files = append(files, imageFile{path: path, mode: mode, data: data})
		return nil
	}
	// The binary goes to /usr/bin/redis-server (the entrypoint) whatever its
	// host path.
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("redis image: %w", err)
	}
	files = append(files, imageFile{path: "/usr/bin/redis-server", mode: 0o755, data: data})
	seen["/usr/bin/redis-server"] = true
	for _, p := range paths {
		if err := add(p, 0o755); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// LddPaths picks the absolute library paths out of ldd's output ("libc.so.6 =>
// /lib/x86_64-linux-gnu/libc.so.6 (0x...)", "/lib64/ld-linux-x86-64.so.2
// (0x...)"); the vDSO has no file and is skipped. Sorted, without duplicates.
func LddPaths(out []byte) []string {
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, tok := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(tok, "/") {
				set[tok] = true
				break
			}
		}
	}
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// RedisDockerfile is the image's Dockerfile: the files copied at their paths,
// redis-server in exec form (there is no shell), listening on every interface.
func RedisDockerfile() string {
	ep, _ := json.Marshal(append([]string{"/usr/bin/redis-server", "--bind", "0.0.0.0", "--port", fmt.Sprint(RedisPort)}, redisArgs...))
	return "FROM scratch\nCOPY rootfs/ /\nWORKDIR /data\n" +
		fmt.Sprintf("EXPOSE %d\nENTRYPOINT %s\n", RedisPort, ep)
}

func redisImageContext(files []imageFile) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	write := func(h *tar.Header, data []byte) error {
		h.ModTime = time.Unix(0, 0)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	df := []byte(RedisDockerfile())
	if err := write(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))}, df); err != nil {
		return nil, err
	}
	dirs := map[string]bool{}
	var mkdirs func(dir string) error
	mkdirs = func(dir string) error {
		if dir == "/" || dir == "." || dirs[dir] {
			return nil
		}
		if err := mkdirs(filepath.Dir(dir)); err != nil {
			return err
		}
		dirs[dir] = true
		return write(&tar.Header{Name: "rootfs" + dir + "/", Mode: 0o755, Typeflag: tar.TypeDir}, nil)
	}
	// Writable scratch dirs: redis-server's working directory and /tmp.
	for _, d := range []string{"/tmp", "/data"} {
		if err := mkdirs(d); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := mkdirs(filepath.Dir(f.path)); err != nil {
			return nil, err
		}
		if err := write(&tar.Header{Name: "rootfs" + f.path, Mode: f.mode, Size: int64(len(f.data))}, f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// BuildRedisImage packs the Debian redis-server binary with its loader and
// libraries into a FROM scratch image, labelled like the other images (and so
// removed with them), tagged by the content hash and the run.
func BuildRedisImage(ctx context.Context, cli *client.Client, log *slog.Logger, bin string, labels map[string]string) (string, error) {
	start := time.Now()
	files, err := RedisImageFiles(ctx, bin)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s %d\n", f.path, len(f.data))
		h.Write(f.data)
	}
	ref := fmt.Sprintf("gauntlet-harness/redis:%s-%s", hex.EncodeToString(h.Sum(nil))[:12], labels[LabelRun])
	buildCtx, err := redisImageContext(files)
	if err != nil {
		return "", fmt.Errorf("redis image: %w", err)
	}
	resp, err := cli.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true, Labels: labels, Version: build.BuilderV1,
	})
	if err != nil {
		return "", fmt.Errorf("redis image: build: %w", err)
	}
	err = readBuildStream(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", fmt.Errorf("redis image: build: %w", err)
	}
	log.Info("built image", "ref", ref, "files", len(files), "took", time.Since(start).Round(time.Millisecond))
	return ref, nil
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

// redisWait is a testcontainers wait strategy that PINGs the mapped port. It
// also runs when a killed container is started again (chaos revert).
type redisWait struct{ timeout time.Duration }

func (w redisWait) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	var last error
	for {
		host, err := target.Host(ctx)
		if err == nil {
			var port string
			p, perr := target.MappedPort(ctx, fmt.Sprintf("%d/tcp", RedisPort))
			if perr == nil {
				port = p.Port()
				err = RedisPing(ctx, net.JoinHostPort(host, port))
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
			return errors.Join(fmt.Errorf("redis not answering PING within %v", w.timeout), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
