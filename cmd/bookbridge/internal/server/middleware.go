package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

type ctxKey int

const (
	requestKey ctxKey = iota
	loggerKey
)

// requestLog is the logging state of one request: its id, the logger that
// adds the id to every line (made on first use, since most requests log
// only their access line) and what handlers add to the access line.
type requestLog struct {
	base  *slog.Logger
	id    string
	once  sync.Once
	log   *slog.Logger
	attrs []any
}

func (rl *requestLog) logger() *slog.Logger {
	rl.once.Do(func() { rl.log = rl.base.With("request_id", rl.id) })
	return rl.log
}

// AddLogAttrs adds key-value pairs to the access log line of the request
// ctx belongs to, so that one line tells what the request did. Outside a
// request it does nothing.
func AddLogAttrs(ctx context.Context, args ...any) {
	if rl, ok := ctx.Value(requestKey).(*requestLog); ok {
		rl.attrs = append(rl.attrs, args...)
	}
}

// RequestID returns the request id of ctx ("" outside a request).
func RequestID(ctx context.Context) string {
	if rl, ok := ctx.Value(requestKey).(*requestLog); ok {
		return rl.id
	}
	return ""
}

// Logger returns the request's logger, which adds the request id to every
// line, the logger set with WithLogger, or the default logger.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	if rl, ok := ctx.Value(requestKey).(*requestLog); ok {
		return rl.logger()
	}
	return slog.Default()
}

// WithLogger returns ctx carrying l (used by background jobs to keep ids).
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, l)
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validRequestID accepts a caller's id when it is short and plain.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusWriter remembers the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an id (X-Request-Id, kept from the caller when
// plain), a logger carrying it, an access log line and panic recovery.
func observe(base *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		rl := &requestLog{base: base, id: id}
		ctx := context.WithValue(r.Context(), requestKey, rl)
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				rl.logger().Error("panic in handler", "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r.WithContext(ctx), http.StatusInternalServerError, "internal", "internal error; the request id identifies it in the server log")
				}
			}
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
				level = slog.LevelDebug
			}
			if !base.Enabled(ctx, level) {
				return
			}
			args := append([]any{"request_id", id, "method", r.Method, "path", r.URL.Path, "status", sw.status,
				"bytes", sw.bytes, "duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr}, rl.attrs...)
			base.Log(ctx, level, "http", args...)
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}
