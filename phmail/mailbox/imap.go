package mailbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bookbridge/bookbridge/phmail"
)

// Security modes of an IMAP connection.
const (
	IMAPTLS      = "tls"      // implicit TLS (port 993)
	IMAPStartTLS = "starttls" // STARTTLS on the plain port
	IMAPInsecure = "insecure" // no TLS: loopback tests only
)

// Headers the poller adds to the copy it puts in the quarantine folder.
const (
	HeaderQuarantineReason = "X-Bookbridge-Quarantine-Reason"
	HeaderContentSHA256    = "X-Bookbridge-Content-Sha256"
)

// IMAPConfig configures an IMAPPoller. Zero fields take the defaults named
// in their comments.
type IMAPConfig struct {
	// Addr is host:port of the IMAP server.
	Addr string
	// Security is IMAPTLS (default), IMAPStartTLS or IMAPInsecure.
	Security string
	// TLSConfig for IMAPTLS and IMAPStartTLS; nil uses the system roots.
	TLSConfig *tls.Config
	// Username and Password log in (LOGIN).
	Username, Password string
	// Folder is read for new messages. Default "INBOX".
	Folder string
	// ProcessedFolder receives handled messages. Default "Processed".
	ProcessedFolder string
	// QuarantineFolder receives rejected messages, each with the reason in
	// an X-Bookbridge-Quarantine-Reason header. Default "Quarantine".
	QuarantineFolder string
	// OnlyUnseen reads only messages without \Seen. By default every
	// message in Folder counts, since handled ones leave it: a person who
	// opens a PH email in a mail client must not make bookbridge skip it.
	OnlyUnseen bool
	// PollInterval is the time between polls, and the longest IDLE.
	// Default 1 minute.
	PollInterval time.Duration
	// DisableIdle polls even when the server offers IDLE.
	DisableIdle bool
	// MaxMessageBytes moves larger messages to quarantine unread.
	// Default phmail.DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// HandlerTimeout bounds one handler call. Default 2 minutes.
	HandlerTimeout time.Duration
	// ReconnectMax caps the backoff between reconnects. Default 2 minutes.
	ReconnectMax time.Duration
	// Journal, when set, is consulted before and written after each
	// message (see the package doc).
	Journal Journal
	// OnWait, when set, is called each time Run starts waiting for new
	// mail, with idle true when it waits with IDLE (for metrics and tests).
	OnWait func(idle bool)
	// Logger receives one line per message and per connection event.
	// Default slog.Default().
	Logger *slog.Logger
}

func (c IMAPConfig) withDefaults() IMAPConfig {
	if c.Security == "" {
		c.Security = IMAPTLS
	}
	if c.Folder == "" {
		c.Folder = "INBOX"
	}
	if c.ProcessedFolder == "" {
		c.ProcessedFolder = "Processed"
	}
	if c.QuarantineFolder == "" {
		c.QuarantineFolder = "Quarantine"
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Minute
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = phmail.DefaultMaxMessageBytes
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = 2 * time.Minute
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c IMAPConfig) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("mailbox.IMAPConfig.Addr: %q is not host:port (%v)", c.Addr, err))
	}
	switch c.Security {
	case IMAPTLS, IMAPStartTLS, IMAPInsecure:
	default:
		errs = append(errs, fmt.Errorf("mailbox.IMAPConfig.Security: %q; use %q, %q or %q", c.Security, IMAPTLS, IMAPStartTLS, IMAPInsecure))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("mailbox.IMAPConfig.Username: required"))
	}
	if c.Folder == c.ProcessedFolder || c.Folder == c.QuarantineFolder || c.ProcessedFolder == c.QuarantineFolder {
		errs = append(errs, errors.New("mailbox.IMAPConfig: Folder, ProcessedFolder and QuarantineFolder must differ"))
	}
	return errors.Join(errs...)
}

// IMAPPoller hands the messages of an IMAP folder to a Handler and files
// them away. Create it with NewIMAPPoller; run it with Run or PollOnce.
type IMAPPoller struct {
	cfg    IMAPConfig
	handle Handler
	log    *slog.Logger

	uidValidity atomic.Uint32 // of Folder, as last seen
}

