// Command embed is a team's own gateway service on bookbridge's root
// package: it opens the parts (a staging store on SQLite or Postgres, the
// rules, a SQL or ServiceNow target, a River client on the store's
// database), hands them to a bookbridge.Flow and serves the Flow's calls
// behind its own bearer token. Loads are River jobs: one cut off by a crash
// is rescued and resumes from its journal. README.md lists routes and flags.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
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

const channel = "gateway" // this service in the records' history

// flagEnv is a flag whose default comes from an environment variable.
func flagEnv(name, env, def, usage string) *string {
	return flag.String(name, cmp.Or(os.Getenv(env), def), usage+" ("+env+")")
}

func main() {
	listen := flagEnv("listen", "EMBED_LISTEN", "127.0.0.1:8080", "`address` to listen on; port 0 picks a free one")
	dataDir := flagEnv("data", "EMBED_DATA_DIR", filepath.Join(os.TempDir(), "bookbridge-embed"), "`directory` of the default SQLite files")
	dbURL := flagEnv("db", "EMBED_DATABASE_URL", "", "staging database `URL`, postgres://... or a SQLite path; default DIR/staging.db")
	targetURL := flagEnv("target", "EMBED_TARGET_URL", "", "SQL database `URL` the loads write to; default DIR/target.db")
	snURL := flagEnv("servicenow", "EMBED_SERVICENOW_URL", "", "load into the ServiceNow instance at `URL` instead (password: EMBED_SERVICENOW_PASSWORD)")
	snUser := flagEnv("servicenow-user", "EMBED_SERVICENOW_USER", "", "ServiceNow `user`")
	rulesFile := flagEnv("rules", "EMBED_RULES", "", "mapping rule `file`; default the embedded reference rules")
	params := map[string]string{}
	flag.Func("param", "set a rule `name=value` param (repeatable)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want name=value")
		}
		params[name] = value
		return nil
	})
	jobTimeout := flagEnv("job-timeout", "EMBED_JOB_TIMEOUT", "2m", "longest run of a load job; one still running after 1.25 times this died with its process and is run again")
	if flag.Parse(); flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "embed takes no arguments, got %q\n", flag.Args())
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	timeout, err := time.ParseDuration(*jobTimeout)
	check(err, "-job-timeout")
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
	check(errors.Join(bookbridge.Migrate(ctx, store), bookbridge.MigrateRiver(ctx, db)), "migrating the staging database")

	var target loader.Target
	if *snURL != "" {
		target, err = servicenow.New(servicenow.Config{BaseURL: *snURL, Username: *snUser, Password: os.Getenv("EMBED_SERVICENOW_PASSWORD")})
	} else if tdb, terr := bundb.Open(ctx, cmp.Or(*targetURL, filepath.Join(*dataDir, "target.db"))); terr != nil {
		err = terr
	} else { // SQL tables shaped like the reference ServiceNow schema
		sql := sqltarget.New(tdb, sqltarget.Options{})
		target, err = sql, sql.EnsureReferenceTables(ctx)
	}
	check(err, "opening the target (-target, -servicenow)")
	rules, err := mapping.Compile(mappings.ReferenceName, mappings.Reference, mapping.WithParams(params))
	if *rulesFile != "" {
		rules, err = mapping.LoadFile(*rulesFile, mapping.WithParams(params))
	}
	check(err, "compiling the mapping rules")
	flow, err := bookbridge.New(bookbridge.Config{Store: store, Rules: rules, Target: target})
	check(err, "building the flow")

	// River on the store's database: a record's move to loading and its
	// load job commit in one transaction.
	workers := river.NewWorkers()
	flow.AddWorkers(workers)
	queue, err := bookbridge.NewRiverClient(db, &river.Config{Workers: workers, JobTimeout: timeout, RescueStuckJobsAfter: timeout * 5 / 4,
		SoftStopTimeout: 30 * time.Second, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}}})
	check(err, "preparing River")
	flow.UseQueue(queue)
	check(queue.Start(context.WithoutCancel(ctx)), "starting River") // stopped gracefully below

	srv := &http.Server{Handler: routes(flow, token), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 2 * time.Minute}
	ln, err := net.Listen("tcp", *listen)
	check(err, "listening (-listen)")
	fmt.Printf("listening on %s\n", ln.Addr())
	go func() { check(srv.Serve(ln), "serving") }()
	<-ctx.Done()
	slog.Info("shutting down; waiting for requests, then loads, under way")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check(errors.Join(srv.Shutdown(sctx), queue.Stop(context.Background()), store.Close(sctx), db.Close()), "shutting down")
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
type handler func(r *http.Request) (int, any, error)

