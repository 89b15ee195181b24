// Package config holds the reference server's settings: their defaults, how
// they are read (a YAML file, then BOOKBRIDGE_* environment variables, with
// secrets also from *_FILE), how they are checked, and how they are shown
// with secrets redacted.
//
// Every setting is one field of Config with struct tags:
//
//	env:"LISTEN"        the variable BOOKBRIDGE_LISTEN (and the YAML key "listen")
//	default:"..."       the value when neither the file nor the environment sets it
//	secret:"true"       redacted by Dump; may also come from BOOKBRIDGE_<NAME>_FILE
//	doc:"..."           one line for the README and "bookbridge config dump"
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

// Prefix starts every environment variable of bookbridge.
const Prefix = "BOOKBRIDGE_"

// Config is every setting of the reference server.
type Config struct {
	ConfigFile string `env:"CONFIG" default:"" doc:"YAML file with settings (keys are the variable names without BOOKBRIDGE_, lower-case); the environment overrides it"`

	DatabaseURL     string         `env:"DATABASE_URL" default:"bookbridge.db" doc:"where records are stored: postgres://... or a SQLite file path"`
	Listen          string         `env:"LISTEN" default:"127.0.0.1:8080" doc:"HTTP listen address (API, console, metrics)"`
	PublicURL       string         `env:"PUBLIC_URL" default:"" doc:"URL operators use to reach the console; https:// makes session cookies Secure (default: derived from LISTEN)"`
	TLSCert         string         `env:"TLS_CERT" default:"" doc:"PEM certificate file; with TLS_KEY the server speaks HTTPS itself"`
	TLSKey          string         `env:"TLS_KEY" default:"" doc:"PEM private key file for TLS_CERT"`
	MaxBodyBytes    int64          `env:"MAX_BODY_BYTES" default:"6291456" doc:"largest deal or email body accepted, in bytes (6 MiB)"`
	ReadTimeout     time.Duration  `env:"READ_TIMEOUT" default:"30s" doc:"longest wait for a request's body once its headers are in (headers have 10s); a body still arriving then is answered 408 and its connection closed"`
	MaxLineItems    int            `env:"MAX_LINE_ITEMS" default:"5000" doc:"most records one list of a deal may hold (its line items, its sales team); a longer list is answered 422 with its count"`
	TrustedProxies  []netip.Prefix `env:"TRUSTED_PROXIES" default:"" doc:"comma-separated addresses or CIDRs of gateways whose X-Forwarded-For is believed"`
	AllowedIPs      []netip.Prefix `env:"ALLOWED_IPS" default:"" doc:"comma-separated addresses or CIDRs allowed to post deals and emails; empty allows all"`
	LogFormat       string         `env:"LOG_FORMAT" default:"text" doc:"log format: text or json"`
	LogLevel        string         `env:"LOG_LEVEL" default:"info" doc:"log level: debug, info, warn or error"`
	ShutdownTimeout time.Duration  `env:"SHUTDOWN_TIMEOUT" default:"30s" doc:"how long a stopping server waits for requests and jobs to finish; past it they are cut off and serve exits non-zero"`
	WaitingAlert    time.Duration  `env:"WAITING_ALERT" default:"24h" doc:"records waiting longer than this are flagged (console, metrics, periodic check)"`
	TimeZone        string         `env:"TIMEZONE" default:"UTC" doc:"time zone of business dates (the 30-day rule, due dates)"`

	GCMinHeap int64 `env:"GC_MIN_HEAP" default:"67108864" doc:"serve and demo let the heap grow to this many bytes before the garbage collector runs (see Operations); 0, or GOGC set, leaves the collector as Go sets it"`

	LoadTimeout       time.Duration `env:"LOAD_TIMEOUT" default:"20s" doc:"longest run of one background job; a load still running then goes on from its journal in the next run"`
	JobRescueAfter    time.Duration `env:"JOB_RESCUE_AFTER" default:"25s" doc:"a job running this long is taken to be from a process that died and is run again (with the load's journal); more than LOAD_TIMEOUT"`
	LoadRetryWindow   time.Duration `env:"LOAD_RETRY_WINDOW" default:"24h" doc:"how long after its start a load that fails for a passing reason (ServiceNow down, 429, 502-504, timeouts) is tried again; then it is load_failed"`
	LoadRetryMaxDelay time.Duration `env:"LOAD_RETRY_MAX_DELAY" default:"10m" doc:"longest wait between two tries of a retrying load (the waits double from 2s, with jitter, and honour Retry-After)"`

	ReconcileInterval time.Duration `env:"RECONCILE_INTERVAL" default:"0s" doc:"how often every loaded record is compared with the live target in the background (reads only; sets bookbridge_records_drifted), such as 6h; 0 turns it off"`

	Rules      string            `env:"RULES" default:"" doc:"mapping rule file; empty uses the built-in reference rules (examples/mappings/reference.yaml)"`
	RuleParams map[string]string `env:"RULE_PARAMS" default:"" doc:"rule parameters as name=value pairs separated by commas, such as assigned_to=abc123"`
	Target     string            `env:"TARGET" default:"sql" doc:"where loads go: servicenow, or sql (tables in a database, for trials and the demo)"`
	TargetURL  string            `env:"TARGET_URL" default:"bookbridge-target.db" doc:"with TARGET=sql: the database of the target tables (postgres://... or a SQLite file)"`

	ServiceNowURL            string        `env:"SERVICENOW_URL" default:"" doc:"ServiceNow instance, such as https://example.service-now.com"`
	ServiceNowUser           string        `env:"SERVICENOW_USER" default:"" doc:"ServiceNow user for basic authentication"`
	ServiceNowPassword       string        `env:"SERVICENOW_PASSWORD" default:"" secret:"true" doc:"password of SERVICENOW_USER"`
	ServiceNowClientID       string        `env:"SERVICENOW_CLIENT_ID" default:"" doc:"OAuth client id (client-credentials grant), instead of user and password"`
	ServiceNowClientSecret   string        `env:"SERVICENOW_CLIENT_SECRET" default:"" secret:"true" doc:"OAuth client secret"`
	ServiceNowTokenURL       string        `env:"SERVICENOW_TOKEN_URL" default:"" doc:"OAuth token URL (default: SERVICENOW_URL/oauth_token.do)"`
	ServiceNowTimeout        time.Duration `env:"SERVICENOW_TIMEOUT" default:"30s" doc:"timeout of each ServiceNow call"`
	ServiceNowRateLimit      float64       `env:"SERVICENOW_RATE_LIMIT" default:"10" doc:"most ServiceNow calls per second"`
	ServiceNowMaxConcurrency int           `env:"SERVICENOW_MAX_CONCURRENCY" default:"4" doc:"most ServiceNow calls in flight at once"`

	SMTPListen         string   `env:"SMTP_LISTEN" default:"" doc:"address of the SMTP receiver for PH emails, such as 127.0.0.1:2525; empty turns it off"`
	SMTPDomain         string   `env:"SMTP_DOMAIN" default:"localhost" doc:"domain the SMTP receiver announces"`
	SMTPAllowedSenders []string `env:"SMTP_ALLOWED_SENDERS" default:"" doc:"comma-separated sender addresses or @domains accepted; empty accepts all"`
	SMTPUser           string   `env:"SMTP_USER" default:"" doc:"require SMTP AUTH with this user (needs TLS unless on loopback)"`
	SMTPPassword       string   `env:"SMTP_PASSWORD" default:"" secret:"true" doc:"password of SMTP_USER"`
	SMTPMaxConnections int      `env:"SMTP_MAX_CONNECTIONS" default:"50" doc:"most SMTP connections open at once; one more is answered 421 (try again later)"`

	IMAPAddr             string        `env:"IMAP_ADDR" default:"" doc:"IMAP server (host:port) polled for PH emails; empty turns polling off"`
	IMAPTLS              string        `env:"IMAP_TLS" default:"tls" doc:"IMAP connection security: tls, starttls or none"`
	IMAPUser             string        `env:"IMAP_USER" default:"" doc:"IMAP user"`
	IMAPPassword         string        `env:"IMAP_PASSWORD" default:"" secret:"true" doc:"IMAP password"`
	IMAPFolder           string        `env:"IMAP_FOLDER" default:"INBOX" doc:"folder polled for new messages"`
	IMAPProcessedFolder  string        `env:"IMAP_PROCESSED_FOLDER" default:"Processed" doc:"folder processed messages are moved to"`
	IMAPQuarantineFolder string        `env:"IMAP_QUARANTINE_FOLDER" default:"Quarantine" doc:"folder rejected messages are moved to"`
	IMAPPollInterval     time.Duration `env:"IMAP_POLL_INTERVAL" default:"1m" doc:"how often the folder is polled (IDLE is used as well where offered)"`
	IMAPOnlyUnseen       bool          `env:"IMAP_ONLY_UNSEEN" default:"false" doc:"read only unread messages; by default every message in the folder is read, since handled ones leave it (a person opening a PH email must not make bookbridge skip it)"`

	// Bounds on one PH email and on the check of each PDF it carries.
	EmailMaxParts        int           `env:"EMAIL_MAX_PARTS" default:"100" doc:"most MIME parts in one PH email; more refuses the email"`
	EmailMaxDepth        int           `env:"EMAIL_MAX_DEPTH" default:"8" doc:"deepest multipart nesting of one PH email; deeper refuses the email"`
	EmailMaxDecodedBytes int64         `env:"EMAIL_MAX_DECODED_BYTES" default:"33554432" doc:"most bytes of all decoded parts of one PH email together (32 MiB); more refuses the email"`
	EmailMaxPDFs         int           `env:"EMAIL_MAX_PDFS" default:"10" doc:"most PDFs checked in one PH email; the ones past it are kept but not usable"`
	PDFCheckMemory       int64         `env:"PDF_CHECK_MEMORY" default:"268435456" doc:"most memory one PDF check may use (256 MiB, at least 16 MiB); a PDF with a compressed stream decoding to more than an eighth of it, or streams decoding to more than a quarter together, is kept but not usable (could not be checked)"`
	PDFCheckTimeout      time.Duration `env:"PDF_CHECK_TIMEOUT" default:"10s" doc:"longest check of one PDF; a PDF whose check takes longer is kept but not usable (could not be checked)"`
	EmailPDFCheckTime    time.Duration `env:"EMAIL_PDF_CHECK_TIME" default:"15s" doc:"longest time for all PDF checks of one PH email together, waits for a turn included; the PDFs not checked by then are kept but not usable; at most three quarters of LOAD_TIMEOUT are used"`
	PDFChecksAtOnce      int           `env:"PDF_CHECKS_AT_ONCE" default:"1" doc:"most PDF checks running at once (each may use PDF_CHECK_MEMORY); a PDF that waits longer than PDF_CHECK_TIMEOUT for its turn is kept but not usable"`

	// What "bookbridge send" reads: it talks to a server rather than
	// being one.
	URL    string `env:"URL" default:"" doc:"send: the intake endpoint it posts to (default: http://LISTEN/api/v1/deals)"`
	APIKey string `env:"API_KEY" default:"" secret:"true" doc:"send: the API key it presents as X-API-Key"`

	location *time.Location
}

