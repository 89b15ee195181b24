package mailbox_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/phmail/mailbox"
)

// phHandler parses each message and stages nothing: it records what it
// accepted, rejects what phmail rejects, and fails temporarily while
// down is set.
type phHandler struct {
	mu       sync.Mutex
	accepted []*phmail.Message
	calls    int
	down     bool
}

func (h *phHandler) handle(_ context.Context, raw []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.down {
		return errors.New("staging database unavailable")
	}
	m, err := phmail.Parse(raw)
	if err != nil {
		return err
	}
	h.accepted = append(h.accepted, m)
	return nil
}

func (h *phHandler) snapshot() (int, []*phmail.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls, append([]*phmail.Message(nil), h.accepted...)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startSMTP runs a receiver on a free loopback port.
func startSMTP(t *testing.T, cfg mailbox.SMTPConfig, h mailbox.Handler) string {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	r, err := mailbox.NewSMTPReceiver(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// send delivers raw with net/smtp and returns the SMTP reply code of the
// failure (0 on success).
func send(t *testing.T, addr, from string, raw []byte, tlsConf *tls.Config, auth smtp.Auth) int {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tlsConf != nil {
		if err := c.StartTLS(tlsConf); err != nil {
			t.Fatalf("STARTTLS: %v", err)
		}
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return code(t, err)
		}
	}
	if err := c.Mail(from); err != nil {
		return code(t, err)
	}
	if err := c.Rcpt("bookbridge@example.com"); err != nil {
		return code(t, err)
	}
	w, err := c.Data()
	if err != nil {
		return code(t, err)
	}
	if _, err := w.Write(raw); err != nil {
		return code(t, err)
	}
	if err := w.Close(); err != nil {
		return code(t, err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
	return 0
}

func code(t *testing.T, err error) int {
	t.Helper()
	var te *textproto.Error
	if !errors.As(err, &te) {
		t.Fatalf("not an SMTP reply: %v", err)
	}
	return te.Code
}

func TestSMTPReceiverWithNetSMTP(t *testing.T) {
	h := &phHandler{}
	addr := startSMTP(t, mailbox.SMTPConfig{MaxMessageBytes: 64 << 10, AllowedSenders: []string{"ph.example.com", "ops@example.org"}}, h.handle)
	full := readExample(t, "ph-deal-full.eml")
	cases := []struct {
		name  string
		from  string
		raw   []byte
		down  bool
		code  int
		calls int
	}{
		{"accepted", "noreply@ph.example.com", full, false, 0, 1},
		{"allowed address", "OPS@example.org", full, false, 0, 1},
		{"sender refused", "mallory@evil.example", full, false, 550, 0},
		{"not a PH email: permanent", "noreply@ph.example.com", readFixture(t, "11-not-ph.eml"), false, 550, 1},
		{"missing fields: permanent", "noreply@ph.example.com", readFixture(t, "12-missing-fields.eml"), false, 550, 1},
		{"handler down: temporary", "noreply@ph.example.com", full, true, 451, 1},
		{"too large", "noreply@ph.example.com", append(full, []byte(strings.Repeat(strings.Repeat("x", 70)+"\r\n", 1000))...), false, 552, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.mu.Lock()
			h.down, h.calls = c.down, 0
			h.mu.Unlock()
			if got := send(t, addr, c.from, c.raw, nil, nil); got != c.code {
				t.Fatalf("reply %d, want %d", got, c.code)
			}
			if calls, _ := h.snapshot(); calls != c.calls {
				t.Fatalf("handler called %d times, want %d", calls, c.calls)
			}
		})
	}
	_, acc := h.snapshot()
	if len(acc) != 2 || acc[0].ECCID != "0001234567" || len(acc[0].UsablePDFs()) != 1 {
		t.Fatalf("accepted %d messages: %+v", len(acc), acc)
	}
}

func TestSMTPReceiverSTARTTLSAndAuth(t *testing.T) {
	serverTLS, pool := selfSignedTLS(t)
	h := &phHandler{}
	addr := startSMTP(t, mailbox.SMTPConfig{
		TLSConfig:  serverTLS,
		RequireTLS: true,
		Authenticate: func(_ context.Context, user, pass string) error {
			if user == "ph" && pass == "s3cret" {
				return nil
			}
			return errors.New("bad credentials")
		},
	}, h.handle)
	full := readExample(t, "ph-deal-full.eml")
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	cases := []struct {
		name string
		tls  *tls.Config
		auth smtp.Auth
		code int
	}{
		{"no TLS", nil, nil, 530},
		{"TLS, no AUTH", clientTLS, nil, 502},
		{"TLS, wrong password", clientTLS, smtp.PlainAuth("", "ph", "nope", "127.0.0.1"), 535},
		{"TLS and AUTH", clientTLS, smtp.PlainAuth("", "ph", "s3cret", "127.0.0.1"), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := send(t, addr, "noreply@ph.example.com", full, c.tls, c.auth); got != c.code {
				t.Fatalf("reply %d, want %d", got, c.code)
			}
		})
	}
	if _, acc := h.snapshot(); len(acc) != 1 {
		t.Fatalf("accepted %d", len(acc))
	}
}

func TestSMTPConfigValidation(t *testing.T) {
	_, err := mailbox.NewSMTPReceiver(mailbox.SMTPConfig{
		RequireTLS:     true,
		Authenticate:   func(context.Context, string, string) error { return nil },
		AllowedSenders: []string{"@"},
	}, func(context.Context, []byte) error { return nil })
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"RequireTLS", "Authenticate", "AllowedSenders"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

// TestSMTPReceiverWithSwaks delivers with Debian's swaks, a real SMTP
// client, in plain text and with STARTTLS and AUTH PLAIN.
func TestSMTPReceiverWithSwaks(t *testing.T) {
	swaks := requireProgram(t, "swaks", "swaks")
	serverTLS, _ := selfSignedTLS(t)
	h := &phHandler{}
	addr := startSMTP(t, mailbox.SMTPConfig{
		TLSConfig:      serverTLS,
		AllowedSenders: []string{"ph.example.com"},
		Authenticate: func(_ context.Context, user, pass string) error {
			if user == "ph" && pass == "s3cret" {
				return nil
			}
			return errors.New("bad credentials")
		},
	}, h.handle)
	host, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	file := func(name string, raw []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	full := file("full.eml", readExample(t, "ph-deal-full.eml"))
	notPH := file("notph.eml", readFixture(t, "11-not-ph.eml"))
	auth := []string{"-tls", "--auth", "PLAIN", "--auth-user", "ph", "--auth-password", "s3cret"}
	cases := []struct {
		name     string
		args     []string
		data     string
		down     bool
		exit     int
		contains string
	}{
		{"accepted", auth, full, false, 0, "250 2.0.0"},
		{"no auth", nil, full, false, 23, "<** 502 5.7.0"},
		{"wrong sender", append([]string{"--from", "x@evil.example"}, auth...), full, false, 23, "550 5.7.1"},
		{"not PH: 550", auth, notPH, false, 26, "550 5.6.0 Message rejected"},
		{"handler down: 451", auth, full, true, 26, "451 4.3.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.mu.Lock()
			h.down = c.down
			h.mu.Unlock()
			args := []string{"--server", host, "--port", port, "--from", "noreply@ph.example.com", "--to", "bookbridge@example.com",
				"--data", "@" + c.data, "--timeout", "30"}
			args = append(args, c.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 60e9)
			defer cancel()
			out, err := exec.CommandContext(ctx, swaks, args...).CombinedOutput()
			exit := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != c.exit || !strings.Contains(string(out), c.contains) {
				t.Fatalf("swaks exit %d (want %d), output lacks %q:\n%s", exit, c.exit, c.contains, out)
			}
		})
	}
	_, acc := h.snapshot()
	if len(acc) != 1 || acc[0].DRNumber != "DR00004711" || acc[0].Attachments[0].SHA256 == "" {
		t.Fatalf("accepted %d: %+v", len(acc), acc)
	}
}

func ExampleNewSMTPReceiver() {
	r, err := mailbox.NewSMTPReceiver(mailbox.SMTPConfig{
		AllowedSenders: []string{"ph.example.com"},
		Logger:         quietLogger(),
	}, func(ctx context.Context, raw []byte) error {
		m, err := phmail.Parse(raw)
		if err != nil {
			return err // phmail's rejections answer 550, anything else 451
		}
		fmt.Println("staging", m.ECCID)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Serve(ctx, l) }()

	raw, _ := os.ReadFile("../../examples/emails/ph-deal-full.eml")
	err = smtp.SendMail(l.Addr().String(), nil, "noreply@ph.example.com", []string{"bookbridge@example.com"}, raw)
	fmt.Println("send:", err)
	cancel()
	<-done
	// Output:
	// staging 0001234567
	// send: <nil>
}

// Connections over MaxConnections are answered 421 and closed; a freed slot
// takes the next connection.
func TestSMTPReceiverCapsConnections(t *testing.T) {
	addr := startSMTP(t, mailbox.SMTPConfig{MaxConnections: 2}, (&phHandler{}).handle)
	greet := func() (net.Conn, string) {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("reading the greeting: %v", err)
		}
		return c, line
	}
	a, la := greet()
	b, lb := greet()
	defer b.Close()
	if !strings.HasPrefix(la, "220 ") || !strings.HasPrefix(lb, "220 ") {
		t.Fatalf("greetings %q %q", la, lb)
	}
	over, lo := greet()
	over.Close()
	if !strings.HasPrefix(lo, "421 ") {
		t.Fatalf("third connection: %q, want 421", lo)
	}
	a.Close()
	// The slot comes back once the server has seen the close.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, l := greet()
		c.Close()
		if strings.HasPrefix(l, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a close: %q", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
