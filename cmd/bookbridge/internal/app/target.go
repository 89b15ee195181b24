package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/servicenow"
)

// openTarget builds the load target BOOKBRIDGE_TARGET names.
func openTarget(ctx context.Context, cfg *config.Config, m *Metrics, log *slog.Logger) (loader.Target, func() error, error) {
	switch cfg.Target {
	case "servicenow":
		sc := servicenow.Config{
			BaseURL: cfg.ServiceNowURL, Username: cfg.ServiceNowUser, Password: cfg.ServiceNowPassword,
			Timeout: cfg.ServiceNowTimeout, RateLimit: cfg.ServiceNowRateLimit, MaxConcurrency: cfg.ServiceNowMaxConcurrency,
			Logger: log.With("component", "servicenow"),
			OnResponse: func(method, _ string, status int, _ time.Duration) {
				code := "error"
				if status > 0 {
					code = strconv.Itoa(status)
				}
				m.ServiceNowCalls.WithLabelValues(method, code).Inc()
			},
		}
		if cfg.ServiceNowClientID != "" {
			sc.Username, sc.Password = "", ""
			sc.OAuth = &servicenow.OAuth{ClientID: cfg.ServiceNowClientID, ClientSecret: cfg.ServiceNowClientSecret, TokenURL: cfg.ServiceNowTokenURL}
		}
		t, err := servicenow.New(sc)
		if err != nil {
			return nil, nil, fmt.Errorf("ServiceNow target (BOOKBRIDGE_SERVICENOW_*): %w", err)
		}
		return t, func() error { return nil }, nil
	case "sql":
		return openSQLTarget(ctx, cfg)
	}
	return nil, nil, fmt.Errorf("BOOKBRIDGE_TARGET=%q: use servicenow or sql", cfg.Target)
}
