package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
)

const keyCtx ctxKey = 100

// CallerKey returns the API key that authenticated the request.
func CallerKey(ctx context.Context) (auth.APIKey, bool) {
	k, ok := ctx.Value(keyCtx).(auth.APIKey)
	return k, ok
}

// allowlist refuses callers outside BOOKBRIDGE_ALLOWED_IPS (when set). The
// caller's address is read through trusted proxies only.
func (s *Server) allowlist(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := s.app.Cfg
		if len(cfg.AllowedIPs) > 0 {
			if addr := ClientAddr(r, cfg.TrustedProxies); !contains(cfg.AllowedIPs, addr) {
				s.app.Metrics.Intake.WithLabelValues("rejected").Inc()
				Logger(r.Context()).Warn("caller address not allowed", "client", addr.String())
				writeError(w, r, http.StatusForbidden, "forbidden", "this address may not call the API: ask the bookbridge operators to add it to BOOKBRIDGE_ALLOWED_IPS")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requireKey checks X-API-Key against the stored keys and the role.
func (s *Server) requireKey(role auth.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented := r.Header.Get("X-API-Key")
		if presented == "" {
			writeError(w, r, http.StatusUnauthorized, "unauthorized", "missing X-API-Key header: send the key bookbridge gave you (bookbridge apikey create)")
			return
		}
		key, err := s.app.Auth.CheckKey(r.Context(), presented)
		if errors.Is(err, auth.ErrUnknownKey) {
			writeError(w, r, http.StatusUnauthorized, "unauthorized", "unknown or revoked API key")
			return
		}
		if err != nil {
			Logger(r.Context()).Error("checking API key", "err", err)
			writeError(w, r, http.StatusServiceUnavailable, "internal", "cannot check API keys right now; retry")
			return
		}
		if !key.Role.Allows(role) {
			writeError(w, r, http.StatusForbidden, "forbidden", "the key "+key.Name+" has the role "+string(key.Role)+"; this needs "+string(role))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyCtx, key)))
	})
}
