package main

// A Postgres server of one test's own, which the test may stop and start
// (the shared server on 5432 must stay up for everyone else's tests).

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// pgBinDir is where the Postgres server programs are looked for when they
// are not on PATH.
const pgBinDir = "/usr/local/bin"

// pgCluster is a Postgres cluster in a test's temporary directory,
// listening on a free loopback port with trust authentication.
type pgCluster struct {
	initdb, pgctl string
	data, logFile string
	port          int
	cred          *syscall.Credential // the postgres OS user's, when the test runs as root
}

// pgProgram finds a Postgres program on PATH or in pgBinDir.
func pgProgram(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join(pgBinDir, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is neither on PATH nor in %s", name, pgBinDir)
	}
	return p, nil
}

// postgresCredential is who runs the Postgres programs: the test's own
// user, or the postgres OS user when the test runs as root (initdb and
// postgres refuse root).
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres OS user to run initdb and postgres: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("the postgres OS user has uid %q and gid %q, which are not numbers", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// freeLoopbackPort returns a TCP port nothing listens on at the moment.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPGCluster makes a cluster in t's temporary directory, starts it and
// stops it (immediately) when t ends.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	initdb, err := pgProgram("initdb")
	if err != nil {
		dbtest.SkipOrFail(t, "POSTGRES SERVER PROGRAMS NOT INSTALLED ("+err.Error()+"): install initdb, pg_ctl and postgres")
	}
	pgctl, err := pgProgram("pg_ctl")
	if err != nil {
		dbtest.SkipOrFail(t, "POSTGRES SERVER PROGRAMS NOT INSTALLED ("+err.Error()+"): install initdb, pg_ctl and postgres")
	}
	cred, err := postgresCredential()
	if err != nil {
		dbtest.SkipOrFail(t, "CANNOT RUN A PRIVATE POSTGRES: "+err.Error())
	}
	c := &pgCluster{initdb: initdb, pgctl: pgctl, cred: cred, port: freeLoopbackPort(t)}
	c.makeDir(t)
	if out, err := c.run(initdb, "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// No Unix socket: the cluster is reached on its port only, and stays
	// out of the directories of the machine's own server.
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"+
		"fsync = off\nfull_page_writes = off\nshared_buffers = 32MB\nmax_connections = 100\n", c.port)
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	c.start(t)
	t.Cleanup(func() {
		if out, err := c.run(c.pgctl, "-D", c.data, "-m", "immediate", "-w", "-t", "30", "stop"); err != nil &&
			!strings.Contains(string(out), "Is server running?") {
			t.Errorf("stopping the test's Postgres: %v\n%s", err, out)
		}
	})
	return c
}

// makeDir makes the cluster's directory: inside t.TempDir, owned by the
// user that runs Postgres, whose way there is opened for it.
func (c *pgCluster) makeDir(t *testing.T) {
	t.Helper()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "pg")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if c.cred != nil {
		// The test's temporary directories are private to root; postgres
		// needs to pass through them (not to list them).
		for _, d := range []string{filepath.Dir(tmp), tmp} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	c.data, c.logFile = filepath.Join(dir, "data"), filepath.Join(dir, "postgres.log")
}

// run runs a Postgres program as the cluster's user, for at most a minute.
func (c *pgCluster) run(prog string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

// URL is the cluster's database for bookbridge.
func (c *pgCluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// start starts the server and waits until it accepts connections.
func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	if out, err := c.run(c.pgctl, "-D", c.data, "-l", c.logFile, "-w", "-t", "30", "start"); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, c.log())
	}
}

// stop shuts the server down as an operator's restart does (fast: open
// connections are ended) and waits until it has.
func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	if out, err := c.run(c.pgctl, "-D", c.data, "-m", "fast", "-w", "-t", "30", "stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s\n%s", err, out, c.log())
	}
}

// log is the server's log, for a failure message.
func (c *pgCluster) log() string {
	b, err := os.ReadFile(c.logFile)
	if err != nil {
		return "(no Postgres log: " + err.Error() + ")"
	}
	return string(b)
}
