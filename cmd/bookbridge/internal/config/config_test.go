package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/phmail"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.DatabaseURL != "bookbridge.db" || c.Target != "sql" ||
		c.MaxBodyBytes != 6<<20 || c.ShutdownTimeout != 30*time.Second || c.Location().String() != "UTC" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestFileEnvAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bookbridge.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9999\ndatabase_url: postgres://u:pw@h/db\ntarget: servicenow\nservicenow_url: https://x.service-now.com\nservicenow_user: svc\nallowed_ips: [10.0.0.0/8, 192.168.1.7]\nrule_params:\n  assigned_to: abc\n"), 0o600)
	secret := filepath.Join(dir, "pw")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	c, err := Load(envOf(map[string]string{
		"BOOKBRIDGE_CONFIG":                   file,
		"BOOKBRIDGE_LISTEN":                   "127.0.0.1:7777", // environment wins
		"BOOKBRIDGE_SERVICENOW_PASSWORD_FILE": secret,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7777" || c.ServiceNowPassword != "s3cret" || c.RuleParams["assigned_to"] != "abc" {
		t.Fatalf("%+v", c)
	}
	if len(c.AllowedIPs) != 2 || c.AllowedIPs[1].String() != "192.168.1.7/32" {
		t.Fatalf("allowed ips %v", c.AllowedIPs)
	}
	dump := strings.Join(c.Dump(), "\n")
	for _, want := range []string{"BOOKBRIDGE_SERVICENOW_PASSWORD=(set)", "BOOKBRIDGE_DATABASE_URL=postgres://u:xxxxx@h/db", "BOOKBRIDGE_SMTP_PASSWORD=(unset)"} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
	if strings.Contains(dump, "s3cret") || strings.Contains(dump, ":pw@") {
		t.Error("dump shows a secret")
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	_, err := Load(envOf(map[string]string{
		"BOOKBRIDGE_TARGET":           "servicenow",
		"BOOKBRIDGE_LOG_FORMAT":       "xml",
		"BOOKBRIDGE_ALLOWED_IPS":      "10.0.0.0/33",
		"BOOKBRIDGE_SHUTDOWN_TIMEOUT": "soon",
		"BOOKBRIDGE_IMAP_ADDR":        "imap.example:993",
		"BOOKBRIDGE_IMAP_ONLY_UNSEEN": "sometimes",
	}))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	text := err.Error()
	for _, want := range []string{"BOOKBRIDGE_SERVICENOW_URL", "BOOKBRIDGE_LOG_FORMAT", "BOOKBRIDGE_ALLOWED_IPS", "BOOKBRIDGE_SHUTDOWN_TIMEOUT", "BOOKBRIDGE_IMAP_USER", "credentials", "BOOKBRIDGE_IMAP_ONLY_UNSEEN"} {
		if !strings.Contains(text, want) {
			t.Errorf("error lacks %s: %s", want, text)
		}
	}
}

func TestUnknownFileKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("lsten: x\n"), 0o600)
	_, err := Load(envOf(map[string]string{"BOOKBRIDGE_CONFIG": file}))
	if err == nil || !strings.Contains(err.Error(), `unknown setting "lsten"`) {
		t.Fatalf("got %v", err)
	}
}

func TestSecretTwice(t *testing.T) {
	_, err := Load(envOf(map[string]string{"BOOKBRIDGE_IMAP_PASSWORD": "a", "BOOKBRIDGE_IMAP_PASSWORD_FILE": "/x"}))
	if err == nil || !strings.Contains(err.Error(), "both set") {
		t.Fatalf("got %v", err)
	}
}

// Booleans read as strconv.ParseBool reads them; empty is false.
func TestBooleanSettings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{{"", false}, {"false", false}, {"0", false}, {"true", true}, {"TRUE", true}, {"1", true}} {
		cfg, err := Load(envOf(map[string]string{"BOOKBRIDGE_IMAP_ONLY_UNSEEN": tc.in}))
		if err != nil || cfg.IMAPOnlyUnseen != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.in, cfg.IMAPOnlyUnseen, err, tc.want)
		}
	}
}

// TestEmailLimits checks that the email and PDF check settings reach
// phmail's limits with their documented defaults, and that bad values are
// refused with the setting named.
func TestEmailLimits(t *testing.T) {
	c, err := Load(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := c.EmailLimits()
	want := phmail.Limits{MaxParts: phmail.DefaultMaxParts, MaxDepth: phmail.DefaultMaxDepth, MaxDecodedBytes: phmail.DefaultMaxDecodedBytes,
		MaxPDFs: phmail.DefaultMaxPDFs, PDFCheckMemory: phmail.DefaultPDFCheckMemory, PDFCheckTimeout: phmail.DefaultPDFCheckTimeout,
		MaxPDFCheckTime: phmail.DefaultMaxPDFCheckTime, PDFChecksAtOnce: phmail.DefaultPDFChecksAtOnce}
	if got != want {
		t.Fatalf("limits %+v, want %+v", got, want)
	}
	c, err = Load(envOf(map[string]string{"BOOKBRIDGE_PDF_CHECK_MEMORY": "1048576", "BOOKBRIDGE_PDF_CHECK_TIMEOUT": "3s"}))
	if err == nil || !strings.Contains(err.Error(), "PDFCheckMemory: at least 16 MiB") {
		t.Fatalf("small memory: %v", err)
	}
	c, err = Load(envOf(map[string]string{"BOOKBRIDGE_EMAIL_PDF_CHECK_TIME": "20s", "BOOKBRIDGE_LOAD_TIMEOUT": "8s", "BOOKBRIDGE_JOB_RESCUE_AFTER": "10s"}))
	if err != nil || c.EmailLimits().MaxPDFCheckTime != 6*time.Second {
		t.Errorf("check time past the job's: %v %+v", err, c.EmailLimits())
	}
	for _, bad := range []string{"BOOKBRIDGE_EMAIL_MAX_PARTS", "BOOKBRIDGE_EMAIL_PDF_CHECK_TIME", "BOOKBRIDGE_PDF_CHECKS_AT_ONCE", "BOOKBRIDGE_PDF_CHECK_TIMEOUT"} {
		if _, err := Load(envOf(map[string]string{bad: "0"})); err == nil || !strings.Contains(err.Error(), "must be greater than 0") {
			t.Errorf("%s=0: %v", bad, err)
		}
	}
}
