package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/console"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
)

// mountConsole adds the web console's routes to the server (serve and demo).
var mountConsole func(*server.Server, *app.App) = console.Mount

func init() {
	register("serve", "run the server: intake API, email channels, load jobs", cmdServe)
	register("migrate", "create or upgrade the database schema, then exit", cmdMigrate)
}

// loadConfig reads the settings and sets up logging.
func (c *cli) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(c.getenv)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return cfg, nil
}

func cmdServe(ctx context.Context, c *cli) error {
	fs := c.flags("serve", "")
	if err := c.parse(fs); err != nil {
		return err
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg, c.stderr)
	tuneGC(ctx, cfg.GCMinHeap, c.getenv, log)
	p, err := startProcess(ctx, cfg, app.Options{Logger: log, Work: true}, mountConsole)
	if err != nil {
		return usageError("%v", err)
	}
	hangup := make(chan os.Signal, 1)
	signal.Notify(hangup, syscall.SIGHUP)
	reloading := reloadRulesOn(ctx, hangup, p.App, log)
	serveErr := p.Wait(ctx)
	signal.Stop(hangup)
	close(hangup)
	<-reloading
	log.Info("shutting down", "deadline", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	shutdownErr := p.Shutdown(sctx)
	if shutdownErr != nil {
		log.Error("shutdown", "err", shutdownErr)
	}
	if err := errors.Join(serveErr, shutdownErr); err != nil {
		// Non-zero: a supervisor should know that work was cut off.
		return usageError("%v", err)
	}
	return nil
}

// reloadRulesOn reloads the mapping rules each time sig delivers (SIGHUP
// in serve), until sig is closed. A file that does not compile leaves the
// rules in use, and the log says why. The returned channel closes when it
// has stopped.
func reloadRulesOn(ctx context.Context, sig <-chan os.Signal, a *app.App, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sig {
			file := a.Cfg.Rules
			if file == "" {
				file = "(built-in reference rules)"
			}
			if err := a.ReloadRules(); err != nil {
				log.ErrorContext(ctx, "mapping rules not reloaded; the previous rules stay in use", "rules", file, "err", err)
				continue
			}
			log.InfoContext(ctx, "mapping rules reloaded", "rules", file, "steps", len(a.Flow.Rules().Steps()))
		}
	}()
	return done
}

func cmdMigrate(ctx context.Context, c *cli) error {
	fs := c.flags("migrate", "")
	if err := c.parse(fs); err != nil {
		return err
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	start := time.Now()
	a, err := app.Open(ctx, cfg, app.Options{Logger: c.logger(cfg)})
	if err != nil {
		return usageError("%v", err)
	}
	defer a.Close()
	c.printf("schema is current (%s)\n", time.Since(start).Round(time.Millisecond))
	return nil
}
