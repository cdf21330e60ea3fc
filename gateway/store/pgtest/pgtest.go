// Package pgtest runs throwaway PostgreSQL servers for tests: initdb in a
// temporary directory, postgres on a free 127.0.0.1 port, removed when the
// test ends. The binaries come from Debian's postgresql package (`make test`
// installs it). A missing PostgreSQL fails the test with a message saying
// so, never skips it: the postgres store is a named feature and must be
// tested, as the redis policy is.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gauntlet-dev/gauntlet/internal/procfs"
)

// User is the superuser initdb creates; it needs no password (trust on
// 127.0.0.1 only, which is all the server listens on).
const User = "gauntlet"

// Server is one PostgreSQL server.
type Server struct {
	t       testing.TB
	dir     string
	port    int
	bin     string
	cred    *syscall.Credential
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	out     *bytes.Buffer
	dbCount atomic.Int64
}

// Start initialises and starts a server owned by t: it is stopped and its
// files removed when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		t.Fatalf("%v", err)
	}
	s := &Server{t: t, bin: bin}
	// initdb and postgres refuse to run as root; as root, run them as the
	// postgres user the Debian package creates.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and no postgres user to run PostgreSQL as (the Debian package postgresql creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	removeStale()
	// Not t.TempDir: its parents are private to root, and the server may run
	// as another user.
	if s.dir, err = os.MkdirTemp("", "gauntlet-pg-"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(s.dir) })
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	initdb := s.command("initdb", "-D", s.data(), "-U", User, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	s.port = freePort(t)
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// removeStale deletes what test processes that died before their cleanup
// (a test timeout's panic skips TestMain's StopShared) left behind: dirs
// whose server is gone, or that never got one and are old. Pdeathsig has
// already stopped those servers.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "gauntlet-pg-*"))
	for _, d := range dirs {
		// A live test's server may be down for seconds (an outage test); the
		// dir's mtime moves whenever its server starts (the socket).
		if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		pidFile, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid"))
		if err == nil {
			line, _, _ := strings.Cut(string(pidFile), "\n")
			pid, err := strconv.Atoi(strings.TrimSpace(line))
			if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
				os.RemoveAll(d)
			}
			continue
		}
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.RemoveAll(d)
		}
	}
}

// BinDir finds PostgreSQL's server binaries: on PATH, else where Debian puts
// them (/usr/lib/postgresql/<version>/bin, not on PATH).
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // newest version first (single digits aside, fine for 13..19)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL not found (no initdb on PATH or in /usr/lib/postgresql/*/bin): install the Debian package postgresql (make deps-test does)")
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	return cmd
}

// Port is the server's TCP port on 127.0.0.1; it stays the same across
// Stop and Restart, as a database host's does.
func (s *Server) Port() int { return s.port }

// Restart starts the server if it is stopped and waits until it accepts
// connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	s.out = &bytes.Buffer{}
	// fsync off: a test database need not survive a power cut, and fsyncs
	// would make the tests slow on a shared disk. synchronous_commit stays
	// on: Kill must not lose acknowledged commits (WAL still in the killed
	// server's shared memory), or outage tests would test the wrong thing.
	s.cmd = s.command("postgres", "-D", s.data(), "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	// If the test binary dies, the server goes too.
	s.cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		s.t.Fatalf("pgtest: start postgres: %v", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(s.cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		select {
		case <-exited:
			s.t.Fatalf("pgtest: postgres exited at start: %s", s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pgtest: postgres on port %d not accepting connections after 30s: %v\n%s", s.port, err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
}

// Freeze stops every process of the server (SIGSTOP) without closing a
// connection: the kernel still accepts and acknowledges, nothing answers,
// as with a partition or a hung host. Thaw resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		signalAll(s.cmd.Process.Pid, sig)
	}
}

// signalAll signals the postmaster and its children. Not by process group:
// every backend calls setsid(), so it is in a group of its own.
func signalAll(postmaster int, sig syscall.Signal) {
	_ = syscall.Kill(postmaster, sig)
	for _, pid := range procfs.Children(postmaster) {
		_ = syscall.Kill(pid, sig)
	}
}

// Kill stops the server the hard way (SIGKILL to the postmaster and its
// backends), as a crashed database host would, and waits until it is gone.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

// Stop shuts the server down (idempotent).
func (s *Server) Stop() { s.stop(syscall.SIGQUIT) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	pm := s.cmd.Process.Pid
	kids := procfs.Children(pm)
	signalAll(pm, syscall.SIGCONT) // a frozen server cannot act on a signal
	// Backends too, at once, so no connection survives a kill.
	signalAll(pm, sig)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		signalAll(pm, syscall.SIGKILL)
		<-s.exited
	}
	// Backends may outlive the postmaster by a moment (they are reparented,
	// so they were listed before); they hold shared memory and the port.
	deadline := time.Now().Add(10 * time.Second)
	for _, k := range kids {
		for time.Now().Before(deadline) && syscall.Kill(k, 0) == nil {
			if sig == syscall.SIGKILL {
				_ = syscall.Kill(k, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
		}
	}
	_ = os.Remove(filepath.Join(s.data(), "postmaster.pid"))
	s.cmd = nil
}

// DSN is a connection string for database db as the superuser.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", User, s.port, db)
}

// UniqueName is a name no other test of this server uses (for a schema).
func (s *Server) UniqueName(prefix string) string {
	return fmt.Sprintf("%s%d_%d", prefix, os.Getpid(), s.dbCount.Add(1))
}

// NewDatabase creates an empty database of its own for one test and returns
// its name, so tests can share one server.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbCount.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return name
}

var (
	sharedMu sync.Mutex
	shared   *Server
	sharedT  *processT
)

// Shared returns a server shared by every test of the process, started on
// first use (initdb costs about a second). Call StopShared from TestMain
// after m.Run; if the process dies first, Pdeathsig ends the server.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		sharedT = &processT{TB: t}
		shared = Start(sharedT)
	}
	return shared
}

// StopShared stops the shared server and removes its files.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedT != nil {
		sharedT.cleanup()
		shared, sharedT = nil, nil
	}
}

// processT outlives the test that started the shared server: its cleanups
// run at StopShared, and its failures go to whichever test is starting it.
type processT struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func (p *processT) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

func (p *processT) cleanup() {
	p.mu.Lock()
	fs := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
