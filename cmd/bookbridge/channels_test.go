package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/smtp"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// startMemIMAP serves go-imap's in-memory server on loopback with a PH
// mailbox holding the given messages.
func startMemIMAP(t *testing.T, messages ...[]byte) (addr string, user *imapmemserver.User) {
	t.Helper()
	mem := imapmemserver.New()
	user = imapmemserver.NewUser("ph", "secret")
	for _, f := range []string{"INBOX", "Processed", "Quarantine"} {
		if err := user.Create(f, nil); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := imapclient.DialInsecure(l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("ph", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	for _, raw := range messages {
		cmd := c.Append("INBOX", int64(len(raw)), nil)
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	return l.Addr().String(), user
}

func folderCount(t *testing.T, addr, folder string) uint32 {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("ph", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	d, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return *d.NumMessages
}

// TestMailChannelsInServe runs the server with its SMTP receiver and IMAP
// polling configured: a PH email arriving by either channel is stored and
// joined to its deal by a job; other mail is refused (SMTP 550) or filed in
// the quarantine folder (IMAP).
func TestMailChannelsInServe(t *testing.T) {
	email := must(os.ReadFile(exampleEmail))
	first := must(os.ReadFile("../../examples/emails/ph-email-first.eml"))
	notPH := []byte("From: a@example.com\r\nTo: ph@example.com\r\nSubject: Lunch?\r\nMessage-ID: <lunch@example.com>\r\n\r\nNoon?\r\n")
	imapAddr, _ := startMemIMAP(t, first, notPH)
	e := startTestServer(t, dbtest.SQLiteURL(t), map[string]string{
		"BOOKBRIDGE_SMTP_LISTEN":        "127.0.0.1:0",
		"BOOKBRIDGE_IMAP_ADDR":          imapAddr,
		"BOOKBRIDGE_IMAP_TLS":           "none",
		"BOOKBRIDGE_IMAP_USER":          "ph",
		"BOOKBRIDGE_IMAP_PASSWORD":      "secret",
		"BOOKBRIDGE_IMAP_POLL_INTERVAL": "1s",
	})
	if e.p.SMTP == "" {
		t.Fatal("the SMTP receiver did not start")
	}
	ctx := context.Background()
	// The deal first, then its PH email over SMTP.
	if code := e.do("POST", "/api/v1/deals", e.intake, "application/json", must(os.ReadFile(examplePayload)), nil); code != 201 {
		t.Fatalf("deal: %d", code)
	}
	if err := smtp.SendMail(e.p.SMTP, nil, "noreply@ph.example.com", []string{"ph@bookbridge.example"}, email); err != nil {
		t.Fatalf("SMTP: %v", err)
	}
	err := smtp.SendMail(e.p.SMTP, nil, "a@example.com", []string{"ph@bookbridge.example"}, notPH)
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("a non-PH email over SMTP: want a 550 refusal, got %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		page, err := e.p.App.Store.List(ctx, staging.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		states := map[staging.State]int{}
		for _, r := range page.Records {
			states[r.State]++
		}
		// ready: the SMTP email joined the deal; waiting_for_payload: the
		// IMAP email whose deal has not come yet.
		if states[staging.StateReady] == 1 && states[staging.StateWaitingForPayload] == 1 && len(page.Records) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records after 60s: %v", states)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for time.Now().Before(deadline) && folderCount(t, imapAddr, "INBOX") != 0 {
		time.Sleep(100 * time.Millisecond)
	}
	if n := folderCount(t, imapAddr, "Processed"); n != 1 {
		t.Errorf("Processed holds %d messages, want 1", n)
	}
	if n := folderCount(t, imapAddr, "Quarantine"); n != 1 {
		t.Errorf("Quarantine holds %d messages, want the non-PH one", n)
	}
}

// BOOKBRIDGE_IMAP_ONLY_UNSEEN=true leaves read messages in the folder and
// handles the unread ones.
func TestIMAPOnlyUnseen(t *testing.T) {
	first := must(os.ReadFile("../../examples/emails/ph-email-first.eml"))
	imapAddr, _ := startMemIMAP(t, first)
	// A second PH email, already read by a person.
	seen := []byte(strings.Replace(string(must(os.ReadFile(exampleEmail))), "Message-ID: <", "Message-ID: <seen-", 1))
	c, err := imapclient.DialInsecure(imapAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("ph", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	cmd := c.Append("INBOX", int64(len(seen)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	cmd.Write(seen)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()

	startTestServer(t, dbtest.SQLiteURL(t), map[string]string{
		"BOOKBRIDGE_IMAP_ADDR":          imapAddr,
		"BOOKBRIDGE_IMAP_TLS":           "none",
		"BOOKBRIDGE_IMAP_USER":          "ph",
		"BOOKBRIDGE_IMAP_PASSWORD":      "secret",
		"BOOKBRIDGE_IMAP_POLL_INTERVAL": "1s",
		"BOOKBRIDGE_IMAP_ONLY_UNSEEN":   "true",
	})
	deadline := time.Now().Add(60 * time.Second)
	for folderCount(t, imapAddr, "Processed") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the unread email was not handled in 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Further polls (one a second) leave the read one where it is.
	time.Sleep(2500 * time.Millisecond)
	if in, done := folderCount(t, imapAddr, "INBOX"), folderCount(t, imapAddr, "Processed"); in != 1 || done != 1 {
		t.Fatalf("INBOX %d, Processed %d; want the read email left in INBOX", in, done)
	}
}
