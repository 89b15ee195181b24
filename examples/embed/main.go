// Command embed is a team's own gateway service on bookbridge's root package:
// it opens the parts (a staging store on SQLite or Postgres, the mapping rules,
// a SQL or ServiceNow target, a River client on the store's database), hands
// them to a bookbridge.Flow and serves the Flow's calls behind its own bearer
// token. Loads are River jobs: one cut off by a crash is rescued and resumes
// from its journal. README.md lists the routes and flags.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
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

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

const (
	channel       = "gateway"        // this service in the records' history
	loadWait      = 25 * time.Second // how long POST /load waits for its job before answering 202
	shutdownGrace = 30 * time.Second // the wait for requests, then for loads, after SIGTERM
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "`address` to listen on; port 0 picks a free one (EMBED_LISTEN)")
	dataDir := flag.String("data", filepath.Join(os.TempDir(), "bookbridge-embed"), "`directory` of the default SQLite files (EMBED_DATA_DIR)")
	dbURL := flag.String("db", "", "staging database `URL`, postgres://... or a SQLite path; default DIR/staging.db (EMBED_DATABASE_URL)")
	targetURL := flag.String("target", "", "SQL database `URL` the loads write to; default DIR/target.db (EMBED_TARGET_URL)")
	snURL := flag.String("servicenow", "", "load into the ServiceNow instance at `URL` instead of -target (EMBED_SERVICENOW_URL)")
	snUser := flag.String("servicenow-user", "", "ServiceNow `user`; the password is EMBED_SERVICENOW_PASSWORD (EMBED_SERVICENOW_USER)")
	rulesFile := flag.String("rules", "", "mapping rule `file`; default the embedded reference rules (EMBED_RULES)")
	jobTimeout := flag.Duration("job-timeout", 2*time.Minute, "bound of a load job's run; one still running after 1.25× this was cut off by a crash and is retried (EMBED_JOB_TIMEOUT)")
	params := map[string]string{}
	flag.Func("param", "set a rule `name=value` param (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want name=value")
		}
		params[name] = value
		return nil
	})
	for name, env := range map[string]string{"listen": "EMBED_LISTEN", "data": "EMBED_DATA_DIR", "db": "EMBED_DATABASE_URL",
		"target": "EMBED_TARGET_URL", "servicenow": "EMBED_SERVICENOW_URL", "servicenow-user": "EMBED_SERVICENOW_USER",
		"rules": "EMBED_RULES", "job-timeout": "EMBED_JOB_TIMEOUT"} {
		if v := os.Getenv(env); v != "" { // the command line, parsed next, overrides the environment
			check(flag.Set(name, v), env+"="+v)
		}
	}
	if flag.Parse(); flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "embed takes no arguments, got %q\n", flag.Args())
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	token := os.Getenv("EMBED_TOKEN")
	if token == "" {
		token = rand.Text()
		fmt.Printf("EMBED_TOKEN is not set; this run accepts the bearer token %s\n", token)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	check(os.MkdirAll(*dataDir, 0o700), "creating the data directory (-data)")
	db, err := bundb.Open(ctx, cmp.Or(*dbURL, filepath.Join(*dataDir, "staging.db")))
	check(err, "opening the staging database (-db)")
	store := staging.New(db)
	check(bookbridge.Migrate(ctx, store), "migrating the staging database")

	// River on the store's database: a record's move to loading and its load job commit in one transaction.
	rcfg := &river.Config{Logger: slog.Default(), Workers: river.NewWorkers(), JobTimeout: *jobTimeout, RescueStuckJobsAfter: *jobTimeout * 5 / 4,
		SoftStopTimeout: shutdownGrace, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}}}
	var mig *rivermigrate.Migrator[*sql.Tx]
	var queue *river.Client[*sql.Tx]
	if bundb.KindOf(db) == bundb.Postgres {
		if mig, err = rivermigrate.New(riverdatabasesql.New(db.DB), nil); err == nil {
			queue, err = river.NewClient(riverdatabasesql.New(db.DB), rcfg)
		}
	} else if mig, err = rivermigrate.New(riversqlite.New(db.DB), nil); err == nil {
		queue, err = river.NewClient(riversqlite.New(db.DB), rcfg)
	}
	check(err, "preparing River")
	_, err = mig.Migrate(ctx, rivermigrate.DirectionUp, nil)
	check(err, "migrating River's tables")

	var target loader.Target
	if *snURL != "" {
		target, err = servicenow.New(servicenow.Config{BaseURL: *snURL, Username: *snUser, Password: os.Getenv("EMBED_SERVICENOW_PASSWORD")})
		check(err, "configuring the ServiceNow target (-servicenow)")
	} else { // SQL tables shaped like ServiceNow's
		tdb, err := bundb.Open(ctx, cmp.Or(*targetURL, filepath.Join(*dataDir, "target.db")))
		check(err, "opening the target database (-target)")
		sqlt := sqltarget.New(tdb, sqltarget.Options{})
		target = sqlt
		check(sqlt.EnsureReferenceTables(ctx), "creating the reference tables in the target")
	}
	rules, err := mapping.Compile(mappings.ReferenceName, mappings.Reference, mapping.WithParams(params))
	if *rulesFile != "" {
		rules, err = mapping.LoadFile(*rulesFile, mapping.WithParams(params))
	}
	check(err, "compiling the mapping rules")
	flow, err := bookbridge.New(bookbridge.Config{Store: store, Rules: rules, Target: target, Queue: queue})
	check(err, "building the flow")
	flow.AddWorkers(rcfg.Workers)
	check(queue.Start(context.WithoutCancel(ctx)), "starting River") // stopped gracefully below

	srv := &http.Server{Handler: routes(flow, token), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: loadWait + time.Minute}
	ln, err := net.Listen("tcp", *listen)
	check(err, "listening (-listen)")
	fmt.Printf("listening on %s\n", ln.Addr())
	go func() { check(srv.Serve(ln), "serving") }()
	<-ctx.Done()
	slog.Info("shutting down; waiting for requests, then loads, under way", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	check(errors.Join(srv.Shutdown(sctx), queue.Stop(context.Background()), db.Close()), "shutting down")
	slog.Info("stopped")
}