// EmailLimits returns the bounds on one PH email and its PDF checks. The
// time for all checks of an email is at most three quarters of
// LOAD_TIMEOUT, the time limit of the job that processes it, so that the
// job ends in time and is not tried again.
func (c *Config) EmailLimits() phmail.Limits {
	checkTime := c.EmailPDFCheckTime
	if c.LoadTimeout > 0 {
		checkTime = min(checkTime, c.LoadTimeout*3/4)
	}
	return phmail.Limits{
		MaxParts: c.EmailMaxParts, MaxDepth: c.EmailMaxDepth, MaxDecodedBytes: c.EmailMaxDecodedBytes,
		MaxPDFs: c.EmailMaxPDFs, PDFCheckMemory: c.PDFCheckMemory, PDFCheckTimeout: c.PDFCheckTimeout,
		MaxPDFCheckTime: checkTime, PDFChecksAtOnce: c.PDFChecksAtOnce,
	}
}

// Location returns the time zone of TimeZone (valid after Load).
func (c *Config) Location() *time.Location {
	if c.location == nil {
		return time.UTC
	}
	return c.location
}

// Setting describes one field of Config.
type Setting struct {
	Env     string // full variable name, such as BOOKBRIDGE_LISTEN
	Key     string // YAML key, such as listen
	Default string
	Secret  bool
	Doc     string
	field   int
}

