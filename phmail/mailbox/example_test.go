package mailbox_test

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/phmail/mailbox"
)

func ExampleIMAPPoller_PollOnce() {
	// An IMAP server with one PH email in INBOX (go-imap's memory server
	// stands in for the real mailbox).
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("ph", "secret")
	u.Create("INBOX", nil)
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       discardLog{},
	})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	defer srv.Close()
	raw, _ := os.ReadFile("../../examples/emails/ph-deal-full.eml")
	c, _ := imapclient.DialInsecure(l.Addr().String(), nil)
	c.Login("ph", "secret").Wait()
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	cmd.Write(raw)
	cmd.Close()
	cmd.Wait()
	c.Close()

	p, err := mailbox.NewIMAPPoller(mailbox.IMAPConfig{
		Addr: l.Addr().String(), Security: mailbox.IMAPInsecure, Username: "ph", Password: "secret",
		Journal: mailbox.NewMemoryJournal(), Logger: quietLogger(),
	}, func(ctx context.Context, raw []byte) error {
		m, err := phmail.Parse(raw)
		if err != nil {
			return err // rejected messages go to Quarantine with the reason
		}
		fmt.Println("staging", m.ECCID, m.DRNumber)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := p.PollOnce(context.Background())
	fmt.Printf("%+v %v\n", st, err)
	// Output:
	// staging 0001234567 DR00004711
	// {Processed:1 Quarantined:0 Skipped:0 Failed:0} <nil>
}