// check ends the program when err is not nil, saying what it was doing.
func check(err error, doing string) {
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "embed: %s: %v\n", doing, err)
		os.Exit(1)
	}
}

// handler answers a request with a status and a JSON body, or an error.
type handler func(w http.ResponseWriter, r *http.Request) (int, any, error)

// routes is the service's router, behind its bearer token.
func routes(flow *bookbridge.Flow, token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /deals", handler(func(w http.ResponseWriter, r *http.Request) (int, any, error) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, sfdc.DefaultMaxBytes+1)) // a cut body fails to decode, a longer one is too large
		res, err := flow.AcceptDeal(r.Context(), body, staging.Via(channel))
		if err != nil {
			return 0, nil, err
		}
		status := map[staging.IntakeOutcome]int{staging.IntakeCreated: 201, staging.IntakeMerged: 201, staging.IntakeStale: 409}[res.Outcome]
		return cmp.Or(status, 200), map[string]any{"outcome": res.Outcome, "number": res.Record.Number, "state": res.Record.State, "reason": res.Reason}, nil
	}))
	mux.Handle("POST /emails", handler(func(w http.ResponseWriter, r *http.Request) (int, any, error) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, phmail.DefaultMaxMessageBytes))
		if err != nil {
			return 0, nil, err
		}
		res, err := flow.ProcessEmail(context.WithoutCancel(r.Context()), raw, channel) // finishes if the caller hangs up
		if res.Outcome == bookbridge.OutcomeNotPH || res.Outcome == string(staging.EmailQuarantined) {
			return 422, res, err
		}
		return 200, res, err
	}))
	mux.Handle("GET /records/{number}", handler(func(w http.ResponseWriter, r *http.Request) (int, any, error) {
		rec, err := flow.FindRecord(r.Context(), r.PathValue("number"))
		if err != nil {
			return 0, nil, err
		}
		ok, why := rec.Loadable()
		return 200, struct {
			*staging.Record
			Loadable    bool   `json:"loadable"`
			NotLoadable string `json:"not_loadable,omitempty"`
		}{rec, ok, why}, nil
	}))
	// The "SFDC Data" button. The load is a River job that outlives the
	// request (and a crash: it resumes from its journal); the answer waits.
	mux.Handle("POST /records/{number}/load", handler(func(w http.ResponseWriter, r *http.Request) (int, any, error) {
		rec, err := flow.FindRecord(r.Context(), r.PathValue("number"))
		if err != nil {
			return 0, nil, err
		}
		if r.URL.Query().Get("dry_run") == "true" {
			p, err := flow.Preview(r.Context(), rec)
			return 200, p, err
		}
		// IfVersion: a press that raced with a newer deal is refused.
		job, err := flow.EnqueueLoad(r.Context(), rec.ID, channel, staging.IfVersion(rec.Version), staging.Via(channel))
		ctx, cancel := context.WithTimeout(r.Context(), loadWait)
		defer cancel()
		rec.State = staging.StateLoading // as EnqueueLoad left it; poll until the job moves it on
		for err == nil && rec.State == staging.StateLoading {
			select {
			case <-ctx.Done():
				return 202, map[string]any{"number": rec.Number, "state": rec.State, "job_id": job}, nil
			case <-time.After(100 * time.Millisecond):
				rec, err = flow.Store().Get(r.Context(), rec.ID)
			}
		}
		if err != nil {
			return 0, nil, err
		}
		status := 200
		if rec.State == staging.StateLoadFailed {
			status = 502 // the target refused or failed; pressing again retries
		}
		return status, map[string]any{"number": rec.Number, "state": rec.State, "job_id": job,
			"result": rec.Load.Result, "error": rec.Load.Error, "review": rec.Review}, nil
	}))
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeJSON(w, 401, map[string]string{"error": "send Authorization: Bearer <EMBED_TOKEN>"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// ServeHTTP writes h's answer, or its error with the status this service
// chose for the error's kind.
func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, v, err := h(w, r)
	if err != nil {
		var ve *sfdc.ValidationError
		switch status, v = 500, map[string]string{"error": err.Error()}; {
		case errors.As(err, &ve):
			status, v = 422, map[string]any{"error": err.Error(), "problems": ve.Problems}
		case errors.Is(err, sfdc.ErrTooLarge), errors.As(err, new(*http.MaxBytesError)):
			status = 413
		case errors.As(err, new(*sfdc.DecodeError)):
			status = 400
		case errors.Is(err, staging.ErrNotFound):
			status = 404
		case errors.Is(err, staging.ErrIllegalTransition), errors.Is(err, staging.ErrConflict):
			status = 409
		case errors.As(err, new(*staging.InputError)), errors.As(err, new(*bookbridge.PlanError)), errors.As(err, new(*bookbridge.NotLoadableError)):
			status = 422
		case errors.As(err, new(*bookbridge.TargetError)):
			status = 502
		default:
			slog.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			v = map[string]string{"error": "internal error; the log says what went wrong, retry later"}
		}
	}
	writeJSON(w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent; a broken connection is the caller's
}
