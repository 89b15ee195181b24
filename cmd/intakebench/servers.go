package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// checkLoopback refuses a database that is not on this machine.
func checkLoopback(dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("-db must be a postgres:// URL")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("-db must point at a loopback address, not %q", host)
	}
	return nil
}

// withSchema returns dbURL using schema as its search path.
func withSchema(dbURL, schema string) string {
	u, _ := url.Parse(dbURL)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer in 60s", url)
}

// startServers starts the floor and bookbridge, each on a schema of its own.
func startServers(ctx context.Context, o options) ([]target, func(), error) {
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	admin, err := pgx.Connect(ctx, o.db)
	if err != nil {
		return nil, cleanup, fmt.Errorf("connecting to %s: %w", o.db, err)
	}
	cleanups = append(cleanups, func() { admin.Close(context.Background()) })
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	schemas := map[string]string{"floor": "intakebench_floor_" + suffix, "bookbridge": "intakebench_bb_" + suffix}
	for _, s := range schemas {
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+s); err != nil {
			return nil, cleanup, err
		}
		cleanups = append(cleanups, func() { admin.Exec(context.Background(), "DROP SCHEMA "+s+" CASCADE") })
	}
	dir, err := os.MkdirTemp("", "intakebench")
	if err != nil {
		return nil, cleanup, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })

	self, err := os.Executable()
	if err != nil {
		return nil, cleanup, err
	}
	floorAddr, err := freeAddr()
	if err != nil {
		return nil, cleanup, err
	}
	floor := exec.Command(self, "floor-server", "-db", withSchema(o.db, schemas["floor"]), "-listen", floorAddr)
	floor.Stderr = os.Stderr
	if err := floor.Start(); err != nil {
		return nil, cleanup, err
	}
	cleanups = append(cleanups, stopper(floor))
	if err := waitReady(ctx, "http://"+floorAddr+"/healthz"); err != nil {
		return nil, cleanup, fmt.Errorf("floor server: %w", err)
	}

	bin := o.bookbridge
	if bin == "" {
		bin = filepath.Join(dir, "bookbridge")
		fmt.Fprintln(os.Stderr, "building ./cmd/bookbridge ...")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/bookbridge")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return nil, cleanup, fmt.Errorf("go build ./cmd/bookbridge (run from the repository root, or pass -bookbridge): %w", err)
		}
	}
	bbAddr, err := freeAddr()
	if err != nil {
		return nil, cleanup, err
	}
	env := append(os.Environ(),
		"BOOKBRIDGE_DATABASE_URL="+withSchema(o.db, schemas["bookbridge"]),
		"BOOKBRIDGE_LISTEN="+bbAddr,
		"BOOKBRIDGE_TARGET=sql",
		"BOOKBRIDGE_TARGET_URL="+filepath.Join(dir, "target.db"),
		"BOOKBRIDGE_LOG_LEVEL="+o.logLevel,
		"BOOKBRIDGE_CONFIG=",
	)
	// The schema first: the CLI's one-shot commands never create a
	// database themselves.
	migrate := exec.CommandContext(ctx, bin, "migrate")
	migrate.Env, migrate.Stderr = env, os.Stderr
	if err := migrate.Run(); err != nil {
		return nil, cleanup, fmt.Errorf("bookbridge migrate: %w", err)
	}
	keyCmd := exec.CommandContext(ctx, bin, "apikey", "create", "bench", "--role", "intake")
	keyCmd.Env, keyCmd.Stderr = env, os.Stderr
	out, err := keyCmd.Output()
	if err != nil {
		return nil, cleanup, fmt.Errorf("bookbridge apikey create: %w", err)
	}
	key := strings.TrimSpace(string(out))
	serve := exec.Command(bin, "serve")
	serve.Env = env
	logFile, err := os.Create(filepath.Join(dir, "bookbridge.log"))
	if err != nil {
		return nil, cleanup, err
	}
	serve.Stderr = logFile
	if err := serve.Start(); err != nil {
		return nil, cleanup, err
	}
	cleanups = append(cleanups, stopper(serve))
	if err := waitReady(ctx, "http://"+bbAddr+"/readyz"); err != nil {
		return nil, cleanup, fmt.Errorf("bookbridge: %w", err)
	}
	return []target{
		{name: "floor", url: "http://" + floorAddr + "/deals", pid: floor.Process.Pid},
		{name: "bookbridge", url: "http://" + bbAddr + "/api/v1/deals", key: key, pid: serve.Process.Pid},
	}, cleanup, nil
}

func stopper(cmd *exec.Cmd) func() {
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
}

// runFloorServer is the floor: read the body (6 MiB limit), insert it, answer.
func runFloorServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("floor-server", flag.ContinueOnError)
	db := fs.String("db", "", "Postgres URL")
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(*db)
	if err != nil {
		return err
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS floor_deals (id bigserial PRIMARY KEY, raw bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /deals", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 6<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		var id int64
		if err := pool.QueryRow(context.WithoutCancel(r.Context()), `INSERT INTO floor_deals (raw) VALUES ($1) RETURNING id`, body).Scan(&id); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "{\"id\":%d}\n", id)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
