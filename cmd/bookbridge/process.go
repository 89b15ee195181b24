package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/phmail/mailbox"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// newLogger sets up slog once, as BOOKBRIDGE_LOG_FORMAT and _LOG_LEVEL say.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// process is a running server: the app, its HTTP listener and the mail
// channels that are configured.
type process struct {
	App  *app.App
	Addr string // the HTTP address actually listened on
	SMTP string // the SMTP address, when the receiver runs

	http     *http.Server
	inFlight atomic.Int64 // HTTP requests being served
	smtp     *mailbox.SMTPReceiver
	serveErr chan error
	log      *slog.Logger
}

// startProcess opens the app, starts its workers, and listens.
func startProcess(ctx context.Context, cfg *config.Config, opts app.Options, routes func(*server.Server, *app.App)) (*process, error) {
	a, err := app.Open(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	p := &process{App: a, serveErr: make(chan error, 2), log: a.Log}
	srv := server.New(a)
	if routes != nil {
		routes(srv, a)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("BOOKBRIDGE_LISTEN=%s: %w", cfg.Listen, err)
	}
	p.Addr = ln.Addr().String()
	handler := srv.Handler()
	p.http = &http.Server{
		// A body's time (BOOKBRIDGE_READ_TIMEOUT) is set by the handler,
		// from the headers on, and answered 408 when it passes; inFlight
		// counts the requests a shutdown may cut off.
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.inFlight.Add(1)
			defer p.inFlight.Add(-1)
			handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	if err := a.Start(ctx); err != nil {
		ln.Close()
		a.Close()
		return nil, fmt.Errorf("starting the job queue: %w", err)
	}
	go func() {
		var err error
		if cfg.TLSCert != "" {
			err = p.http.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			err = p.http.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			p.serveErr <- fmt.Errorf("HTTP server: %w", err)
		}
	}()
	if cfg.SMTPListen != "" {
		if err := p.startSMTP(ctx, cfg); err != nil {
			p.Shutdown(context.Background())
			return nil, err
		}
	}
	a.Log.Info("bookbridge is serving", "http", p.Addr, "smtp", p.SMTP, "database", bundb.Redact(cfg.DatabaseURL), "target", cfg.Target)
	return p, nil
}

func (p *process) startSMTP(ctx context.Context, cfg *config.Config) error {
	sc := mailbox.SMTPConfig{Domain: cfg.SMTPDomain, MaxMessageBytes: cfg.MaxBodyBytes, AllowedSenders: cfg.SMTPAllowedSenders,
		MaxConnections: cfg.SMTPMaxConnections, Logger: p.log.With("component", "smtp")}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("BOOKBRIDGE_TLS_CERT/KEY for SMTP STARTTLS: %w", err)
		}
		sc.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.SMTPUser != "" {
		user, pass := cfg.SMTPUser, cfg.SMTPPassword
		sc.Authenticate = func(_ context.Context, u, pw string) error {
			if u == user && pw == pass {
				return nil
			}
			return errors.New("invalid credentials")
		}
		sc.AllowInsecureAuth = sc.TLSConfig == nil
	}
	rcv, err := mailbox.NewSMTPReceiver(sc, p.App.MailHandler("smtp"))
	if err != nil {
		return fmt.Errorf("SMTP receiver (BOOKBRIDGE_SMTP_*): %w", err)
	}
	ln, err := net.Listen("tcp", cfg.SMTPListen)
	if err != nil {
		return fmt.Errorf("BOOKBRIDGE_SMTP_LISTEN=%s: %w", cfg.SMTPListen, err)
	}
	p.smtp, p.SMTP = rcv, ln.Addr().String()
	go func() {
		if err := rcv.Serve(context.WithoutCancel(ctx), ln); err != nil && !errors.Is(err, net.ErrClosed) {
			p.serveErr <- fmt.Errorf("SMTP receiver: %w", err)
		}
	}()
	return nil
}

// Wait blocks until ctx ends (a signal) or a listener fails.
func (p *process) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-p.serveErr:
		return err
	}
}

// Shutdown stops accepting work, lets requests, messages and jobs in
// flight finish until ctx ends, and closes everything. When ctx ends
// first, the requests still running are cut off, the log says how many,
// and the error does too.
func (p *process) Shutdown(ctx context.Context) error {
	var errs []error
	if err := p.http.Shutdown(ctx); err != nil {
		// The deadline came first: the requests still running are cut off.
		cut := p.inFlight.Load()
		p.log.Error("graceful shutdown ran out of BOOKBRIDGE_SHUTDOWN_TIMEOUT; requests still running are cut off",
			"requests_cut_off", cut, "err", err)
		p.http.Close()
		errs = append(errs, fmt.Errorf("HTTP shutdown: %d request(s) still running were cut off: %w", cut, err))
	}
	if p.smtp != nil {
		if err := p.smtp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("SMTP shutdown: %w", err))
		}
	}
	if err := p.App.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stopping jobs: %w", err))
	}
	if err := p.App.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
