package servicenow

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Target. Zero fields take the defaults noted on each.
type Config struct {
	// BaseURL is the instance, such as https://example.service-now.com
	// (without /api). Required.
	BaseURL string

	// Username and Password authenticate with HTTP Basic auth.
	Username string
	Password string
	// OAuth, when set, authenticates with OAuth 2 client credentials
	// instead of Basic auth.
	OAuth *OAuth

	// Timeout bounds every attempt of every call. Default 30s.
	Timeout time.Duration
	// RateLimit is the most requests per second the Target sends to the
	// instance (retries included, from all goroutines together); the
	// Target goes slower while the instance answers 429 (see the package
	// doc). Default 20; negative means no limit.
	RateLimit float64
	// Burst is how many requests may go at once before RateLimit paces
	// them. Default MaxConcurrency.
	Burst int
	// MaxConcurrency is the most requests in flight at once. Default 8.
	MaxConcurrency int
	// MaxRetries is how many times a call is retried after its first
	// attempt, on 502, 503, 504 and network errors only. A 429 does not
	// count: the call waits at the Target's shared gate (MaxElapsed
	// bounds it). Default 5; negative means no retries.
	MaxRetries int
	// InitialBackoff and MaxBackoff bound the exponential backoff (with
	// jitter) between retries that have no Retry-After. Defaults 500ms and
	// 30s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for; a
	// longer one (an hourly rate limit, say) fails the call, and every
	// call of the Target until that time, with the time to wait in the
	// error (loader.RetryAfter). Default 2m.
	MaxRetryAfter time.Duration
	// MaxElapsed bounds the time one call may spend retrying. Default 5m.
	MaxElapsed time.Duration

	// HTTPClient sends the requests. Default: a client with Go's default
	// transport (no client-level timeout: Timeout applies per attempt).
	HTTPClient *http.Client
	// OnResponse, when set, is called after every attempt with the HTTP
	// method, the table (or "attachment"), the status (0 when no answer
	// came) and the attempt's duration; the server exports it as metrics.
	OnResponse func(method, table string, status int, d time.Duration)
	// Logger receives retries and failures. Default: no logging.
	Logger *slog.Logger
	// UserAgent is sent with every request. Default "bookbridge-loader".
	UserAgent string
}

// OAuth holds OAuth 2 client-credentials settings.
type OAuth struct {
	ClientID     string
	ClientSecret string
	// TokenURL defaults to BaseURL + "/oauth_token.do".
	TokenURL string
	Scopes   []string
}

// Defaults of Config.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultRateLimit      = 20
	DefaultMaxConcurrency = 8
	DefaultMaxRetries     = 5
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxRetryAfter  = 2 * time.Minute
	DefaultMaxElapsed     = 5 * time.Minute
)

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.Burst == 0 {
		c.Burst = c.MaxConcurrency
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = DefaultInitialBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.MaxElapsed == 0 {
		c.MaxElapsed = DefaultMaxElapsed
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.UserAgent == "" {
		c.UserAgent = "bookbridge-loader"
	}
	if c.OAuth != nil && c.OAuth.TokenURL == "" {
		o := *c.OAuth
		o.TokenURL = c.BaseURL + "/oauth_token.do"
		c.OAuth = &o
	}
	return c
}

// Validate reports every problem of c (after WithDefaults), each naming
// the field and how to fix it.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("servicenow: BaseURL is empty: set it to the instance, such as https://example.service-now.com"))
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		errs = append(errs, fmt.Errorf("servicenow: BaseURL %q is not an http(s) URL of an instance, such as https://example.service-now.com", c.BaseURL))
	case u.Path != "" || u.RawQuery != "":
		errs = append(errs, fmt.Errorf("servicenow: BaseURL %q must be the instance only, without a path (the client adds /api/now/...)", c.BaseURL))
	}
	basic := c.Username != "" || c.Password != ""
	switch {
	case c.OAuth != nil && basic:
		errs = append(errs, errors.New("servicenow: both Basic auth (Username/Password) and OAuth are set: keep one"))
	case c.OAuth != nil && (c.OAuth.ClientID == "" || c.OAuth.ClientSecret == ""):
		errs = append(errs, errors.New("servicenow: OAuth needs ClientID and ClientSecret (from the instance's Application Registry)"))
	case c.OAuth == nil && (c.Username == "" || c.Password == ""):
		errs = append(errs, errors.New("servicenow: no credentials: set Username and Password, or OAuth client credentials"))
	}
	if c.Timeout < 0 || c.MaxConcurrency < 0 || c.Burst < 0 || c.InitialBackoff < 0 || c.MaxBackoff < 0 || c.MaxRetryAfter < 0 || c.MaxElapsed < 0 {
		errs = append(errs, errors.New("servicenow: Timeout, MaxConcurrency, Burst and the backoff durations must not be negative"))
	}
	return errors.Join(errs...)
}
