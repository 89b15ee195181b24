package servicenow

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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
)

// maxAnswer bounds the answers read from ServiceNow.
const maxAnswer = 256 << 20

// client sends requests to one instance: paced by the shared gate,
// bounded in concurrency, with a timeout per attempt and bounded retries.
type client struct {
	cfg    Config
	gate   *gate
	slots  chan struct{}
	tokens oauth2.TokenSource
	log    *slog.Logger
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
	c.gate = newGate(cfg.RateLimit, cfg.Burst)
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

// next says what do does after an attempt.
type next int

const (
	finished  next = iota // success, or an error not worth sending again
	retry                 // a transient failure: back off; counts as a try
	throttled             // a 429: wait at the shared gate; not a try
)

// do sends req until it succeeds, fails for good, or its tries
// (Config.MaxRetries) or time (Config.MaxElapsed) are used up, and returns
// the body of the 2xx answer. Every attempt first waits at the gate.
func (c *client) do(ctx context.Context, req request) ([]byte, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.cfg.InitialBackoff
	b.MaxInterval = c.cfg.MaxBackoff
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	start := time.Now()
	tries := 0
	for {
		body, nx, err := c.attempt(ctx, req, b)
		if nx == finished {
			return body, err
		}
		wait := time.Duration(0)
		if nx == retry {
			tries++
			if tries > c.cfg.MaxRetries {
				return nil, err
			}
			// With a Retry-After the gate holds the call; otherwise it
			// backs off on its own.
			var se *Error
			if !errors.As(err, &se) || se.RetryAfter == 0 {
				wait = b.NextBackOff()
			}
		}
		if time.Since(start)+wait > c.cfg.MaxElapsed {
			return nil, err
		}
		c.log.Warn("servicenow: retrying", "method", req.method, "table", req.table, "in", wait, "err", err)
		if wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("servicenow: %s %s: %w", req.method, req.table, err)
			}
		}
	}
}

// attempt sends req once, after waiting for a slot and the gate.
func (c *client) attempt(ctx context.Context, req request, b *backoff.ExponentialBackOff) ([]byte, next, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, finished, fmt.Errorf("servicenow: %s %s: %w", req.method, req.table, context.Cause(ctx))
	}
	defer func() { <-c.slots }()
	if err := c.gate.wait(ctx, c.cfg.MaxRetryAfter, req.method, req.table); err != nil {
		var pe *pausedError
		if errors.As(err, &pe) {
			return nil, finished, err
		}
		return nil, finished, fmt.Errorf("servicenow: %s %s: waiting for the rate limit: %w", req.method, req.table, err)
	}

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
		return nil, finished, fmt.Errorf("servicenow: building %s %s: %w", req.method, req.path, err)
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.cfg.UserAgent)
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	if nx, err := c.authorize(hr); err != nil {
		return nil, nx, err
	}
	start := time.Now()
	resp, err := c.cfg.HTTPClient.Do(hr)
	if err != nil {
		c.observe(req, 0, start)
		return c.transportError(ctx, req, err)
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	c.observe(req, resp.StatusCode, start)
	if resp.StatusCode != http.StatusTooManyRequests {
		c.gate.answered(start)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if rerr != nil {
			return c.transportError(ctx, req, rerr)
		}
		return data, finished, nil
	}
	apiErr := parseError(req, resp, data)
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		// Refused before any work: safe to send again, also a POST. Every
		// call of this Target waits as long as the instance asks.
		wait := apiErr.RetryAfter
		if wait == 0 {
			wait = b.NextBackOff()
		}
		c.gate.throttled(start, wait)
		if apiErr.RetryAfter > c.cfg.MaxRetryAfter {
			return nil, finished, apiErr
		}
		return nil, throttled, apiErr
	case http.StatusServiceUnavailable:
		// Refused before any work, too; a Retry-After holds every call.
		if apiErr.RetryAfter > c.cfg.MaxRetryAfter {
			return nil, finished, apiErr
		}
		c.gate.pause(apiErr.RetryAfter)
		return nil, retry, apiErr
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		if req.idempotent {
			return nil, retry, apiErr
		}
		return nil, finished, &unknownOutcome{err: apiErr}
	}
	return nil, finished, apiErr
}

// authorize sets the request's credentials; a token the instance refuses
// is final, a token endpoint that cannot be reached is worth a retry.
func (c *client) authorize(hr *http.Request) (next, error) {
	if c.tokens == nil {
		hr.SetBasicAuth(c.cfg.Username, c.cfg.Password)
		return finished, nil
	}
	tok, err := c.tokens.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return finished, fmt.Errorf("servicenow: getting an OAuth token from %s: %w: %v; check the OAuth client id and secret", c.cfg.OAuth.TokenURL, ErrUnauthorized, err)
		}
		return retry, &transientError{fmt.Errorf("servicenow: getting an OAuth token from %s: %w", c.cfg.OAuth.TokenURL, err)}
	}
	tok.SetAuthHeader(hr)
	return finished, nil
}

func (c *client) observe(req request, status int, start time.Time) {
	if c.cfg.OnResponse != nil {
		c.cfg.OnResponse(req.method, req.table, status, time.Since(start))
	}
}

// transportError classifies a failure to get an answer: the caller's
// context ending is final; a certificate the client does not trust is
// final; other failures are transient, and a POST that may have reached
// the instance is of unknown outcome.
func (c *client) transportError(ctx context.Context, req request, err error) ([]byte, next, error) {
	if ctx.Err() != nil {
		return nil, finished, fmt.Errorf("servicenow: %s %s: %w", req.method, req.table, context.Cause(ctx))
	}
	if badCertificate(err) {
		return nil, finished, fmt.Errorf("servicenow: %s %s: %w; check BaseURL and the instance's TLS certificate", req.method, req.table, err)
	}
	e := &transientError{fmt.Errorf("servicenow: %s %s: no answer: %w", req.method, req.table, err)}
	if req.idempotent || notSent(err) {
		return nil, retry, e
	}
	return nil, finished, &unknownOutcome{err: e}
}

// badCertificate reports whether err is a TLS certificate the client
// refused: sending again cannot help.
func badCertificate(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknownCA) || errors.As(err, &invalid) || errors.As(err, &host) || errors.As(err, &verify)
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