// routes is the service's router, behind its bearer token.
func routes(flow *bookbridge.Flow, token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /deals", handler(func(r *http.Request) (int, any, error) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, sfdc.DefaultMaxBytes+1)) // a longer body is too large
		res, err := flow.AcceptDeal(r.Context(), body, staging.Via(channel))
		if err != nil {
			return 0, nil, err
		}
		status := map[staging.IntakeOutcome]int{staging.IntakeCreated: 201, staging.IntakeMerged: 201, staging.IntakeStale: 409}[res.Outcome]
		return cmp.Or(status, 200), map[string]any{"outcome": res.Outcome, "number": res.Record.Number, "state": res.Record.State, "reason": res.Reason}, nil
	}))
	mux.Handle("POST /emails", handler(func(r *http.Request) (int, any, error) {
		raw, _ := io.ReadAll(io.LimitReader(r.Body, phmail.DefaultMaxMessageBytes))
		res, err := flow.ProcessEmail(context.WithoutCancel(r.Context()), raw, channel) // finishes if the caller hangs up
		if res.Outcome == bookbridge.OutcomeNotPH || res.Outcome == string(staging.EmailQuarantined) {
			return 422, res, err
		}
		return 200, res, err
	}))
	mux.Handle("GET /records/{number}", handler(func(r *http.Request) (int, any, error) {
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
	// The "SFDC Data" button: a River job that outlives the request (and a
	// crash, resuming from its journal); the answer waits for it a while.
	mux.Handle("POST /records/{number}/load", handler(func(r *http.Request) (int, any, error) {
		rec, err := flow.FindRecord(r.Context(), r.PathValue("number"))
		if err != nil {
			return 0, nil, err
		}
		if r.URL.Query().Get("dry_run") == "true" {
			p, err := flow.Preview(r.Context(), rec)
			return 200, p, err
		}
		// IfVersion: a press that raced with a newer deal is refused.
		if _, err := flow.EnqueueLoad(r.Context(), rec.ID, channel, staging.IfVersion(rec.Version), staging.Via(channel)); err != nil {
			return 0, nil, err
		}
		ctx, cancel := context.WithTimeout(r.Context(), 25*time.Second)
		defer cancel()
		if rec, err = flow.WaitLoad(ctx, rec.ID); rec == nil {
			return 0, nil, err
		}
		status := map[staging.State]int{staging.StateLoading: 202, staging.StateLoadFailed: 502}[rec.State]
		return cmp.Or(status, 200), map[string]any{"number": rec.Number, "state": rec.State, "result": rec.Load.Result,
			"error": rec.Load.Error, "review": rec.Review}, err
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

// statusOf is this service's answer to each kind of the Flow's errors.
var statusOf = map[bookbridge.ErrorKind]int{bookbridge.KindMalformed: 400, bookbridge.KindTooLarge: 413, bookbridge.KindInvalid: 422,
	bookbridge.KindNotFound: 404, bookbridge.KindConflict: 409, bookbridge.KindNotLoadable: 409, bookbridge.KindPlanFailed: 422,
	bookbridge.KindTargetFailed: 502}

// ServeHTTP writes h's answer, or its error with its kind's status.
func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, v, err := h(r)
	if errors.Is(err, context.DeadlineExceeded) && status == 202 {
		err = nil // the load goes on; the record says how far it is
	}
	if err != nil {
		status, v = cmp.Or(statusOf[bookbridge.KindOf(err)], 500), map[string]any{"error": err.Error(), "kind": bookbridge.KindOf(err).String()}
		var ve *sfdc.ValidationError
		if errors.As(err, &ve) {
			v = map[string]any{"error": err.Error(), "problems": ve.Problems}
		} else if status == 500 {
			slog.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	writeJSON(w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent; a broken connection is the caller's
}
