package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/queue"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// Options adjust Open for tests and embedding.
type Options struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Work makes this process work jobs (serve); otherwise jobs are only
	// enqueued (CLI commands).
	Work bool
	// Target replaces the target the configuration names (tests).
	Target loader.Target
	// StoreOnly opens the database and its stores but no rules, target or
	// queue (commands that manage keys and users).
	StoreOnly bool
}

// App is a running reference server's parts, opened from its
// configuration: the database, the staging and credential stores, the
// target, the queue and the metrics, and the Flow that runs bookbridge on
// them.
type App struct {
	Cfg     *config.Config
	Log     *slog.Logger
	DB      *bun.DB
	Store   *staging.Store
	Auth    *auth.Store
	Target  loader.Target
	Queue   *queue.Queue
	Metrics *Metrics
	// Flow is bookbridge's flow on these parts (nil when opened StoreOnly).
	Flow *bookbridge.Flow

	now     func() time.Time
	closers []func() error
}

// Open connects to the database, migrates it, compiles
// the rules and builds the target and the queue. Close releases everything.
func Open(ctx context.Context, cfg *config.Config, opts Options) (*App, error) {
	a := &App{Cfg: cfg, Log: opts.Logger, now: opts.Now, Metrics: NewMetrics()}
	if a.Log == nil {
		a.Log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	db, err := bundb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("BOOKBRIDGE_DATABASE_URL: %w", err)
	}
	a.DB = db
	a.closers = append(a.closers, db.Close)
	a.Store = staging.New(db, staging.WithClock(a.now), staging.WithLogger(a.Log))
	a.closers = append(a.closers, func() error {
		// Deals the store is still writing finish before the database closes.
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return a.Store.Close(ctx)
	})
	a.Auth = auth.New(db, a.now)
	a.Metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bookbridge_loads_retrying", Help: "Loads waiting to be tried again after a passing failure of the target.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		loads, err := a.Store.LoadsUnderWay(ctx)
		if err != nil {
			a.Log.Warn("counting retrying loads for the metrics", "err", err)
			return 0
		}
		n := 0
		for _, l := range loads {
			if !l.NextTryAt.IsZero() {
				n++
			}
		}
		return float64(n)
	}))
	if err := a.Migrate(ctx); err != nil {
		return nil, err
	}
	if opts.StoreOnly {
		ok = true
		return a, nil
	}
	parser, err := phmail.NewParser(phmail.WithLimits(cfg.EmailLimits()))
	if err != nil {
		return nil, err
	}
	rules, err := loadRules(cfg)
	if err != nil {
		return nil, err
	}
	a.Target = opts.Target
	if a.Target == nil {
		t, closeTarget, err := openTarget(ctx, cfg, a.Metrics, a.Log)
		if err != nil {
			return nil, err
		}
		a.Target = t
		a.closers = append(a.closers, closeTarget)
	}
	// River reports its routine (producer counts, leadership) at info
	// level; only its warnings reach bookbridge's log.
	qcfg := queue.Config{URL: cfg.DatabaseURL, JobTimeout: cfg.LoadTimeout, RescueAfter: cfg.JobRescueAfter, Logger: slog.New(minLevel{a.Log.Handler(), slog.LevelWarn}).With("component", "river")}
	if a.Queue, err = queue.New(ctx, db, qcfg); err != nil {
		return nil, err
	}
	a.Flow, err = bookbridge.New(bookbridge.Config{
		Store: a.Store, Parser: parser, Rules: rules, Target: a.Target, Queue: a.Queue.Client(),
		MaxDealBytes: cfg.MaxBodyBytes, MaxDealRecords: cfg.MaxLineItems, Location: cfg.Location(), Now: a.now, Logger: a.Log,
		LoadRetry: bookbridge.LoadRetry{Window: cfg.LoadRetryWindow, MaxDelay: cfg.LoadRetryMaxDelay},
		// A write sent before a run's time limit ends well before River
		// could rescue the job and start another run of it.
		WriteGrace: (cfg.JobRescueAfter - cfg.LoadTimeout) / 2,
		Hooks: bookbridge.Hooks{
			Email: func(channel, outcome string) { a.Metrics.Emails.WithLabelValues(channel, outcome).Inc() },
			Load: func(outcome string, took time.Duration) {
				if outcome != "dry_run" {
					a.Metrics.LoadSeconds.WithLabelValues(outcome).Observe(took.Seconds())
				}
				a.Metrics.Loads.WithLabelValues(outcome).Inc()
			},
		},
	})
	if err != nil {
		return nil, err
	}
	if opts.Work {
		workers := river.NewWorkers()
		a.Flow.AddWorkers(workers)
		river.AddWorker(workers, &waitingWorker{app: a})
		river.AddWorker(workers, &imapWorker{app: a})
		river.AddWorker(workers, &reconcileWorker{app: a})
		if err := a.Queue.Work(ctx, workers, a.periodicJobs()); err != nil {
			return nil, err
		}
	}
	ok = true
	return a, nil
}

// Migrate brings every schema up to date: staging's, the server's own
// tables and River's. Several processes may run it at once.
func (a *App) Migrate(ctx context.Context) error {
	if err := bookbridge.Migrate(ctx, a.Store); err != nil {
		return err
	}
	if err := auth.Migrate(ctx, a.DB); err != nil {
		return err
	}
	return queue.Migrate(ctx, a.DB)
}

// Start begins working jobs (when opened with Work).
func (a *App) Start(ctx context.Context) error { return a.Queue.Start(ctx) }

// Stop lets running jobs finish until ctx ends.
func (a *App) Stop(ctx context.Context) error {
	if a.Queue == nil {
		return nil
	}
	return a.Queue.Stop(ctx)
}

// Close releases the database and the target.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}

// Now returns the app's clock reading.
func (a *App) Now() time.Time { return a.now() }

// minLevel passes on records at level or above.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
