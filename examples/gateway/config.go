package gateway

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// Defaults of Config.
const (
	// DefaultMaxBodySize is bookbridge's own limit, 6 MiB.
	DefaultMaxBodySize = "6m"
	// DefaultRate is the steady request rate allowed per API key.
	DefaultRate = "10r/s"
	// DefaultBurst is how many requests above the rate one key may send at
	// once: a sender job posts up to 50 deals one after another.
	DefaultBurst = 50
	// NoBurst as Config.Burst allows no request above the rate.
	NoBurst = -1
	// DefaultHSTSMaxAge is two years, in seconds.
	DefaultHSTSMaxAge = 63072000
)

// Config is one gateway. Zero fields take the defaults WithDefaults names.
type Config struct {
	// Listen is where nginx listens, host:port ("0.0.0.0:443",
	// "127.0.0.1:18443"). Required.
	Listen string
	// Upstream is bookbridge's address, host:port. Required.
	Upstream string
	// ConfDir is the absolute directory that holds api-keys.map and
	// allowlist.conf. Required.
	ConfDir string
	// RuntimeDir is the absolute directory for nginx.pid, the temporary
	// files and, by default, the logs. Required.
	RuntimeDir string
	// ErrorLog is a file or "stderr"; default RuntimeDir/error.log.
	ErrorLog string
	// AccessLog is a file or "off"; default RuntimeDir/access.log.
	AccessLog string
	// User is the account the worker processes run as when nginx starts as
	// root (nginx's "user" directive); empty keeps nginx's default.
	User string
	// MaxBodySize is nginx's client_max_body_size; default DefaultMaxBodySize.
	MaxBodySize string
	// Rate is the steady rate per API key, "N r/s" or "N r/m" written
	// without spaces ("10r/s"); default DefaultRate.
	Rate string
	// Burst is the number of requests above Rate a key may send at once;
	// 0 means DefaultBurst, NoBurst means none.
	Burst int
	// TLS serves HTTPS when set. Without it the gateway speaks plain HTTP,
	// which is for loopback tests only.
	TLS *TLS
}

// TLS is the HTTPS side of the gateway.
type TLS struct {
	// Certificate is the PEM certificate chain file. Required.
	Certificate string
	// CertificateKey is its PEM private key file. Required.
	CertificateKey string
	// ClientCA, when set, requires a client certificate signed by this CA
	// (mutual TLS with the certificate the Named Credential presents).
	ClientCA string
	// HSTSMaxAge is the Strict-Transport-Security max-age in seconds;
	// default DefaultHSTSMaxAge.
	HSTSMaxAge int
}

// WithDefaults returns c with its empty fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.ErrorLog == "" && c.RuntimeDir != "" {
		c.ErrorLog = filepath.Join(c.RuntimeDir, "error.log")
	}
	if c.AccessLog == "" && c.RuntimeDir != "" {
		c.AccessLog = filepath.Join(c.RuntimeDir, "access.log")
	}
	if c.MaxBodySize == "" {
		c.MaxBodySize = DefaultMaxBodySize
	}
	if c.Rate == "" {
		c.Rate = DefaultRate
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.TLS != nil {
		t := *c.TLS
		if t.HSTSMaxAge == 0 {
			t.HSTSMaxAge = DefaultHSTSMaxAge
		}
		c.TLS = &t
	}
	return c
}

var (
	// safeValue keeps rendered values from ending or extending a directive.
	safeValue = regexp.MustCompile(`^[^\s;{}'"$#\\]+$`)
	rateRE    = regexp.MustCompile(`^[1-9][0-9]*r/[sm]$`)
	sizeRE    = regexp.MustCompile(`^[1-9][0-9]*[kKmM]?$`)
)

// ErrInvalidConfig is wrapped by every error of Validate.
var ErrInvalidConfig = errors.New("gateway: invalid config")

// Validate reports every problem of c (after WithDefaults) at once; each
// names the field and says how to fix it.
func (c Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	hostPort := func(field, v, example string) {
		if _, _, err := net.SplitHostPort(v); err != nil || !safeValue.MatchString(v) {
			add("%s %q is not host:port; set it like %s", field, v, example)
		}
	}
	absPath := func(field, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		if !filepath.IsAbs(v) || !safeValue.MatchString(v) {
			add("%s %q must be an absolute path without spaces, quotes, ';', '{', '}', '$' or '#'", field, v)
		}
	}
	hostPort("Listen", c.Listen, "127.0.0.1:18443 or 0.0.0.0:443")
	hostPort("Upstream", c.Upstream, "127.0.0.1:8080 (bookbridge's listen address)")
	absPath("ConfDir", c.ConfDir)
	absPath("RuntimeDir", c.RuntimeDir)
	absPath("ErrorLog", c.ErrorLog, "stderr")
	absPath("AccessLog", c.AccessLog, "off")
	if c.User != "" && !regexp.MustCompile(`^[a-z_][a-z0-9_-]*( [a-z_][a-z0-9_-]*)?$`).MatchString(c.User) {
		add("User %q is not an account name (like www-data)", c.User)
	}
	if !sizeRE.MatchString(c.MaxBodySize) {
		add("MaxBodySize %q is not an nginx size; set it like 6m", c.MaxBodySize)
	}
	if !rateRE.MatchString(c.Rate) {
		add("Rate %q is not an nginx rate; set it like 10r/s or 30r/m", c.Rate)
	}
	if c.Burst < NoBurst {
		add("Burst %d is negative; use NoBurst for none", c.Burst)
	}
	if c.TLS != nil {
		absPath("TLS.Certificate", c.TLS.Certificate)
		absPath("TLS.CertificateKey", c.TLS.CertificateKey)
		if c.TLS.ClientCA != "" {
			absPath("TLS.ClientCA", c.TLS.ClientCA)
		}
		if c.TLS.HSTSMaxAge < 0 {
			add("TLS.HSTSMaxAge %d is negative", c.TLS.HSTSMaxAge)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
}

//go:embed nginx/gateway.conf.tmpl
var confTemplate string

var tmpl = template.Must(template.New("gateway.conf").Option("missingkey=error").Parse(confTemplate))

// templateData is what the template sees: the config with Burst as nginx
// needs it.
type templateData struct {
	Config
	Burst int
}

// Render writes the nginx.conf of c (after WithDefaults) to w.
func Render(w io.Writer, c Config) error {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return err
	}
	burst := c.Burst
	if burst == NoBurst {
		burst = 0
	}
	return tmpl.Execute(w, templateData{Config: c, Burst: burst})
}
