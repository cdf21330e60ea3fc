package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgUser is the superuser initdb creates; trust authentication, on
// 127.0.0.1 only.
const pgUser = "gauntlet"

// startPostgres starts a throwaway PostgreSQL for the "gateway, postgres"
// row, as gateway/store/pgtest does for the tests (which needs a testing.TB,
// so it is not imported here): initdb in <work>/pg, postgres on addr's port,
// tuned for speed (fsync off; nothing here must survive a crash). It
// bootstraps the gateway's schema with `<gateway> migrations bootstrap` and
// returns the postmaster's pid and the flags that point a gateway at the
// database. procs stops the server at the end; if the benchmark dies first,
// Pdeathsig does.
func startPostgres(procs *processes, work, gateway, addr string) (pid int, flags []string) {
	bin, err := postgresBinDir()
	check(err)
	_, port, err := net.SplitHostPort(addr)
	check(err)
	dir := filepath.Join(work, "pg")
	check(os.Mkdir(dir, 0o700))
	// initdb and postgres refuse to run as root; as root, they run as the
	// postgres user the Debian package creates, in a dir it owns (work
	// becomes traversable, not readable, for it).
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			fatalf("running as root and no postgres user to run PostgreSQL as (the Debian package postgresql creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		check(os.Chmod(work, 0o711))
		check(os.Chown(dir, uid, gid))
	}
	data := filepath.Join(dir, "data")
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	initdb := command("initdb", "-D", data, "-U", pgUser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		fatalf("initdb: %v\n%s", err, out)
	}
	server := command("postgres", "-D", data, "-p", port, "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off")
	server.SysProcAttr.Pdeathsig = syscall.SIGKILL
	pid = procs.run(server)

	dsn := fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable", pgUser, addr)
	deadline := time.Now().Add(readyDeadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			break
		}
		if time.Now().After(deadline) {
			fatalf("postgres on %s not accepting connections after %s: %v (log in %s)", addr, readyDeadline, err, procs.dir)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}

	flags = []string{"--database", "postgres", "--pg-host", "127.0.0.1", "--pg-port", port,
		"--pg-user", pgUser, "--pg-database", "postgres"}
	if out, err := exec.Command(gateway, append([]string{"migrations", "bootstrap"}, flags...)...).CombinedOutput(); err != nil {
		fatalf("%s migrations bootstrap: %v\n%s", gateway, err, out)
	}
	log.Printf("postgres on %s (%s), schema bootstrapped", addr, bin)
	return pid, flags
}

// postgresBinDir finds PostgreSQL's server binaries: on PATH, else where
// Debian puts them (/usr/lib/postgresql/<version>/bin, not on PATH), newest
// version first.
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL not found (no initdb on PATH or in /usr/lib/postgresql/*/bin): install the Debian package postgresql (make bench does)")
}
