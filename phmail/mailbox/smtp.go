package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/bookbridge/bookbridge/phmail"
)

// SMTPConfig configures an SMTPReceiver. Zero fields take the defaults
// named in their comments.
type SMTPConfig struct {
	// Domain is the name the server greets with. Default "localhost".
	Domain string
	// MaxMessageBytes is the largest message accepted (SIZE, and a 552
	// reply past it). Default phmail.DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// MaxRecipients per message. Default 20.
	MaxRecipients int
	// AllowedSenders restricts the envelope sender (MAIL FROM): full
	// addresses ("ph@example.com") or domains ("example.com" or
	// "@example.com"), in any case. Empty allows every sender.
	AllowedSenders []string
	// TLSConfig turns on STARTTLS.
	TLSConfig *tls.Config
	// RequireTLS refuses MAIL before STARTTLS (needs TLSConfig).
	RequireTLS bool
	// Authenticate, when set, turns on AUTH PLAIN and makes it required; it
	// returns nil for valid credentials.
	Authenticate func(ctx context.Context, username, password string) error
	// AllowInsecureAuth allows AUTH without TLS (for loopback only).
	AllowInsecureAuth bool
	// HandlerTimeout bounds one handler call. Default 2 minutes.
	HandlerTimeout time.Duration
	// ReadTimeout and WriteTimeout bound network reads and writes.
	// Defaults 5 minutes and 1 minute.
	ReadTimeout, WriteTimeout time.Duration
	// MaxConnections caps the connections open at once. One more is
	// answered "421 try again later", which makes a mail server queue the
	// message and retry, and is closed. Default 50.
	MaxConnections int
	// Logger receives one line per message. Default slog.Default().
	Logger *slog.Logger
}

func (c SMTPConfig) withDefaults() SMTPConfig {
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = phmail.DefaultMaxMessageBytes
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = 20
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = 2 * time.Minute
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 5 * time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = time.Minute
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 50
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c SMTPConfig) validate() error {
	var errs []error
	if c.RequireTLS && c.TLSConfig == nil {
		errs = append(errs, errors.New("mailbox.SMTPConfig.RequireTLS: set TLSConfig too, or turn RequireTLS off"))
	}
	if c.Authenticate != nil && c.TLSConfig == nil && !c.AllowInsecureAuth {
		errs = append(errs, errors.New("mailbox.SMTPConfig.Authenticate: AUTH without TLS sends passwords in clear; set TLSConfig, or AllowInsecureAuth on loopback"))
	}
	for _, s := range c.AllowedSenders {
		if strings.TrimSpace(strings.TrimPrefix(s, "@")) == "" {
			errs = append(errs, fmt.Errorf("mailbox.SMTPConfig.AllowedSenders: %q is empty; give an address or a domain", s))
		}
	}
	return errors.Join(errs...)
}

// SMTPReceiver is an SMTP server that hands every message to a Handler and
// answers the sender according to the handler's result.
type SMTPReceiver struct {
	cfg     SMTPConfig
	handle  Handler
	srv     *smtp.Server
	baseCtx context.Context
	mu      sync.Mutex
}

// NewSMTPReceiver returns a receiver; its error lists every configuration
// problem.
func NewSMTPReceiver(cfg SMTPConfig, h Handler) (*SMTPReceiver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("mailbox.NewSMTPReceiver: the handler is nil")
	}
	r := &SMTPReceiver{cfg: cfg, handle: h, baseCtx: context.Background()}
	s := smtp.NewServer(r)
	s.Domain = cfg.Domain
	s.MaxMessageBytes = cfg.MaxMessageBytes
	s.MaxRecipients = cfg.MaxRecipients
	s.ReadTimeout = cfg.ReadTimeout
	s.WriteTimeout = cfg.WriteTimeout
	s.TLSConfig = cfg.TLSConfig
	s.AllowInsecureAuth = cfg.AllowInsecureAuth
	s.EnableSMTPUTF8 = true
	s.ErrorLog = slogPrinter{cfg.Logger}
	r.srv = s
	return r, nil
}