// Settings lists every setting in declaration order.
func Settings() []Setting {
	t := reflect.TypeOf(Config{})
	var out []Setting
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		env, ok := f.Tag.Lookup("env")
		if !ok {
			continue
		}
		out = append(out, Setting{
			Env: Prefix + env, Key: strings.ToLower(env), Default: f.Tag.Get("default"),
			Secret: f.Tag.Get("secret") == "true", Doc: f.Tag.Get("doc"), field: i,
		})
	}
	return out
}

// Load builds the configuration: defaults, then the YAML file named by
// BOOKBRIDGE_CONFIG (if any), then the environment (BOOKBRIDGE_X, or for
// secrets BOOKBRIDGE_X_FILE naming a file that holds the value). It returns
// every problem at once.
func Load(getenv func(string) string) (*Config, error) {
	var c Config
	var problems []string
	settings := Settings()
	values := map[string]string{}
	for _, s := range settings {
		values[s.Key] = s.Default
	}
	if file := getenv(Prefix + "CONFIG"); file != "" {
		fileValues, err := readFile(file)
		if err != nil {
			return nil, err
		}
		known := map[string]bool{}
		for _, s := range settings {
			known[s.Key] = true
		}
		keys := make([]string, 0, len(fileValues))
		for k := range fileValues {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !known[k] || k == "config" {
				problems = append(problems, fmt.Sprintf("%s: unknown setting %q: see the README's settings table", file, k))
				continue
			}
			values[k] = fileValues[k]
		}
		values["config"] = file
	}
	for _, s := range settings {
		if v := getenv(s.Env); v != "" {
			values[s.Key] = v
		}
		if !s.Secret {
			continue
		}
		if path := getenv(s.Env + "_FILE"); path != "" {
			if getenv(s.Env) != "" {
				problems = append(problems, fmt.Sprintf("%s and %s_FILE are both set: keep one", s.Env, s.Env))
				continue
			}
			b, err := os.ReadFile(path)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s_FILE: %v", s.Env, err))
				continue
			}
			values[s.Key] = strings.TrimRight(string(b), "\r\n")
		}
	}
	rv := reflect.ValueOf(&c).Elem()
	for _, s := range settings {
		if err := setField(rv.Field(s.field), values[s.Key]); err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q: %v", s.Env, values[s.Key], err))
		}
	}
	problems = append(problems, c.check()...)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return &c, nil
}

