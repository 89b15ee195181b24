package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

func init() {
	register("send", "post a deal payload to a bookbridge server as Salesforce would (with retries)", cmdSend)
}

// sendOutcome is what one send ends with.
type sendOutcome struct {
	Status int
	Body   []byte
}

func cmdSend(ctx context.Context, c *cli) error {
	fs := c.flags("send", "FILE.json")
	url := fs.String("url", "", "intake endpoint (default: BOOKBRIDGE_URL, else http://BOOKBRIDGE_LISTEN/api/v1/deals)")
	key := fs.String("key", "", "API key (default: BOOKBRIDGE_API_KEY)")
	tries := fs.Uint("tries", 5, "attempts in all, for 429, 5xx and network errors")
	timeout := fs.Duration("timeout", 30*time.Second, "timeout of each attempt")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("send needs exactly one FILE.json")
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	if *url == "" {
		*url = cfg.URL
	}
	if *url == "" {
		*url = "http://" + cfg.Listen + "/api/v1/deals"
	}
	if *key == "" {
		*key = cfg.APIKey
	}
	if *key == "" {
		return usageError("send needs an API key: --key, BOOKBRIDGE_API_KEY or BOOKBRIDGE_API_KEY_FILE (create one with: bookbridge apikey create NAME --role intake)")
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return usageError("%v", err)
	}
	out, err := sendPayload(ctx, http.DefaultClient, *url, *key, body, *tries, *timeout, func(err error, wait time.Duration) {
		fmt.Fprintf(c.stderr, "send: %v; retrying in %s\n", err, wait.Round(time.Millisecond))
	})
	if err != nil {
		return usageError("%v", err)
	}
	fmt.Fprintf(c.stdout, "%d %s\n", out.Status, http.StatusText(out.Status))
	var pretty bytes.Buffer
	if json.Indent(&pretty, out.Body, "", "  ") == nil {
		fmt.Fprintln(c.stdout, pretty.String())
	} else if len(out.Body) > 0 {
		fmt.Fprintln(c.stdout, strings.TrimSpace(string(out.Body)))
	}
	switch {
	case out.Status == http.StatusOK, out.Status == http.StatusCreated, out.Status == http.StatusConflict:
		return nil // done: new, duplicate or newer, or an older version (stale) that needs nothing
	case out.Status == http.StatusUnprocessableEntity, out.Status == http.StatusBadRequest:
		return silentExit(exitInvalid)
	default:
		return silentExit(exitUsage)
	}
}

// retryableStatus reports the answers worth another attempt.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout || code == http.StatusInternalServerError
}

// sendPayload posts body and retries 429 (honouring Retry-After), 5xx and
// network errors with exponential backoff; other answers end it.
func sendPayload(ctx context.Context, client *http.Client, url, key string, body []byte, tries uint, timeout time.Duration, notify backoff.Notify) (sendOutcome, error) {
	op := func() (sendOutcome, error) {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(actx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return sendOutcome{}, backoff.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return sendOutcome{}, backoff.Permanent(ctx.Err())
			}
			return sendOutcome{}, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		out := sendOutcome{Status: resp.StatusCode, Body: b}
		if retryableStatus(resp.StatusCode) {
			err := fmt.Errorf("server answered %d", resp.StatusCode)
			if s, convErr := strconv.Atoi(resp.Header.Get("Retry-After")); convErr == nil && s >= 0 {
				return out, errors.Join(err, backoff.RetryAfter(s))
			}
			return out, err
		}
		return out, nil
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	b.MaxInterval = 30 * time.Second
	out, err := backoff.Retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxTries(tries), backoff.WithNotify(notify))
	if err != nil && out.Status != 0 {
		return out, nil // the last answer, still an error status, is reported as such
	}
	return out, err
}
