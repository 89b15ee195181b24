package mailbox_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/phmail/mailbox"
)

// dovecotConf is a complete Dovecot 2.3 configuration for one test: IMAP
// only, on a loopback port, no SSL, one passwd-file user with a Maildir,
// every path inside the test's directory.
const dovecotConf = `protocols = imap
listen = 127.0.0.1
base_dir = {{dir}}/run
state_dir = {{dir}}/state
log_path = {{dir}}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {{login}}
default_internal_user = {{internal}}
default_internal_group = {{internalgroup}}
first_valid_uid = {{uid}}
last_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {{dir}}/users
}
userdb {
  driver = passwd-file
  args = username_format=%u {{dir}}/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = {{port}}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
  }
}
`

// startDovecot runs a private Dovecot for the test and returns its address.
// As root, Dovecot's own unprivileged users run the login and mail
// processes (Dovecot refuses mail access as UID 0); otherwise everything
// runs as the current user.
func startDovecot(t *testing.T) string {
	t.Helper()
	bin := requireProgram(t, "dovecot", "dovecot-imapd")
	dir := t.TempDir()
	login, internal, mailUser := currentUser(t), currentUser(t), currentUser(t)
	if os.Geteuid() == 0 {
		login, internal, mailUser = lookupUser(t, "dovenull"), lookupUser(t, "dovecot"), lookupUser(t, "dovecot")
		// The unprivileged processes must reach the test directory.
		for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	home := filepath.Join(dir, "home", "ph")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(home, mailUser.uid, mailUser.gid); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	users := fmt.Sprintf("ph:{PLAIN}secret:%d:%d::%s::\n", mailUser.uid, mailUser.gid, home)
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{login}}", login.name, "{{internal}}", internal.name,
		"{{internalgroup}}", internal.group, "{{uid}}", strconv.Itoa(min(mailUser.uid, 1)), "{{port}}", strconv.Itoa(port)).Replace(dovecotConf)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", confPath)
	out, _ := os.Create(filepath.Join(dir, "stdout.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot.log:\n%s", logs)
		}
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		out.Close()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 200 {
		select {
		case err := <-exited:
			logs, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			so, _ := os.ReadFile(filepath.Join(dir, "stdout.log"))
			t.Fatalf("dovecot exited: %v\n%s\n%s", err, so, logs)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
	t.Fatalf("dovecot did not listen on %s:\n%s", addr, logs)
	return ""
}

type sysUser struct {
	name, group string
	uid, gid    int
}

func lookupUser(t *testing.T, name string) sysUser {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s: %v (it comes with dovecot-core)", name, err)
	}
	return toSysUser(t, u)
}

func currentUser(t *testing.T) sysUser {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return toSysUser(t, u)
}

func toSysUser(t *testing.T, u *user.User) sysUser {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return sysUser{name: u.Username, group: g.Name, uid: uid, gid: gid}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDovecotEndToEnd appends PH emails with IMAP APPEND to a real Dovecot,
// polls them, and checks where each one ended up; then a message arriving
// while the poller IDLEs, and a connection cut between handling and moving.
func TestDovecotEndToEnd(t *testing.T) {
	addr := startDovecot(t)
	tc := imapClient(t, addr, "ph", "secret")
	if !tc.Caps().Has("MOVE") || !tc.Caps().Has("IDLE") {
		t.Fatalf("dovecot capabilities: %v", tc.Caps())
	}
	appendMsg(t, tc, "INBOX", readExample(t, "ph-deal-full.eml"))
	appendMsg(t, tc, "INBOX", readFixture(t, "11-not-ph.eml"))
	appendMsg(t, tc, "INBOX", readExample(t, "ph-email-first.eml"))

	h := &phHandler{}
	journal := mailbox.NewMemoryJournal()
	p := newPoller(t, addr, h.handle, func(c *mailbox.IMAPConfig) { c.Journal = journal })
	st, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st != (mailbox.PollStats{Processed: 2, Quarantined: 1}) {
		t.Fatalf("stats %+v", st)
	}
	if got := strings.Join(subjects(t, folder(t, tc, "Processed")), " "); got != "<ph-example-4711@ph.example.com> <ph-example-9876@ph.example.com>" {
		t.Fatalf("Processed: %s", got)
	}
	q := folder(t, tc, "Quarantine")
	if len(q) != 1 || !strings.Contains(string(q[0].raw), mailbox.HeaderQuarantineReason+": phmail: not a Provisioning Hub email") {
		t.Fatalf("Quarantine: %d messages", len(q))
	}
	if len(folder(t, tc, "INBOX")) != 0 {
		t.Fatal("INBOX not empty")
	}

	t.Run("IDLE", func(t *testing.T) {
		idling := make(chan bool, 10)
		p := newPoller(t, addr, h.handle, func(c *mailbox.IMAPConfig) {
			c.PollInterval = time.Hour // only IDLE can wake it in this test
			c.Journal = journal
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
		raw := strings.Replace(string(readExample(t, "ph-deal-full.eml")), "ph-example-4711@", "ph-idle@", 1)
		appendMsg(t, tc, "INBOX", []byte(raw))
		waitFor(t, "the message to reach Processed", func() bool { return len(folder(t, tc, "Processed")) == 3 })
	})

	t.Run("crash between handling and moving", func(t *testing.T) {
		px := startProxy(t, addr)
		ih := &idempotentHandler{staged: map[string]int{}, cutAfter: px}
		p := newPoller(t, px.addr(), ih.handle, func(c *mailbox.IMAPConfig) { c.Journal = mailbox.NewMemoryJournal() })
		raw := strings.Replace(string(readExample(t, "ph-deal-full.eml")), "ph-example-4711@", "ph-crash@", 1)
		appendMsg(t, tc, "INBOX", []byte(raw))
		if _, err := p.PollOnce(context.Background()); err == nil {
			t.Fatal("the cut went unnoticed")
		}
		st, err := p.PollOnce(context.Background())
		if err != nil || st != (mailbox.PollStats{Skipped: 1}) || ih.calls != 1 {
			t.Fatalf("stats %+v (%v), handler calls %d", st, err, ih.calls)
		}
		if len(folder(t, tc, "Processed")) != 4 || len(folder(t, tc, "INBOX")) != 0 {
			t.Fatal("not filed")
		}
	})
}