// Error lists every configuration problem.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "configuration: " + strings.Join(e.Problems, "; ")
}

func readFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w (set BOOKBRIDGE_CONFIG to a readable YAML file)", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	out := map[string]string{}
	for k, v := range raw {
		switch t := v.(type) {
		case nil:
			out[k] = ""
		case []any:
			parts := make([]string, len(t))
			for i, p := range t {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = strings.Join(parts, ",")
		case map[string]any:
			keys := make([]string, 0, len(t))
			for mk := range t {
				keys = append(keys, mk)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, mk := range keys {
				parts[i] = mk + "=" + fmt.Sprint(t[mk])
			}
			out[k] = strings.Join(parts, ",")
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

func setField(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(s)
	case int64, int:
		if s == "" {
			f.SetInt(0)
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errors.New("want a whole number")
		}
		f.SetInt(n)
	case bool:
		if s == "" {
			f.SetBool(false)
			return nil
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("want true or false")
		}
		f.SetBool(b)
	case float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errors.New("want a number")
		}
		f.SetFloat(n)
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("want a duration such as 30s, 5m or 24h")
		}
		f.Set(reflect.ValueOf(d))
	case []string:
		f.Set(reflect.ValueOf(splitList(s)))
	case []netip.Prefix:
		var out []netip.Prefix
		for _, p := range splitList(s) {
			pfx, err := parsePrefix(p)
			if err != nil {
				return err
			}
			out = append(out, pfx)
		}
		f.Set(reflect.ValueOf(out))
	case map[string]string:
		m := map[string]string{}
		for _, p := range splitList(s) {
			k, v, ok := strings.Cut(p, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return fmt.Errorf("%q is not name=value", p)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		f.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR such as 10.0.0.0/8", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// check validates values that parsed but do not make sense together.
func (c *Config) check() []string {
	var p []string
	if c.DatabaseURL == "" {
		p = append(p, "BOOKBRIDGE_DATABASE_URL is empty: set postgres://... or a SQLite file path")
	}
	if c.Listen == "" {
		p = append(p, "BOOKBRIDGE_LISTEN is empty: set host:port, such as 127.0.0.1:8080")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		p = append(p, "BOOKBRIDGE_TLS_CERT and BOOKBRIDGE_TLS_KEY go together: set both or neither")
	}
	if c.MaxBodyBytes <= 0 {
		p = append(p, "BOOKBRIDGE_MAX_BODY_BYTES must be greater than 0")
	}
	if c.ReadTimeout <= 0 {
		p = append(p, "BOOKBRIDGE_READ_TIMEOUT must be greater than 0, such as 30s")
	}
	if c.MaxLineItems <= 0 {
		p = append(p, "BOOKBRIDGE_MAX_LINE_ITEMS must be greater than 0")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		p = append(p, fmt.Sprintf("BOOKBRIDGE_LOG_FORMAT=%q: use text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("BOOKBRIDGE_LOG_LEVEL=%q: use debug, info, warn or error", c.LogLevel))
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		p = append(p, fmt.Sprintf("BOOKBRIDGE_TIMEZONE=%q: not a time zone name such as UTC or Europe/Berlin", c.TimeZone))
	} else {
		c.location = loc
	}
	switch c.Target {
	case "sql":
		if c.TargetURL == "" {
			p = append(p, "BOOKBRIDGE_TARGET=sql needs BOOKBRIDGE_TARGET_URL (postgres://... or a SQLite file)")
		}
	case "servicenow":
		if c.ServiceNowURL == "" {
			p = append(p, "BOOKBRIDGE_TARGET=servicenow needs BOOKBRIDGE_SERVICENOW_URL, such as https://example.service-now.com")
		}
		basic := c.ServiceNowUser != "" || c.ServiceNowPassword != ""
		oauth := c.ServiceNowClientID != "" || c.ServiceNowClientSecret != ""
		switch {
		case basic && oauth:
			p = append(p, "set either BOOKBRIDGE_SERVICENOW_USER/PASSWORD or BOOKBRIDGE_SERVICENOW_CLIENT_ID/CLIENT_SECRET, not both")
		case basic && (c.ServiceNowUser == "" || c.ServiceNowPassword == ""):
			p = append(p, "basic authentication needs both BOOKBRIDGE_SERVICENOW_USER and BOOKBRIDGE_SERVICENOW_PASSWORD")
		case oauth && (c.ServiceNowClientID == "" || c.ServiceNowClientSecret == ""):
			p = append(p, "OAuth needs both BOOKBRIDGE_SERVICENOW_CLIENT_ID and BOOKBRIDGE_SERVICENOW_CLIENT_SECRET")
		case !basic && !oauth:
			p = append(p, "BOOKBRIDGE_TARGET=servicenow needs credentials: BOOKBRIDGE_SERVICENOW_USER and _PASSWORD, or _CLIENT_ID and _CLIENT_SECRET")
		}
		if c.ServiceNowRateLimit <= 0 {
			p = append(p, "BOOKBRIDGE_SERVICENOW_RATE_LIMIT must be greater than 0")
		}
		if c.ServiceNowMaxConcurrency <= 0 {
			p = append(p, "BOOKBRIDGE_SERVICENOW_MAX_CONCURRENCY must be at least 1")
		}
	default:
		p = append(p, fmt.Sprintf("BOOKBRIDGE_TARGET=%q: use servicenow or sql", c.Target))
	}
	if c.LoadTimeout <= 0 {
		p = append(p, "BOOKBRIDGE_LOAD_TIMEOUT must be greater than 0, such as 20s")
	}
	if c.JobRescueAfter <= c.LoadTimeout {
		p = append(p, fmt.Sprintf("BOOKBRIDGE_JOB_RESCUE_AFTER=%s must be more than BOOKBRIDGE_LOAD_TIMEOUT=%s, or a running job would be run twice", c.JobRescueAfter, c.LoadTimeout))
	}
	if c.LoadRetryWindow <= 0 || c.LoadRetryMaxDelay <= 0 {
		p = append(p, "BOOKBRIDGE_LOAD_RETRY_WINDOW and BOOKBRIDGE_LOAD_RETRY_MAX_DELAY must be greater than 0")
	}
	if c.ReconcileInterval < 0 {
		p = append(p, "BOOKBRIDGE_RECONCILE_INTERVAL must be 0 (off) or a positive duration such as 6h")
	}
	if c.SMTPMaxConnections <= 0 {
		p = append(p, "BOOKBRIDGE_SMTP_MAX_CONNECTIONS must be greater than 0")
	}
	if c.EmailMaxParts <= 0 || c.EmailMaxDepth <= 0 || c.EmailMaxDecodedBytes <= 0 || c.EmailMaxPDFs <= 0 ||
		c.PDFCheckMemory <= 0 || c.PDFCheckTimeout <= 0 || c.EmailPDFCheckTime <= 0 || c.PDFChecksAtOnce <= 0 {
		p = append(p, "BOOKBRIDGE_EMAIL_MAX_* and BOOKBRIDGE_PDF_CHECK* settings must be greater than 0")
	} else if err := c.EmailLimits().WithDefaults().Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			p = append(p, "email and PDF check settings: "+e)
		}
	}
	if (c.SMTPUser == "") != (c.SMTPPassword == "") {
		p = append(p, "BOOKBRIDGE_SMTP_USER and BOOKBRIDGE_SMTP_PASSWORD go together")
	}
	if c.IMAPAddr != "" {
		if c.IMAPUser == "" || c.IMAPPassword == "" {
			p = append(p, "BOOKBRIDGE_IMAP_ADDR needs BOOKBRIDGE_IMAP_USER and BOOKBRIDGE_IMAP_PASSWORD")
		}
		switch c.IMAPTLS {
		case "tls", "starttls", "none":
		default:
			p = append(p, fmt.Sprintf("BOOKBRIDGE_IMAP_TLS=%q: use tls, starttls or none", c.IMAPTLS))
		}
		if c.IMAPPollInterval <= 0 {
			p = append(p, "BOOKBRIDGE_IMAP_POLL_INTERVAL must be greater than 0")
		}
	}
	return p
}

// Dump returns every setting as "BOOKBRIDGE_X=value" lines, secrets shown as
// "(set)" or "(unset)", passwords in URLs masked.
func (c *Config) Dump() []string {
	rv := reflect.ValueOf(c).Elem()
	var out []string
	for _, s := range Settings() {
		v := formatValue(rv.Field(s.field))
		switch {
		case s.Secret && v != "":
			v = "(set)"
		case s.Secret:
			v = "(unset)"
		case strings.HasSuffix(s.Env, "_URL"):
			v = bundb.Redact(v)
		}
		out = append(out, s.Env+"="+v)
	}
	return out
}

func formatValue(f reflect.Value) string {
	switch t := f.Interface().(type) {
	case []string:
		return strings.Join(t, ",")
	case []netip.Prefix:
		parts := make([]string, len(t))
		for i, p := range t {
			parts[i] = p.String()
		}
		return strings.Join(parts, ",")
	case map[string]string:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + t[k]
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(t)
	}
}

// Markdown returns the settings as a Markdown table (variable, default,
// meaning), the form the README shows.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, s := range Settings() {
		def := "`" + s.Default + "`"
		if s.Default == "" {
			def = "(empty)"
		}
		doc := s.Doc
		if s.Secret {
			doc += "; also from `" + s.Env + "_FILE`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s.Env, def, strings.ReplaceAll(doc, "|", "\\|"))
	}
	return b.String()
}
