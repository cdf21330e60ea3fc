package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gauntlet-dev/gauntlet/chaos"
)

// Postgres is a cluster stack's PostgreSQL server (component "postgres"),
// the gateway nodes' shared configuration store.
type Postgres struct {
	// Node is the server as a chaos target (kill, restart, pause).
	Node chaos.Node
	// Host and Port are how the gateway nodes reach it (on a process stack,
	// the server's own address: each node goes through a Toxiproxy proxy of
	// its own instead).
	Host string
	Port int
	// Addr is host:port reachable from the harness (127.0.0.1).
	Addr string
}

// The database the nodes share, as Kong's docker-compose sets it up: user
// and database kong, with a password (scram-sha-256 over the network).
const (
	PostgresPort     = 5432
	PostgresUser     = "kong"
	PostgresPassword = "gauntlet-kong"
	PostgresDatabase = "kong"
	// pgData is the data directory in the image, initialised at build time.
	pgData = "/pgdata"
)

// DSN is the harness's connection string.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&connect_timeout=2", PostgresUser, PostgresPassword, p.Addr, PostgresDatabase)
}

// Env is the gateway node's settings for this server, Kong's names.
func (p *Postgres) Env() map[string]string {
	return map[string]string{
		"KONG_DATABASE": "postgres", "KONG_PG_HOST": p.Host, "KONG_PG_PORT": strconv.Itoa(p.Port),
		"KONG_PG_USER": PostgresUser, "KONG_PG_PASSWORD": PostgresPassword, "KONG_PG_DATABASE": PostgresDatabase,
	}
}

// postgresBinDir finds PostgreSQL's server binaries where Debian puts them
// (/usr/lib/postgresql/<version>/bin, not on PATH), installing the
// postgresql package when they are missing.
func postgresBinDir(ctx context.Context, root string) (string, error) {
	find := func() string {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d
			}
		}
		return ""
	}
	if d := find(); d != "" {
		return d, nil
	}
	if _, err := debianBinary(ctx, root, "pg_ctlcluster", "postgresql"); err != nil {
		return "", err
	}
	if d := find(); d != "" {
		return d, nil
	}
	return "", errors.New("no initdb in /usr/lib/postgresql/*/bin after installing the Debian package postgresql")
}

// pgVersion is the major version in /usr/lib/postgresql/<version>/bin.
func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// initPostgres prepares a PostgreSQL data directory, dir/data, as Kong's
// docker-compose sets its database up: superuser kong with a password,
// database kong, trust on the Unix socket and scram-sha-256 passwords from
// any address. dir must exist; it is given to the server's user
// (postgresOwner), the one who must run postgres on it (cred, nil when we
// are not root). Both stacks use it: the container stack copies the data
// dir into its image, the process stack serves it in place.
func initPostgres(ctx context.Context, binDir, dir string) (data string, cred *syscall.Credential, err error) {
	uid, gid, cred, err := postgresOwner()
	if err != nil {
		return "", nil, err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return "", nil, err
	}
	data = filepath.Join(dir, "data")
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(PostgresPassword+"\n"), 0o600); err != nil {
		return "", nil, err
	}
	defer os.Remove(pw)
	if err := os.Chown(pw, uid, gid); err != nil {
		return "", nil, err
	}
	run := func(stdin string, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, name), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, out)
		}
		return nil
	}
	if err := run("", "initdb", "-D", data, "-U", PostgresUser, "--pwfile", pw, "--auth-local=trust",
		// 1 MiB WAL segments instead of 16: the image build ships a 1 MiB
		// file instead of a 16 MiB one, for every run.
		"--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync", "--wal-segsize=1"); err != nil {
		return "", nil, err
	}
	// Kong's database, created in single-user mode: no server, no socket.
	if err := run("CREATE DATABASE "+PostgresDatabase+" OWNER "+PostgresUser+";\n", "postgres", "--single", "-D", data, "postgres"); err != nil {
		return "", nil, err
	}
	// Password logins from any address of the stack's network.
	hba := "local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return "", nil, err
	}
	if err := os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid); err != nil {
		return "", nil, err
	}
	return data, cred, nil
}

