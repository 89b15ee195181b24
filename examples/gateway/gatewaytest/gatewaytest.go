// Package gatewaytest runs bookbridge's nginx gateway (package gateway) in
// tests: on a free loopback port, in a temporary directory, in front of any
// upstream (a test double now, the real bookbridge server later), and stops
// it when the test ends.
//
// When nginx is not installed the test is skipped with a loud SKIPPING
// message, unless BOOKBRIDGE_REQUIRE_E2E=1 (CI sets it): then it fails.
package gatewaytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/examples/gateway"
)

// EnvRequireE2E makes a missing nginx fail the test instead of skipping it.
const EnvRequireE2E = "BOOKBRIDGE_REQUIRE_E2E"

// EnvNginx names the nginx binary to use; default: nginx on PATH, then
// /usr/sbin/nginx (Debian's, outside a non-root PATH).
const EnvNginx = "BOOKBRIDGE_NGINX"

// DefaultClient is the client name of the key Start makes when Options
// lists none.
const DefaultClient = "salesforce"

// RequireNginx returns the nginx binary, or skips t (fails it under
// BOOKBRIDGE_REQUIRE_E2E=1) when there is none.
func RequireNginx(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv(EnvNginx), "nginx", "/usr/sbin/nginx"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "NGINX NOT INSTALLED: the gateway tests need Debian's nginx (apt-get install nginx) or " + EnvNginx
	if os.Getenv(EnvRequireE2E) == "1" {
		t.Fatalf("%s; %s=1 forbids skipping", msg, EnvRequireE2E)
	}
	fmt.Fprintln(os.Stderr, "!!! SKIPPING:", msg)
	t.Skip("SKIPPED: " + msg)
	return ""
}

// NewKey returns a fresh random API key: 64 hexadecimal characters.
func NewKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// FreeLoopbackAddr returns 127.0.0.1:PORT with a port that was free a
// moment ago.
func FreeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Options describe the gateway a test wants. Zero fields take defaults.
type Options struct {
	// Upstream is the address the gateway forwards to, host:port. Required.
	Upstream string
	// Keys maps API keys to client names; default one NewKey for
	// DefaultClient.
	Keys map[string]string
	// Allow lists the client addresses or CIDR prefixes accepted; default
	// 127.0.0.1/32.
	Allow []string
	// Rate and Burst set the per-key rate limit (see gateway.Config).
	Rate  string
	Burst int
	// MaxBodySize overrides gateway.DefaultMaxBodySize.
	MaxBodySize string
	// TLS serves HTTPS with a fresh self-signed certificate for 127.0.0.1.
	TLS bool
}

// Gateway is a running gateway for a test.
type Gateway struct {
	*gateway.Gateway
	// Key is an accepted API key: the one Start made, or the first key of
	// Options.Keys in sorted order.
	Key string
	// Client talks to the gateway; with TLS it trusts the test certificate.
	Client *http.Client
	// Dir holds the configuration, logs and certificate.
	Dir string
}

// Start renders the gateway into a temporary directory and runs nginx on a
// free loopback port in front of opts.Upstream. It is stopped, and its
// error log shown on failure, when t ends.
func Start(t testing.TB, opts Options) *Gateway {
	t.Helper()
	nginx := RequireNginx(t)
	if opts.Upstream == "" {
		t.Fatal("gatewaytest: Options.Upstream is required")
	}
	dir := t.TempDir()
	confDir := filepath.Join(dir, "conf")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}

	keys := opts.Keys
	if len(keys) == 0 {
		keys = map[string]string{NewKey(t): DefaultClient}
	}
	firstKey := ""
	for k := range keys {
		if firstKey == "" || k < firstKey {
			firstKey = k
		}
	}
	if err := gateway.WriteKeys(filepath.Join(confDir, "api-keys.map"), keys); err != nil {
		t.Fatal(err)
	}
	allow := opts.Allow
	if len(allow) == 0 {
		allow = []string{"127.0.0.1/32"}
	}
	if err := gateway.WriteAllowlist(filepath.Join(confDir, "allowlist.conf"), allow); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: 30 * time.Second}
	cfg := gateway.Config{
		Upstream:    opts.Upstream,
		ConfDir:     confDir,
		RuntimeDir:  filepath.Join(dir, "run"),
		Rate:        opts.Rate,
		Burst:       opts.Burst,
		MaxBodySize: opts.MaxBodySize,
	}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		// As root, nginx would run its workers as "nobody", who cannot
		// write to the test's temporary directory.
		cfg.User = "root"
	}
	if opts.TLS {
		var pool *x509.CertPool
		cfg.TLS, pool = selfSignedCert(t, dir)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}

	var g *gateway.Gateway
	var err error
	for try := 0; try < 3; try++ { // another test may take the free port first
		cfg.Listen = FreeLoopbackAddr(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		g, err = gateway.Start(ctx, nginx, cfg)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := g.Stop(ctx); err != nil {
			t.Errorf("gatewaytest: %v", err)
		}
		if t.Failed() {
			t.Logf("nginx error log:\n%s\nnginx access log:\n%s", g.ErrorLog(), g.AccessLog())
		}
	})
	return &Gateway{Gateway: g, Key: firstKey, Client: client, Dir: dir}
}

// ClientFrom returns an HTTP client whose connections start from the
// loopback address source (such as 127.0.0.2), to play a client that is
// not on the allowlist.
func ClientFrom(source string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 10 * time.Second}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: dialer.DialContext},
	}
}

// selfSignedCert writes a certificate and key for 127.0.0.1 into dir and
// returns the gateway's TLS settings and a pool that trusts the certificate.
func selfSignedCert(t testing.TB, dir string) (*gateway.TLS, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "bookbridge gateway test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(dir, "gateway.crt")
	keyPath := filepath.Join(dir, "gateway.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &gateway.TLS{Certificate: certPath, CertificateKey: keyPath}, pool
}
