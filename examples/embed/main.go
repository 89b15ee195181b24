// Command embed is a team's own gateway service built directly on bookbridge's
// packages, without the reference server in cmd/bookbridge. It is example code:
// read it to see how the pieces fit, then copy the parts your service needs.
//
// The service owns its router, its authentication and its storage choices, and
// calls the library for the business work:
//
//	POST /deals                  sfdc.DecodeReader + sfdc.Validate, then staging.Store.Intake
//	POST /emails                 phmail.Parse, then staging.Store.IngestEmail (or Quarantine)
//	GET  /records/{number}       staging.Store.GetByNumber
//	POST /records/{number}/load  mapping.Rules.Plan, then loader.Apply to a SQL target,
//	                             inside staging's StartLoad / SaveJournal / FinishLoad lifecycle
//	                             (?dry_run=true answers loader.Preview instead)
//
// Every route wants "Authorization: Bearer <token>", where the token comes from
// EMBED_TOKEN (a random one is made and printed when it is unset). That is this
// team's decision: bookbridge's packages know nothing about HTTP or callers.
//
// Usage:
//
//	go run ./examples/embed [-listen 127.0.0.1:8080] [-data DIR] [-db URL] [-target URL]
//	                        [-rules FILE] [-param name=value ...]
//
// Each flag can also be set by the environment variable named in its help.
// By default both databases are SQLite files in DIR (staging.db for the
// staging store, target.db for the SQL target that stands in for ServiceNow),
// and the rules are bookbridge's embedded reference rules. The service prints
// "listening on ADDRESS" on stdout once it accepts connections, logs to stderr,
// and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// shutdownGrace bounds how long requests under way (a load, say) may take to
// finish after SIGINT or SIGTERM.
const shutdownGrace = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// errUsage marks a command line that could not be parsed (exit code 2).
var errUsage = errors.New("usage error")

// run starts the service and blocks until ctx is cancelled, then shuts down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	envOr := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", envOr("EMBED_LISTEN", "127.0.0.1:8080"), "`address` to listen on; port 0 picks a free one (EMBED_LISTEN)")
	dataDir := fs.String("data", envOr("EMBED_DATA_DIR", filepath.Join(os.TempDir(), "bookbridge-embed")), "`directory` of the default SQLite files (EMBED_DATA_DIR)")
	dbURL := fs.String("db", getenv("EMBED_DATABASE_URL"), "staging database `URL`, postgres://... or a SQLite path; default DIR/staging.db (EMBED_DATABASE_URL)")
	targetURL := fs.String("target", getenv("EMBED_TARGET_URL"), "database `URL` the loads write to; default DIR/target.db (EMBED_TARGET_URL)")
	rulesFile := fs.String("rules", getenv("EMBED_RULES"), "mapping rule `file`; default the embedded reference rules (EMBED_RULES)")
	params := map[string]string{}
	fs.Func("param", "set a rule `name=value` param, such as problem_assigned_to=<sys_id> (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want name=value")
		}
		params[name] = value
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "embed takes no arguments, got %q\n", fs.Args())
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	token := getenv("EMBED_TOKEN")
	if token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		token = hex.EncodeToString(b)
		fmt.Fprintf(stdout, "EMBED_TOKEN is not set; this run accepts the bearer token %s\n", token)
	}

	if *dbURL == "" || *targetURL == "" {
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			return fmt.Errorf("creating the data directory (-data): %w", err)
		}
	}
	if *dbURL == "" {
		*dbURL = filepath.Join(*dataDir, "staging.db")
	}
	if *targetURL == "" {
		*targetURL = filepath.Join(*dataDir, "target.db")
	}

	// The staging store: where deals and PH emails wait for their load.
	db, err := bundb.Open(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("opening the staging database (-db %s): %w", bundb.Redact(*dbURL), err)
	}
	defer db.Close()
	store := staging.New(db, staging.WithLogger(log))
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating the staging database: %w", err)
	}

	// The target: SQL tables shaped like the reference ServiceNow schema.
	// A team loading into ServiceNow would use loader/servicenow here.
	tdb, err := bundb.Open(ctx, *targetURL)
	if err != nil {
		return fmt.Errorf("opening the target database (-target %s): %w", bundb.Redact(*targetURL), err)
	}
	defer tdb.Close()
	target := sqltarget.New(tdb, sqltarget.Options{})
	if err := target.EnsureReferenceTables(ctx); err != nil {
		return fmt.Errorf("creating the reference tables in the target: %w", err)
	}

	// The rules are compiled once; a mistake in them stops the start with
	// FILE:LINE:COL messages instead of failing a load later.
	var rules *mapping.Rules
	if *rulesFile == "" {
		rules, err = mapping.Compile(mappings.ReferenceName, mappings.Reference, mapping.WithParams(params))
	} else {
		rules, err = mapping.LoadFile(*rulesFile, mapping.WithParams(params))
	}
	if err != nil {
		return fmt.Errorf("compiling the mapping rules: %w", err)
	}

	g := &gateway{store: store, target: target, rules: rules, token: token, log: log, now: time.Now}
	srv := &http.Server{
		Handler:           g.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      loadTimeout + time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s (-listen): %w", *listen, err)
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "staging", bundb.Redact(*dbURL),
		"target", bundb.Redact(*targetURL), "rules", rules.Name())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; waiting for requests under way", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	log.Info("stopped")
	return nil
}
