// Package server is the reference server's HTTP API: deal and email intake,
// records, loads, jobs, health, metrics and the OpenAPI document. It maps
// the packages' errors onto HTTP answers; everything else is in app.
package server

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
)

//go:embed openapi.yaml
var openAPI []byte

// Server serves the API of one App.
type Server struct {
	app *app.App
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the API server; Handler adds the request id, logging and
// panic recovery around it. Extra routes (the console) are added with Handle.
func New(a *app.App) *Server {
	s := &Server{app: a, log: a.Log, mux: http.NewServeMux()}
	api := func(role auth.Role, h http.HandlerFunc) http.Handler {
		return s.allowlist(s.requireKey(role, h))
	}
	// Handlers that take query parameters read them with ReadParams; the
	// others are wrapped in noParams, which checks that there are none
	// (on a write route) and that their characters are sound.
	s.mux.Handle("POST /api/v1/deals", api(auth.RoleIntake, noParams(s.postDeal)))
	s.mux.Handle("POST /api/v1/emails", api(auth.RoleIntake, noParams(s.postEmail)))
	s.mux.Handle("GET /api/v1/records", api(auth.RoleOperator, s.listRecords))
	s.mux.Handle("GET /api/v1/records/{id}", api(auth.RoleOperator, noParams(s.getRecord)))
	s.mux.Handle("GET /api/v1/records/{id}/attachments/{attachment}", api(auth.RoleOperator, s.getAttachment))
	s.mux.Handle("POST /api/v1/records/{id}/load", api(auth.RoleOperator, s.loadRecord))
	s.mux.Handle("POST /api/v1/records/{id}/load/retry-now", api(auth.RoleOperator, noParams(s.retryNow)))
	s.mux.Handle("POST /api/v1/records/{id}/load/stop", api(auth.RoleOperator, noParams(s.stopRetrying)))
	s.mux.Handle("POST /api/v1/loads/retry", api(auth.RoleOperator, noParams(s.retryFailed)))
	s.mux.Handle("POST /api/v1/loads/reload", api(auth.RoleOperator, s.reloadLoads))
	s.mux.Handle("POST /api/v1/mapping/impact", api(auth.RoleAdmin, s.postImpact))
	s.mux.Handle("GET /api/v1/jobs/{id}", api(auth.RoleOperator, noParams(s.getJob)))
	s.mux.Handle("POST /api/v1/reconcile", api(auth.RoleOperator, noParams(s.reconcile)))
	s.mux.Handle("POST /api/v1/records/{id}/drift/ack", api(auth.RoleOperator, noParams(s.ackDrift)))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Write(openAPI)
	})
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "not_found", "no such API endpoint: see /api/openapi.yaml")
	})
	return s
}

// Handle adds a route (the console's pages).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the whole HTTP handler: request ids, logging and panic
// recovery, the body's read deadline, and 404 for unclean API paths
// around the routes.
func (s *Server) Handler() http.Handler {
	return observe(s.log, bodyDeadline(s.app.Cfg.ReadTimeout, apiPaths(s.mux)))
}

// noParams wraps a handler that takes no query parameters.
func noParams(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ReadParams(r).Refuse(w, r) {
			return
		}
		h(w, r)
	}
}

// readyTimeout bounds /readyz's wait for the database, so that the probe
// answers within 2 s even when the database hangs.
const readyTimeout = 1500 * time.Millisecond

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	// The ping runs aside: a database that stopped answering may hold it
	// past ctx (pgx then cancels on the server), and the probe must not.
	pinged := make(chan error, 1)
	go func() { pinged <- s.app.DB.PingContext(ctx) }()
	var err error
	select {
	case err = <-pinged:
	case <-ctx.Done():
		err = fmt.Errorf("no answer within %s", readyTimeout)
	}
	if err != nil {
		writeError(w, r, http.StatusServiceUnavailable, "not_ready", "the database does not answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ready\n"))
}
