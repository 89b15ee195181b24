package gateway_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/bookbridge/bookbridge/examples/gateway"
	"github.com/bookbridge/bookbridge/examples/gateway/gatewaytest"
)

func exampleConfig() gateway.Config {
	return gateway.Config{
		Listen:     "0.0.0.0:443",
		Upstream:   "127.0.0.1:8080",
		ConfDir:    "/etc/bookbridge-gateway",
		RuntimeDir: "/var/lib/bookbridge-gateway",
		ErrorLog:   "/var/log/bookbridge-gateway/error.log",
		AccessLog:  "/var/log/bookbridge-gateway/access.log",
		User:       "www-data",
		TLS: &gateway.TLS{
			Certificate:    "/etc/bookbridge-gateway/tls/fullchain.pem",
			CertificateKey: "/etc/bookbridge-gateway/tls/privkey.pem",
		},
	}
}

// TestRenderProduction snapshots the rendered production configuration, so
// each change to the gateway shows up in review as a diff of nginx.conf.
func TestRenderProduction(t *testing.T) {
	for name, cfg := range map[string]gateway.Config{
		"tls": exampleConfig(),
		"plain_loopback": {
			Listen: "127.0.0.1:18080", Upstream: "127.0.0.1:8080",
			ConfDir: "/srv/gw/conf", RuntimeDir: "/srv/gw/run", AccessLog: "off", Rate: "30r/m", Burst: gateway.NoBurst,
		},
	} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			if err := gateway.Render(&b, cfg); err != nil {
				t.Fatal(err)
			}
			snaps.MatchSnapshot(t, b.String())
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	bad := gateway.Config{
		Listen:      "443",
		Upstream:    "bookbridge:8080; include /etc/passwd",
		ConfDir:     "relative/conf",
		RuntimeDir:  "/run/with space",
		User:        "Root;",
		MaxBodySize: "6 MB",
		Rate:        "10/s",
		Burst:       -5,
		TLS:         &gateway.TLS{Certificate: "cert.pem"},
	}.WithDefaults()
	err := bad.Validate()
	if !errors.Is(err, gateway.ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{
		"Listen", "Upstream", "ConfDir", "RuntimeDir", "ErrorLog", "AccessLog", "User", "MaxBodySize",
		"Rate", "Burst", "TLS.Certificate", "TLS.CertificateKey",
	} {
		if !strings.Contains(err.Error(), want+" ") {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
	if err := exampleConfig().WithDefaults().Validate(); err != nil {
		t.Errorf("the example config: %v", err)
	}
	var b strings.Builder
	if err := gateway.Render(&b, bad); err == nil {
		t.Error("Render accepted an invalid config")
	}
}

func TestKeysFile(t *testing.T) {
	key := strings.Repeat("ab12", 16)
	got, err := gateway.KeysFile(map[string]string{key: "salesforce-prod", strings.Repeat("Z_-9", 10): "a.sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Written by bookbridge's gateway package: ~^KEY$ NAME;\n" +
		"~^Z_-9Z_-9Z_-9Z_-9Z_-9Z_-9Z_-9Z_-9Z_-9Z_-9$ a.sandbox;\n" +
		"~^" + key + "$ salesforce-prod;\n"
	if got != want {
		t.Errorf("KeysFile =\n%s\nwant\n%s", got, want)
	}
	for name, keys := range map[string]map[string]string{
		"short key":        {"abc": "x"},
		"regex characters": {strings.Repeat("a", 31) + ".*": "x"},
		"space in key":     {strings.Repeat("a", 32) + " x": "x"},
		"bad name":         {key: "sales force"},
		"semicolon name":   {key: "x;"},
	} {
		if _, err := gateway.KeysFile(keys); !errors.Is(err, gateway.ErrInvalidKey) {
			t.Errorf("%s: err = %v, want ErrInvalidKey", name, err)
		}
	}
}

func TestAllowlistFile(t *testing.T) {
	got, err := gateway.AllowlistFile([]string{"203.0.113.0/24", "198.51.100.7", "2001:db8::/32", "10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Written by bookbridge's gateway package: CIDR 1;\n203.0.113.0/24 1;\n198.51.100.7/32 1;\n2001:db8::/32 1;\n10.0.0.0/8 1;\n"
	if got != want {
		t.Errorf("AllowlistFile =\n%s\nwant\n%s", got, want)
	}
	if _, err := gateway.AllowlistFile([]string{"203.0.113.0/24", "all", "1.2.3.4/40"}); err == nil ||
		!strings.Contains(err.Error(), `"all"`) || !strings.Contains(err.Error(), `"1.2.3.4/40"`) {
		t.Errorf("err = %v, want both bad entries named", err)
	}
}

// TestCommittedFilesPassNginx runs "nginx -t" on the template rendered with
// the committed api-keys.map and allowlist.conf, and on the TLS variant.
func TestCommittedFilesPassNginx(t *testing.T) {
	nginx := gatewaytest.RequireNginx(t)
	confDir, err := filepath.Abs("nginx")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert := filepath.Join(dir, "unused.pem")
	for name, cfg := range map[string]gateway.Config{
		"plain": {Listen: gatewaytest.FreeLoopbackAddr(t), Upstream: "127.0.0.1:8080", ConfDir: confDir, RuntimeDir: filepath.Join(dir, "plain")},
		"tls": {Listen: gatewaytest.FreeLoopbackAddr(t), Upstream: "127.0.0.1:8080", ConfDir: confDir, RuntimeDir: filepath.Join(dir, "tls"),
			TLS: &gateway.TLS{Certificate: cert, CertificateKey: cert}},
	} {
		t.Run(name, func(t *testing.T) {
			if cfg.TLS != nil {
				// nginx -t loads the certificate: use the one gatewaytest
				// makes for its TLS gateway.
				gw := gatewaytest.Start(t, gatewaytest.Options{Upstream: "127.0.0.1:8080", TLS: true})
				cfg.TLS = gw.Config().TLS
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := gateway.Check(ctx, nginx, cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := gateway.Check(context.Background(), nginx, gateway.Config{
		Listen: "127.0.0.1:1", Upstream: "127.0.0.1:8080", ConfDir: t.TempDir(), RuntimeDir: filepath.Join(dir, "empty"),
	}); err == nil || !strings.Contains(err.Error(), "api-keys.map is missing") {
		t.Errorf("Check without key file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(confDir, "api-keys.map")); err != nil {
		t.Fatal(err)
	}
}