// NewIMAPPoller returns a poller; its error lists every configuration
// problem.
func NewIMAPPoller(cfg IMAPConfig, h Handler) (*IMAPPoller, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("mailbox.NewIMAPPoller: the handler is nil")
	}
	return &IMAPPoller{cfg: cfg, handle: h, log: cfg.Logger.With("imap", cfg.Addr, "folder", cfg.Folder)}, nil
}

// PollStats counts what one poll did.
type PollStats struct {
	Processed, Quarantined, Skipped, Failed int
}

// Run polls until ctx ends, reconnecting with exponential backoff after any
// connection or server error. It returns nil when ctx ends.
func (p *IMAPPoller) Run(ctx context.Context) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	b.MaxInterval = p.cfg.ReconnectMax
	for {
		start := time.Now()
		err := p.session(ctx, true)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 2*p.cfg.PollInterval {
			b.Reset()
		}
		wait := b.NextBackOff()
		p.log.Warn("imap: connection lost; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// PollOnce connects, handles every message waiting in Folder and
// disconnects.
func (p *IMAPPoller) PollOnce(ctx context.Context) (PollStats, error) {
	var st PollStats
	c, _, err := p.connect(ctx, nil)
	if err != nil {
		return st, err
	}
	defer closeClient(c)
	st, err = p.poll(ctx, c)
	if err != nil {
		return st, err
	}
	return st, c.Logout().Wait()
}

// session keeps one connection: poll, wait (IDLE or timer), poll again.
func (p *IMAPPoller) session(ctx context.Context, wait bool) error {
	notify := make(chan struct{}, 1)
	c, _, err := p.connect(ctx, notify)
	if err != nil {
		return err
	}
	defer closeClient(c)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for {
		st, err := p.poll(ctx, c)
		if err != nil {
			return err
		}
		if st != (PollStats{}) {
			p.log.Info("imap: poll done", "processed", st.Processed, "quarantined", st.Quarantined, "skipped", st.Skipped, "failed", st.Failed)
		}
		if !wait {
			return nil
		}
		if err := p.wait(ctx, c, notify); err != nil {
			return err
		}
	}
}

// wait returns when new mail may be there: on an EXISTS from IDLE, or
// after PollInterval.
func (p *IMAPPoller) wait(ctx context.Context, c *imapclient.Client, notify chan struct{}) error {
	// A notification left from the poll is kept: it costs at most one empty
	// poll, while dropping it could hide a message that arrived meanwhile.
	timer := time.NewTimer(p.cfg.PollInterval)
	defer timer.Stop()
	if p.cfg.DisableIdle || !c.Caps().Has(imap.CapIdle) {
		if p.cfg.OnWait != nil {
			p.cfg.OnWait(false)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		case <-c.Closed():
			return errors.New("the server closed the connection")
		}
	}
	idle, err := c.Idle()
	if err != nil {
		return fmt.Errorf("IDLE: %w", err)
	}
	if p.cfg.OnWait != nil {
		p.cfg.OnWait(true)
	}
	select {
	case <-ctx.Done():
	case <-timer.C:
	case <-notify:
	case <-c.Closed():
	}
	if err := idle.Close(); err != nil {
		return fmt.Errorf("ending IDLE: %w", err)
	}
	if err := idle.Wait(); err != nil {
		return fmt.Errorf("IDLE: %w", err)
	}
	return ctx.Err()
}

// connect dials, logs in, makes sure the folders exist and selects Folder,
// noting a UIDVALIDITY change.
func (p *IMAPPoller) connect(ctx context.Context, notify chan struct{}) (*imapclient.Client, *imap.SelectData, error) {
	opts := &imapclient.Options{
		TLSConfig: p.cfg.TLSConfig,
		Dialer:    &net.Dialer{Timeout: 30 * time.Second},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil && notify != nil {
					select {
					case notify <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	var (
		c   *imapclient.Client
		err error
	)
	switch p.cfg.Security {
	case IMAPStartTLS:
		c, err = imapclient.DialStartTLS(p.cfg.Addr, opts)
	case IMAPTLS:
		var conn net.Conn
		d := &tls.Dialer{NetDialer: opts.Dialer, Config: p.cfg.TLSConfig}
		if conn, err = d.DialContext(ctx, "tcp", p.cfg.Addr); err == nil {
			c = imapclient.New(conn, opts)
		}
	default:
		var conn net.Conn
		if conn, err = opts.Dialer.DialContext(ctx, "tcp", p.cfg.Addr); err == nil {
			c = imapclient.New(conn, opts)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", p.cfg.Addr, err)
	}
	fail := func(what string, err error) (*imapclient.Client, *imap.SelectData, error) {
		closeClient(c)
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := c.WaitGreeting(); err != nil {
		return fail("greeting", err)
	}
	if err := c.Login(p.cfg.Username, p.cfg.Password).Wait(); err != nil {
		return fail("login as "+p.cfg.Username, err)
	}
	if err := p.ensureFolders(c); err != nil {
		return fail("folders", err)
	}
	sel, err := c.Select(p.cfg.Folder, nil).Wait()
	if err != nil {
		return fail("select "+p.cfg.Folder, err)
	}
	if old := p.uidValidity.Swap(sel.UIDValidity); old != 0 && old != sel.UIDValidity {
		p.log.Warn("imap: UIDVALIDITY changed; UIDs seen before no longer count, messages are recognised by their Message-ID",
			"old", old, "new", sel.UIDValidity)
	}
	return c, sel, nil
}

func (p *IMAPPoller) ensureFolders(c *imapclient.Client) error {
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, l := range list {
		have[l.Mailbox] = true
	}
	for _, f := range []string{p.cfg.ProcessedFolder, p.cfg.QuarantineFolder} {
		if have[f] {
			continue
		}
		if err := c.Create(f, nil).Wait(); err != nil {
			return fmt.Errorf("create %s: %w", f, err)
		}
		p.log.Info("imap: created folder", "name", f)
	}
	return nil
}

// UIDValidity returns the folder's UIDVALIDITY as last seen (0 before the
// first connection).
func (p *IMAPPoller) UIDValidity() uint32 { return p.uidValidity.Load() }

// poll handles every message waiting in the selected folder, one at a time
// so that memory holds one message.
func (p *IMAPPoller) poll(ctx context.Context, c *imapclient.Client) (PollStats, error) {
	var st PollStats
	crit := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
	if p.cfg.OnlyUnseen {
		crit.NotFlag = append(crit.NotFlag, imap.FlagSeen)
	}
	res, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return st, fmt.Errorf("search: %w", err)
	}
	for _, uid := range res.AllUIDs() {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := p.one(ctx, c, uid, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// one handles the message with uid. Its error is a connection or server
// error; the handler's errors are dealt with here.
func (p *IMAPPoller) one(ctx context.Context, c *imapclient.Client, uid imap.UID, st *PollStats) error {
	set := imap.UIDSetNum(uid)
	sizes, err := c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return fmt.Errorf("fetch size of UID %d: %w", uid, err)
	}
	if len(sizes) == 0 {
		return nil // gone meanwhile
	}
	log := p.log.With("uid", uid)
	if sizes[0].RFC822Size > p.cfg.MaxMessageBytes {
		log.Warn("imap: message too large; moving it to quarantine unread", "bytes", sizes[0].RFC822Size, "max", p.cfg.MaxMessageBytes)
		st.Quarantined++
		return p.move(c, set, p.cfg.QuarantineFolder)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return fmt.Errorf("fetch UID %d: %w", uid, err)
	}
	if len(msgs) == 0 {
		return nil
	}
	raw := msgs[0].FindBodySection(section)
	key := MessageKey(raw)
	log = log.With("key", key)

	if j := p.cfg.Journal; j != nil {
		outcome, err := j.Outcome(ctx, key)
		if err != nil {
			log.Error("imap: journal unavailable; leaving the message for the next poll", "err", err)
			st.Failed++
			return nil
		}
		switch outcome {
		case OutcomeProcessed:
			log.Info("imap: handled before (journal); moving it without handling it again")
			st.Skipped++
			return p.move(c, set, p.cfg.ProcessedFolder)
		case OutcomeQuarantined:
			log.Info("imap: quarantined before (journal); removing the original")
			st.Skipped++
			return p.remove(c, set)
		}
	}

	hctx, cancel := context.WithTimeout(ctx, p.cfg.HandlerTimeout)
	herr := p.safeHandle(hctx, raw)
	cancel()
	switch {
	case herr == nil:
		if err := p.record(ctx, key, OutcomeProcessed); err != nil {
			log.Warn("imap: could not record the outcome; a redelivery would reach the handler again", "err", err)
		}
		if err := p.move(c, set, p.cfg.ProcessedFolder); err != nil {
			return err
		}
		log.Info("imap: message handled", "to", p.cfg.ProcessedFolder)
		st.Processed++
	case IsPermanent(herr):
		if err := p.quarantine(c, raw, herr); err != nil {
			return err
		}
		if err := p.record(ctx, key, OutcomeQuarantined); err != nil {
			log.Warn("imap: could not record the outcome", "err", err)
		}
		if err := p.remove(c, set); err != nil {
			return err
		}
		log.Warn("imap: message rejected", "to", p.cfg.QuarantineFolder, "reason", herr)
		st.Quarantined++
	default:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Error("imap: handler failed; the message stays for the next poll", "err", herr)
		st.Failed++
	}
	return nil
}

func (p *IMAPPoller) safeHandle(ctx context.Context, raw []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return p.handle(ctx, raw)
}

func (p *IMAPPoller) record(ctx context.Context, key, outcome string) error {
	if p.cfg.Journal == nil {
		return nil
	}
	return p.cfg.Journal.Record(context.WithoutCancel(ctx), key, outcome)
}

// move uses MOVE where the server has it; imapclient falls back to COPY,
// STORE \Deleted and UID EXPUNGE (or EXPUNGE without UIDPLUS).
func (p *IMAPPoller) move(c *imapclient.Client, set imap.UIDSet, to string) error {
	if _, err := c.Move(set, to).Wait(); err != nil {
		return fmt.Errorf("move %v to %s: %w", set, to, err)
	}
	return nil
}

// remove deletes a message from the selected folder.
func (p *IMAPPoller) remove(c *imapclient.Client, set imap.UIDSet) error {
	flags := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(set, flags, nil).Close(); err != nil {
		return fmt.Errorf("flag %v deleted: %w", set, err)
	}
	var err error
	if c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2) {
		err = c.UIDExpunge(set).Close()
	} else {
		err = c.Expunge().Close()
	}
	if err != nil {
		return fmt.Errorf("expunge %v: %w", set, err)
	}
	return nil
}

// quarantine appends raw, with the reason and content hash in headers, to
// the quarantine folder.
func (p *IMAPPoller) quarantine(c *imapclient.Client, raw []byte, reason error) error {
	annotated := annotate(raw, reason)
	cmd := c.Append(p.cfg.QuarantineFolder, int64(len(annotated)), nil)
	if _, err := cmd.Write(annotated); err != nil {
		cmd.Close()
		return fmt.Errorf("append to %s: %w", p.cfg.QuarantineFolder, err)
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("append to %s: %w", p.cfg.QuarantineFolder, err)
	}
	if _, err := cmd.Wait(); err != nil {
		return fmt.Errorf("append to %s: %w", p.cfg.QuarantineFolder, err)
	}
	return nil
}

// annotate prepends the quarantine headers to raw, in raw's line ending.
func annotate(raw []byte, reason error) []byte {
	eol := "\r\n"
	if i := bytes.IndexByte(raw, '\n'); i > 0 && raw[i-1] != '\r' {
		eol = "\n"
	}
	sum := sha256.Sum256(raw)
	r := oneLine(reason.Error(), 600)
	enc := mime.QEncoding.Encode("utf-8", r)
	var b bytes.Buffer
	b.WriteString(HeaderQuarantineReason + ":")
	col := len(HeaderQuarantineReason) + 1
	for _, w := range strings.Fields(enc) {
		if col+1+len(w) > 76 && col > 1 {
			b.WriteString(eol)
			col = 0
		}
		b.WriteString(" " + w)
		col += 1 + len(w)
	}
	b.WriteString(eol + HeaderContentSHA256 + ": " + hex.EncodeToString(sum[:]) + eol)
	b.Write(raw)
	return b.Bytes()
}

func closeClient(c *imapclient.Client) {
	if c != nil {
		c.Close()
	}
}
