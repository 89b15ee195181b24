package main

import (
	"context"
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
	p, err := startProcess(ctx, cfg, app.Options{Logger: log, Work: true}, mountConsole)
	if err != nil {
		return usageError("%v", err)
	}
	serveErr := p.Wait(ctx)
	log.Info("shutting down", "deadline", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
	}
	if serveErr != nil {
		return usageError("%v", serveErr)
	}
	return nil
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
	a, err := app.Open(ctx, cfg, app.Options{Logger: newLogger(cfg, c.stderr)})
	if err != nil {
		return usageError("%v", err)
	}
	defer a.Close()
	c.printf("schema is current (%s)\n", time.Since(start).Round(time.Millisecond))
	return nil
}
