package mailbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/bookbridge/bookbridge/phmail/mailbox"
)

// startMemIMAP runs go-imap's in-memory server on a loopback port with one
// user ("ph", "secret") and the given capabilities.
func startMemIMAP(t *testing.T, caps imap.CapSet) (string, *imapmemserver.User) {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("ph", "secret")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       discardLog{},
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), user
}

type discardLog struct{}

func (discardLog) Printf(string, ...any) {}

var rev2 = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}

// imapClient is the test's own connection, for APPEND and inspection.
func imapClient(t *testing.T, addr, user, pass string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func appendMsg(t *testing.T, c *imapclient.Client, folder string, raw []byte) {
	t.Helper()
	cmd := c.Append(folder, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND to %s: %v", folder, err)
	}
}

// folder returns the messages of a folder with their flags.
type stored struct {
	raw   []byte
	flags []imap.Flag
}

func folder(t *testing.T, c *imapclient.Client, name string) []stored {
	t.Helper()
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", name, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	var set imap.SeqSet
	set.AddRange(1, sel.NumMessages)
	bufs, err := c.Fetch(set, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for _, b := range bufs {
		out = append(out, stored{raw: b.FindBodySection(section), flags: b.Flags})
	}
	return out
}

func subjects(t *testing.T, msgs []stored) []string {
	var out []string
	for _, m := range msgs {
		msg, err := mail.ReadMessage(bytes.NewReader(m.raw))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg.Header.Get("Message-Id"))
	}
	return out
}

func newPoller(t *testing.T, addr string, h mailbox.Handler, mod func(*mailbox.IMAPConfig)) *mailbox.IMAPPoller {
	t.Helper()
	cfg := mailbox.IMAPConfig{Addr: addr, Security: mailbox.IMAPInsecure, Username: "ph", Password: "secret", Logger: testLogger(t)}
	if mod != nil {
		mod(&cfg)
	}
	p, err := mailbox.NewIMAPPoller(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIMAPPollerFilesMessages(t *testing.T) {
	for _, c := range []struct {
		name string
		caps imap.CapSet
	}{
		{"MOVE", rev2},
		{"COPY and UID EXPUNGE", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}},
		{"COPY and EXPUNGE", imap.CapSet{imap.CapIMAP4rev1: {}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, _ := startMemIMAP(t, c.caps)
			tc := imapClient(t, addr, "ph", "secret")
			appendMsg(t, tc, "INBOX", readExample(t, "ph-deal-full.eml"))
			appendMsg(t, tc, "INBOX", readFixture(t, "11-not-ph.eml"))
			appendMsg(t, tc, "INBOX", readFixture(t, "12-missing-fields.eml"))
			appendMsg(t, tc, "INBOX", readExample(t, "ph-email-first.eml"))
			h := &phHandler{}
			st, err := newPoller(t, addr, h.handle, nil).PollOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st != (mailbox.PollStats{Processed: 2, Quarantined: 2}) {
				t.Fatalf("stats %+v", st)
			}
			if got := folder(t, tc, "INBOX"); len(got) != 0 {
				t.Fatalf("INBOX keeps %d messages", len(got))
			}
			processed := folder(t, tc, "Processed")
			if got := strings.Join(subjects(t, processed), " "); got != "<ph-example-4711@ph.example.com> <ph-example-9876@ph.example.com>" {
				t.Fatalf("Processed: %s", got)
			}
			if !sameLines(processed[0].raw, readExample(t, "ph-deal-full.eml")) {
				t.Fatal("the processed message is not the original")
			}
			q := folder(t, tc, "Quarantine")
			if len(q) != 2 {
				t.Fatalf("Quarantine has %d", len(q))
			}
			for i, want := range []string{"not a Provisioning Hub email", "lacks required field(s): ECC ID:"} {
				msg, err := mail.ReadMessage(bytes.NewReader(q[i].raw))
				if err != nil {
					t.Fatal(err)
				}
				reason, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get(mailbox.HeaderQuarantineReason))
				if err != nil || !strings.Contains(reason, want) || len(msg.Header.Get(mailbox.HeaderContentSHA256)) != 64 {
					t.Fatalf("quarantined message %d: reason %q (%v)", i, reason, err)
				}
			}
			if calls, acc := h.snapshot(); calls != 4 || len(acc) != 2 {
				t.Fatalf("handler calls %d, accepted %d", calls, len(acc))
			}
		})
	}
}

func TestIMAPPollerLeavesTemporaryFailures(t *testing.T) {
	addr, _ := startMemIMAP(t, rev2)
	tc := imapClient(t, addr, "ph", "secret")
	appendMsg(t, tc, "INBOX", readExample(t, "ph-deal-full.eml"))
	h := &phHandler{down: true}
	p := newPoller(t, addr, h.handle, func(c *mailbox.IMAPConfig) { c.OnlyUnseen = true })
	st, err := p.PollOnce(context.Background())
	if err != nil || st != (mailbox.PollStats{Failed: 1}) {
		t.Fatalf("stats %+v, %v", st, err)
	}
	in := folder(t, tc, "INBOX")
	if len(in) != 1 || len(in[0].flags) != 0 {
		t.Fatalf("INBOX after a temporary failure: %d messages, flags %v", len(in), in)
	}
	h.mu.Lock()
	h.down = false
	h.mu.Unlock()
	if st, err := p.PollOnce(context.Background()); err != nil || st.Processed != 1 {
		t.Fatalf("second poll %+v, %v", st, err)
	}
	if len(folder(t, tc, "Processed")) != 1 {
		t.Fatal("not processed after recovery")
	}
}

// proxy forwards loopback TCP connections and can cut them all, as a crash
// or a network failure would.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(func() { l.Close(); p.cut() })
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// idempotentHandler stages each message key once, however often it is
// called, and cuts the connection after its first success when asked.
type idempotentHandler struct {
	mu       sync.Mutex
	calls    int
	staged   map[string]int
	cutAfter *proxy
}

func (h *idempotentHandler) handle(_ context.Context, raw []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	key := mailbox.MessageKey(raw)
	if h.staged[key] == 0 && h.cutAfter != nil {
		defer h.cutAfter.cut() // the "crash": the move after handling fails
	}
	h.staged[key]++
	return nil
}

// TestIMAPPollerCrashBetweenHandlingAndMoving cuts the connection right
// after the handler succeeded, so the message stays in the folder. With a
// journal the next poll moves it without handing it over again; without
// one the handler sees it twice and must be idempotent on MessageKey.
func TestIMAPPollerCrashBetweenHandlingAndMoving(t *testing.T) {
	for _, withJournal := range []bool{true, false} {
		name := map[bool]string{true: "journal", false: "no journal"}[withJournal]
		t.Run(name, func(t *testing.T) {
			addr, _ := startMemIMAP(t, rev2)
			px := startProxy(t, addr)
			tc := imapClient(t, addr, "ph", "secret")
			appendMsg(t, tc, "INBOX", readExample(t, "ph-deal-full.eml"))
			h := &idempotentHandler{staged: map[string]int{}, cutAfter: px}
			var j mailbox.Journal
			if withJournal {
				j = mailbox.NewMemoryJournal()
			}
			p := newPoller(t, px.addr(), h.handle, func(c *mailbox.IMAPConfig) { c.Journal = j })
			if _, err := p.PollOnce(context.Background()); err == nil {
				t.Fatal("the cut connection went unnoticed")
			}
			if len(folder(t, tc, "INBOX")) != 1 || len(folder(t, tc, "Processed")) != 0 {
				t.Fatal("the message should still be in INBOX after the crash")
			}
			st, err := p.PollOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(folder(t, tc, "INBOX")) != 0 || len(folder(t, tc, "Processed")) != 1 {
				t.Fatal("not moved after reconnecting")
			}
			wantCalls, wantStats := 2, mailbox.PollStats{Processed: 1}
			if withJournal {
				wantCalls, wantStats = 1, mailbox.PollStats{Skipped: 1}
			}
			if h.calls != wantCalls || st != wantStats {
				t.Fatalf("handler calls %d (want %d), stats %+v (want %+v)", h.calls, wantCalls, st, wantStats)
			}
			if len(h.staged) != 1 {
				t.Fatalf("staged %v", h.staged)
			}
		})
	}
}

// TestIMAPPollerUIDValidityChange re-creates the polled folder (new
// UIDVALIDITY, UIDs from 1 again) holding a message that was handled but
// not moved: the journal keeps it from being handled twice.
func TestIMAPPollerUIDValidityChange(t *testing.T) {
	addr, _ := startMemIMAP(t, rev2)
	px := startProxy(t, addr)
	tc := imapClient(t, addr, "ph", "secret")
	if err := tc.Create("PH", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	full, first := readExample(t, "ph-deal-full.eml"), readExample(t, "ph-email-first.eml")
	appendMsg(t, tc, "PH", full)
	h := &idempotentHandler{staged: map[string]int{}, cutAfter: px}
	p := newPoller(t, px.addr(), h.handle, func(c *mailbox.IMAPConfig) {
		c.Folder = "PH"
		c.Journal = mailbox.NewMemoryJournal()
	})
	if _, err := p.PollOnce(context.Background()); err == nil {
		t.Fatal("the cut connection went unnoticed")
	}
	before := p.UIDValidity()
	if err := tc.Delete("PH").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := tc.Create("PH", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, tc, "PH", first)
	appendMsg(t, tc, "PH", full)
	h.cutAfter = nil
	st, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.UIDValidity() == before {
		t.Fatalf("UIDVALIDITY did not change (%d)", before)
	}
	if st != (mailbox.PollStats{Processed: 1, Skipped: 1}) || h.calls != 2 {
		t.Fatalf("stats %+v, handler calls %d", st, h.calls)
	}
	for key, n := range h.staged {
		if n != 1 {
			t.Fatalf("%s handled %d times", key, n)
		}
	}
	if len(folder(t, tc, "Processed")) != 2 || len(folder(t, tc, "PH")) != 0 {
		t.Fatal("messages not filed")
	}
}

// TestIMAPPollerIdle runs the poller with a poll interval of an hour: only
// IDLE can make it notice a message appended while it waits.
func TestIMAPPollerIdle(t *testing.T) {
	addr, _ := startMemIMAP(t, rev2)
	tc := imapClient(t, addr, "ph", "secret")
	h := &phHandler{}
	idling := make(chan bool, 10)
	p := newPoller(t, addr, h.handle, func(c *mailbox.IMAPConfig) {
		c.PollInterval = time.Hour
		c.OnWait = func(idle bool) { idling <- idle }
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if !<-idling {
		t.Fatal("the poller waits without IDLE")
	}
	appendMsg(t, tc, "INBOX", readExample(t, "ph-deal-full.eml"))
	// go-imap's memory server starts listening for a session's updates
	// only after it has answered IDLE, so an APPEND in that instant is
	// announced with the next update: the test nudges with a flag change
	// (Dovecot, in TestDovecotEndToEnd, needs no nudge).
	n := 0
	waitFor(t, "the message to reach Processed", func() bool {
		if n++; n%20 == 0 {
			if _, err := tc.Select("INBOX", nil).Wait(); err == nil {
				tc.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{"$Nudge"}}, nil).Close()
			}
		}
		return len(folder(t, tc, "Processed")) == 1
	})
	if _, acc := h.snapshot(); len(acc) != 1 {
		t.Fatalf("accepted %d", len(acc))
	}
}

// waitFor checks cond until it holds, for at most 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestIMAPConfigValidation(t *testing.T) {
	_, err := mailbox.NewIMAPPoller(mailbox.IMAPConfig{Addr: "nohost", Security: "ssl", Folder: "X", ProcessedFolder: "X"},
		func(context.Context, []byte) error { return nil })
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Addr", "Security", "Username", "must differ"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !mailbox.IsPermanent(mailbox.Reject(errors.New("x"))) || mailbox.IsPermanent(errors.New("x")) {
		t.Fatal("IsPermanent")
	}
}

// sameLines compares messages regardless of line endings (IMAP servers may
// store LF as CRLF).
func sameLines(a, b []byte) bool {
	norm := func(x []byte) []byte { return bytes.ReplaceAll(x, []byte("\r\n"), []byte("\n")) }
	return bytes.Equal(norm(a), norm(b))
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("MAILBOX_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return quietLogger()
}