// Serve accepts connections on l until ctx ends or Shutdown is called.
// Handler calls get contexts derived from ctx.
func (r *SMTPReceiver) Serve(ctx context.Context, l net.Listener) error {
	r.mu.Lock()
	r.baseCtx = ctx
	r.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { r.srv.Close() })
	defer stop()
	err := r.srv.Serve(&capListener{Listener: l, slots: make(chan struct{}, r.cfg.MaxConnections), r: r})
	if errors.Is(err, smtp.ErrServerClosed) || ctx.Err() != nil {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits, until ctx ends, for the
// open ones to finish.
func (r *SMTPReceiver) Shutdown(ctx context.Context) error { return r.srv.Shutdown(ctx) }

// NewSession implements smtp.Backend.
func (r *SMTPReceiver) NewSession(c *smtp.Conn) (smtp.Session, error) {
	r.mu.Lock()
	ctx := r.baseCtx
	r.mu.Unlock()
	return &smtpSession{r: r, conn: c, ctx: ctx, remote: c.Conn().RemoteAddr().String()}, nil
}

type smtpSession struct {
	r      *SMTPReceiver
	conn   *smtp.Conn
	ctx    context.Context
	remote string
	authed bool
	from   string
	rcpts  []string
}

var (
	errTLSRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errSender      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender not allowed to deliver here"}
)

func (s *smtpSession) AuthMechanisms() []string {
	if s.r.cfg.Authenticate == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if s.r.cfg.Authenticate == nil || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if err := s.r.cfg.Authenticate(s.ctx, username, password); err != nil {
			s.r.cfg.Logger.Warn("smtp: authentication failed", "remote", s.remote, "user", username)
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.cfg.RequireTLS {
		if _, ok := s.conn.TLSConnectionState(); !ok {
			return errTLSRequired
		}
	}
	if s.r.cfg.Authenticate != nil && !s.authed {
		return smtp.ErrAuthRequired
	}
	if !senderAllowed(from, s.r.cfg.AllowedSenders) {
		s.r.cfg.Logger.Warn("smtp: sender refused", "remote", s.remote, "from", from)
		return errSender
	}
	s.from = from
	return nil
}

// senderAllowed applies SMTPConfig.AllowedSenders.
func senderAllowed(from string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	from = strings.ToLower(strings.TrimSpace(from))
	_, domain, _ := strings.Cut(from, "@")
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case strings.Contains(strings.TrimPrefix(a, "@"), "@"):
			if from == a {
				return true
			}
		case domain != "" && domain == strings.TrimPrefix(a, "@"):
			return true
		}
	}
	return false
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) (err error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // ErrDataTooLarge answers 552; other errors end the connection
	}
	log := s.r.cfg.Logger.With("remote", s.remote, "from", s.from, "bytes", len(raw), "key", MessageKey(raw))
	ctx, cancel := context.WithTimeout(s.ctx, s.r.cfg.HandlerTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			log.Error("smtp: handler panicked; asking the sender to retry", "panic", p)
			err = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
		}
	}()
	herr := s.r.handle(ctx, raw)
	switch {
	case herr == nil:
		log.Info("smtp: message accepted")
		return nil
	case IsPermanent(herr):
		log.Warn("smtp: message rejected", "reason", herr)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message rejected: " + asciiOnly(oneLine(herr.Error(), 300))}
	default:
		log.Error("smtp: handler failed; the sender will retry", "err", herr)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	}
}

func (s *smtpSession) Reset() {
	s.from = ""
	s.rcpts = nil
}

func (s *smtpSession) Logout() error { return nil }

// slogPrinter adapts slog to go-smtp's Logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.l.Warn("smtp: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (p slogPrinter) Println(v ...any) { p.l.Warn("smtp: " + strings.TrimSpace(fmt.Sprintln(v...))) }

// asciiOnly replaces what an SMTP reply may not carry.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// capListener hands out at most cap(slots) connections at once and
// refuses the others with a 421 reply.
type capListener struct {
	net.Listener
	slots chan struct{}
	r     *SMTPReceiver
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
		default:
			l.r.cfg.Logger.Warn("smtp: too many connections; refused one", "remote", c.RemoteAddr().String(),
				"max_connections", l.r.cfg.MaxConnections)
			go refuseConn(c, l.r.cfg.Domain)
		}
	}
}

// refuseConn tells the client to come back later and hangs up.
func refuseConn(c net.Conn, domain string) {
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "421 4.7.0 "+asciiOnly(domain)+" Too many connections, try again later\r\n")
}

// slotConn gives its slot back when it is closed.
type slotConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}
