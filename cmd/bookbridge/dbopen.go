package main

import (
	"context"
	"log/slog"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// requireDatabase refuses to go on when BOOKBRIDGE_DATABASE_URL names no
// bookbridge database: a SQLite file that is not there (opening would
// create an empty one, and the command would then report "not found" or
// an empty list), or a database without staging's schema. Only migrate,
// demo and serve make a database; every other command calls this before
// it opens one.
func (c *cli) requireDatabase(ctx context.Context, cfg *config.Config) error {
	ok, err := bundb.Exists(ctx, cfg.DatabaseURL, staging.MigrationsTable)
	if err != nil {
		return usageError("BOOKBRIDGE_DATABASE_URL: %v", err)
	}
	if !ok {
		return usageError("no bookbridge database at %s (run `bookbridge migrate`, or set BOOKBRIDGE_DATABASE_URL)", bundb.Where(cfg.DatabaseURL))
	}
	return nil
}

// logger is the logger of a one-shot command: as BOOKBRIDGE_LOG_FORMAT
// and _LOG_LEVEL say with -v, else warnings and errors only, so that
// what the command prints is not lost among progress lines.
func (c *cli) logger(cfg *config.Config) *slog.Logger {
	log := newLogger(cfg, c.stderr)
	if c.verbose {
		return log
	}
	return slog.New(atLeast{Handler: log.Handler(), min: slog.LevelWarn})
}

// atLeast passes on the records of min and above to Handler.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{Handler: h.Handler.WithGroup(name), min: h.min}
}
