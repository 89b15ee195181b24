package servicenow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"
)

// maxAnswer bounds the answers read from ServiceNow.
const maxAnswer = 256 << 20

// client sends requests to one instance: rate-limited, bounded in
// concurrency, with a timeout per attempt and bounded retries.
type client struct {
	cfg     Config
	limiter *rate.Limiter
	slots   chan struct{}
	tokens  oauth2.TokenSource
	log     *slog.Logger
}

// request is one call. Idempotent calls (GET, PATCH) are retried on every
// retryable failure; a POST is retried only when it certainly did not take
// effect (429, 503, no connection); otherwise its error wraps
// loader.ErrOutcomeUnknown and the loader checks before sending it again.
type request struct {
	method      string
	path        string
	query       url.Values
	body        []byte
	contentType string
	table       string
	idempotent  bool
}

func newClient(cfg Config) *client {
	c := &client{cfg: cfg, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	lim := rate.Limit(cfg.RateLimit)
	if cfg.RateLimit < 0 {
		lim = rate.Inf
	}
	c.limiter = rate.NewLimiter(lim, cfg.Burst)
	c.slots = make(chan struct{}, cfg.MaxConcurrency)
	if o := cfg.OAuth; o != nil {
		cc := clientcredentials.Config{
			ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes,
			AuthStyle: oauth2.AuthStyleInParams,
		}
		tokenClient := *cfg.HTTPClient
		tokenClient.Timeout = cfg.Timeout
		c.tokens = cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, &tokenClient))
	}
	return c
}

// retryAfter carries ServiceNow's error and the wait it asked for to the
// backoff loop, which waits exactly that long.
type retryAfter struct {
	wait *backoff.RetryAfterError
	err  error
}

func (r *retryAfter) Error() string   { return r.err.Error() }
func (r *retryAfter) Unwrap() []error { return []error{r.wait, r.err} }

// do sends req with retries and returns the status and body of the final
// answer (2xx only; anything else is an error).
func (c *client) do(ctx context.Context, req request) ([]byte, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.cfg.InitialBackoff
	b.MaxInterval = c.cfg.MaxBackoff
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	body, err := backoff.Retry(ctx, func() ([]byte, error) { return c.attempt(ctx, req) },
		backoff.WithBackOff(b),
		backoff.WithMaxTries(uint(c.cfg.MaxRetries)+1),
		backoff.WithMaxElapsedTime(c.cfg.MaxElapsed),
		backoff.WithNotify(func(err error, d time.Duration) {
			c.log.Warn("servicenow: retrying", "method", req.method, "table", req.table, "in", d, "err", err)
		}))
	var ra *retryAfter
	if errors.As(err, &ra) {
		err = ra.err
	}
	return body, err
}

// attempt sends req once.
func (c *client) attempt(ctx context.Context, req request) ([]byte, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, backoff.Permanent(fmt.Errorf("servicenow: %s %s: waiting for the rate limit: %w", req.method, req.table, err))
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, backoff.Permanent(context.Cause(ctx))
	}
	defer func() { <-c.slots }()

	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := c.cfg.BaseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var rd io.Reader
	if req.body != nil {
		rd = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(actx, req.method, u, rd)
	if err != nil {
		return nil, backoff.Permanent(fmt.Errorf("servicenow: building %s %s: %w", req.method, req.path, err))
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.cfg.UserAgent)
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	if err := c.authorize(hr); err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := c.cfg.HTTPClient.Do(hr)
	if err != nil {
		c.observe(req, 0, start)
		return nil, c.transportError(ctx, req, err)
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	c.observe(req, resp.StatusCode, start)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if rerr != nil {
			return nil, c.transportError(ctx, req, rerr)
		}
		return data, nil
	}
	apiErr := parseError(req, resp, data)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// Refused before any work: safe to send again, also a POST.
		if apiErr.RetryAfter > 0 {
			if apiErr.RetryAfter > c.cfg.MaxRetryAfter {
				return nil, backoff.Permanent(apiErr)
			}
			return nil, &retryAfter{wait: &backoff.RetryAfterError{Duration: apiErr.RetryAfter}, err: apiErr}
		}
		return nil, apiErr
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		if req.idempotent {
			return nil, apiErr
		}
		return nil, backoff.Permanent(&unknownOutcome{err: apiErr})
	}
	return nil, backoff.Permanent(apiErr)
}

func (c *client) authorize(hr *http.Request) error {
	if c.tokens == nil {
		hr.SetBasicAuth(c.cfg.Username, c.cfg.Password)
		return nil
	}
	tok, err := c.tokens.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return backoff.Permanent(fmt.Errorf("servicenow: getting an OAuth token from %s: %w: %v; check the OAuth client id and secret", c.cfg.OAuth.TokenURL, ErrUnauthorized, err))
		}
		return fmt.Errorf("servicenow: getting an OAuth token from %s: %w", c.cfg.OAuth.TokenURL, err)
	}
	tok.SetAuthHeader(hr)
	return nil
}

func (c *client) observe(req request, status int, start time.Time) {
	if c.cfg.OnResponse != nil {
		c.cfg.OnResponse(req.method, req.table, status, time.Since(start))
	}
}

// transportError classifies a failure to get an answer.
func (c *client) transportError(ctx context.Context, req request, err error) error {
	if ctx.Err() != nil {
		return backoff.Permanent(fmt.Errorf("servicenow: %s %s: %w", req.method, req.table, context.Cause(ctx)))
	}
	e := fmt.Errorf("servicenow: %s %s: no answer: %w", req.method, req.table, err)
	if req.idempotent || notSent(err) {
		return e
	}
	return backoff.Permanent(&unknownOutcome{err: e})
}

// notSent reports whether err happened before the request could reach the
// server (no connection), so that even a POST can be sent again.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// parseError reads ServiceNow's error JSON
// {"error":{"message":...,"detail":...},"status":"failure"}.
func parseError(req request, resp *http.Response, data []byte) *Error {
	e := &Error{Method: req.method, Table: req.table, Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	var body struct {
		Error struct {
			Message any `json:"message"`
			Detail  any `json:"detail"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error.Message != nil {
		e.Message, e.Detail = text(body.Error.Message), text(body.Error.Detail)
		return e
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	e.Body = s
	return e
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