// postgresArgs are the server's flags on data besides where it listens,
// the same on both stacks. fsync off: the stack's database need not
// survive a power cut, only a SIGKILL of its processes, which loses nothing
// the kernel has (synchronous_commit stays on).
func postgresArgs(data string) []string {
	return []string{"-D", data, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
		"-c", "timezone=UTC", "-c", "log_timezone=UTC"}
}

// postgresImage is Debian's postgres server with a data directory made by
// initdb on the host at build time (initPostgres): the image starts serving
// at once, with no shell or entrypoint script to initialise anything. The
// server runs as the host's postgres user (it refuses root), which owns the
// data dir.
func postgresImage(ctx context.Context, binDir string) (nativeImage, func(), error) {
	uid, gid, _, err := postgresOwner()
	if err != nil {
		return nativeImage{}, nil, err
	}
	dir, err := os.MkdirTemp("", "gauntlet-pgimage-")
	if err != nil {
		return nativeImage{}, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	fail := func(err error) (nativeImage, func(), error) {
		cleanup()
		return nativeImage{}, nil, fmt.Errorf("postgres image: %w", err)
	}
	data, _, err := initPostgres(ctx, binDir, dir)
	if err != nil {
		return fail(err)
	}
	var files []imageFile
	err = filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		at := pgData + strings.TrimPrefix(path, data)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			files = append(files, imageFile{path: at, mode: int64(fi.Mode().Perm()), dir: true, owned: true})
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, imageFile{path: at, mode: int64(fi.Mode().Perm()), data: b, owned: true})
		return nil
	})
	if err != nil {
		return fail(err)
	}
	// postgres looks its user up by uid; a FROM scratch image has no passwd.
	files = append(files,
		imageFile{path: "/etc/passwd", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:0::/:/nonexistent\npostgres:x:%d:%d::%s:/nonexistent\n", uid, gid, pgData)},
		imageFile{path: "/etc/group", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:\npostgres:x:%d:\n", gid)})

	version := filepath.Base(filepath.Dir(binDir))
	for _, f := range []string{filepath.Join(filepath.Dir(binDir), "lib", "plpgsql.so"), "/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/Etc/UTC"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return fail(err)
		}
		files = append(files, imageFile{path: f, mode: 0o644, data: b})
	}
	// No Unix socket: the image has no /var/run/postgresql.
	ep, _ := json.Marshal(append([]string{filepath.Join(binDir, "postgres")},
		append(postgresArgs(pgData), "-c", "listen_addresses=*", "-c", "unix_socket_directories=")...))
	im := nativeImage{
		name: "postgres",
		bins: map[string]string{filepath.Join(binDir, "postgres"): filepath.Join(binDir, "postgres")},
		// At start the server reads its timezone abbreviations and the
		// UTC zone; plpgsql is the one module a database loads unasked.
		trees: []string{"/usr/share/postgresql/" + version + "/timezonesets"},
		files: files,
		dirs:  []string{"/tmp"},
		owner: fmt.Sprintf("%d:%d", uid, gid),
		// SIGINT is a fast shutdown; SIGTERM would wait for every client.
		tail: fmt.Sprintf("USER %d:%d\nEXPOSE %d\nSTOPSIGNAL SIGINT\nENTRYPOINT %s\n", uid, gid, PostgresPort, ep),
	}
	return im, cleanup, nil
}

// postgresOwner is who runs initdb and owns the data dir: the postgres user
// the Debian package creates when we are root (initdb refuses root),
// ourselves otherwise.
func postgresOwner() (uid, gid int, cred *syscall.Credential, err error) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid(), nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, nil, fmt.Errorf("running as root and no postgres user to run initdb as (the Debian package postgresql creates it): %w", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// PostgresPing connects as the nodes do and runs SELECT 1: the readiness
// check (an open port alone is not enough behind Docker's port proxy).
func PostgresPing(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// postgresWait waits until the server answers SELECT 1 on its mapped port.
func postgresWait() pingWait {
	return pingWait{port: PostgresPort, what: "postgres answering SELECT 1", ping: func(ctx context.Context, addr string) error {
		return PostgresPing(ctx, (&Postgres{Addr: addr}).DSN())
	}}
}
