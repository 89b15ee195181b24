package phmail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jhillyerd/enmime/v2"
)

// Parser parses PH emails with one configuration. It is safe for concurrent
// use. Create it with NewParser.
type Parser struct {
	cfg          Config
	limits       Limits
	pdfTimeout   time.Duration // from WithPDFCheckTimeout; 0: Limits.PDFCheckTimeout
	pdf          *pdfChecker
	skipPDFCheck bool
	subjectRE    *regexp.Regexp
	matchers     []*labelMatcher
	mime         *enmime.Parser
}

// Option configures a Parser.
type Option func(*Parser)

// WithConfig sets the PH template (labels, subject, required fields).
// Unset fields keep their defaults.
func WithConfig(c Config) Option { return func(p *Parser) { p.cfg = c } }

// WithLimits sets the size and structure limits. Zero fields keep their
// defaults.
func WithLimits(l Limits) Option { return func(p *Parser) { p.limits = l } }

// WithPDFCheckTimeout bounds the check of each PDF, as
// Limits.PDFCheckTimeout does, over whatever WithLimits sets. A PDF whose
// check runs out of time is not usable.
func WithPDFCheckTimeout(d time.Duration) Option { return func(p *Parser) { p.pdfTimeout = d } }

// WithoutPDFCheck turns the pdfcpu check off: PDFs are then usable when they
// carry the PDF signature. Meant for tools that only read fields.
func WithoutPDFCheck() Option { return func(p *Parser) { p.skipPDFCheck = true } }

// NewParser returns a Parser with the given options; its error lists every
// problem of the configuration.
func NewParser(opts ...Option) (*Parser, error) {
	p := &Parser{}
	for _, o := range opts {
		o(p)
	}
	p.cfg = p.cfg.WithDefaults()
	if p.pdfTimeout > 0 {
		p.limits.PDFCheckTimeout = p.pdfTimeout
	}
	p.limits = p.limits.WithDefaults()
	if err := errors.Join(p.cfg.Validate(), p.limits.Validate()); err != nil {
		return nil, err
	}
	p.pdf = newPDFChecker(p.limits)
	p.subjectRE = regexp.MustCompile(p.cfg.SubjectPattern)
	for _, field := range dataFields {
		for _, l := range p.cfg.Labels[field] {
			m, err := compileLabel(field, l)
			if err != nil {
				return nil, fmt.Errorf("phmail.Config.Labels[%q]: %v", field, err)
			}
			p.matchers = append(p.matchers, m)
		}
	}
	p.mime = enmime.NewParser(
		enmime.SkipMalformedParts(true),
		enmime.DisableCharacterDetection(true),
		enmime.DisableTextConversion(true),
		enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
		enmime.MaxStoredPartErrors(20),
	)
	return p, nil
}

var defaultParser = func() *Parser {
	p, err := NewParser()
	if err != nil {
		panic(err)
	}
	return p
}()

// Parse parses raw with the default Parser.
func Parse(raw []byte) (*Message, error) { return defaultParser.Parse(raw) }

// ParseContext parses raw with the default Parser (see Parser.ParseContext).
func ParseContext(ctx context.Context, raw []byte) (*Message, error) {
	return defaultParser.ParseContext(ctx, raw)
}

// maxHTMLTokens bounds the HTML walk of one body.
const maxHTMLTokens = 200_000

// Parse reads one raw message. It returns the Message, or an error:
// ErrNotPH, *MissingFieldsError, *LimitError or *MalformedError. With
// ErrNotPH and *MissingFieldsError the Message is returned as well, holding
// what could be read (for logs and quarantine).
func (p *Parser) Parse(raw []byte) (*Message, error) {
	return p.ParseContext(context.Background(), raw)
}

// ParseContext is Parse with a context that bounds the PDF checks besides
// Limits.MaxPDFCheckTime: the PDFs not checked when ctx ends are not usable
// ("could not be checked"). It never fails because of ctx.
func (p *Parser) ParseContext(ctx context.Context, raw []byte) (*Message, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, &MalformedError{Err: errEmpty}
	}
	if err := checkStructure(raw, p.limits); err != nil {
		return nil, err
	}
	env, err := p.mime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return nil, &MalformedError{Err: fmt.Errorf("%v; the message is not valid MIME", err)}
	}
	if err := checkTree(env.Root, p.limits); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	m := &Message{ContentHash: hex.EncodeToString(sum[:]), Size: len(raw), Attachments: []Attachment{}, Warnings: []string{}}
	p.readHeaders(env, m)
	for _, e := range env.Errors {
		if e.Name == enmime.ErrorPlainTextFromHTML {
			continue // said below when the HTML body is used
		}
		m.Warnings = append(m.Warnings, "MIME: "+oneLine(e.Error()))
	}

	subject := strings.Join(strings.Fields(stripReplyPrefixes(m.Subject, p.cfg.ReplyPrefixes)), " ")
	if !isPHSubject(subject, p.cfg.SubjectPrefix) {
		return m, ErrNotPH
	}
	p.readSubject(subject, m)
	p.readBody(env, m)
	p.normalize(m)

	atts, err := p.attachments(ctx, fileParts(env))
	if err != nil {
		return nil, err
	}
	if atts != nil {
		m.Attachments = atts
	}
	if len(m.UsablePDFs()) == 0 {
		m.Warnings = append(m.Warnings, "no usable PDF attached: the contract is missing")
	}
	if err := p.checkRequired(m); err != nil {
		return m, err
	}
	return m, nil
}

// checkTree re-checks depth and part count on the tree enmime built, and
// bounds the decoded size of all its parts together.
func checkTree(root *enmime.Part, lim Limits) error {
	parts := 0
	var decoded int64
	var walk func(p *enmime.Part, depth int) error
	walk = func(p *enmime.Part, depth int) error {
		for ; p != nil; p = p.NextSibling {
			parts++
			if parts > lim.MaxParts {
				return &LimitError{Limit: LimitParts, Max: int64(lim.MaxParts), Got: int64(parts)}
			}
			if depth > lim.MaxDepth {
				return &LimitError{Limit: LimitDepth, Max: int64(lim.MaxDepth), Got: int64(depth)}
			}
			if decoded += int64(len(p.Content)); decoded > lim.MaxDecodedBytes {
				return &LimitError{Limit: LimitDecodedSize, Max: lim.MaxDecodedBytes, Got: decoded, Detail: "all parts together"}
			}
			if err := walk(p.FirstChild, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root, 0)
}

func (p *Parser) readHeaders(env *enmime.Envelope, m *Message) {
	m.MessageID = strings.TrimSpace(strings.Trim(strings.TrimSpace(env.GetHeader("Message-ID")), "<>"))
	m.Subject = strings.TrimSpace(env.GetHeader("Subject"))
	if addrs, err := env.AddressList("From"); err == nil && len(addrs) > 0 {
		m.From = addrs[0].Address
	} else if from := strings.TrimSpace(env.GetHeader("From")); from != "" {
		m.From = from
		m.Warnings = append(m.Warnings, fmt.Sprintf("From header %q is not a valid address", from))
	}
	switch d, err := env.Date(); {
	case err == nil:
		m.Date = d
	case env.GetHeader("Date") == "":
		m.Warnings = append(m.Warnings, "no Date header")
	default:
		m.Warnings = append(m.Warnings, fmt.Sprintf("Date header %q is unreadable", env.GetHeader("Date")))
	}
	if m.MessageID == "" {
		m.Warnings = append(m.Warnings, "no Message-ID header: use the content hash to recognise repeats")
	}
}

// readSubject applies the subject pattern; its named groups are fields.
func (p *Parser) readSubject(subject string, m *Message) {
	sub := p.subjectRE.FindStringSubmatch(subject)
	if sub == nil {
		m.Warnings = append(m.Warnings, fmt.Sprintf("subject %q does not match the PH subject pattern", subject))
		return
	}
	for i, name := range p.subjectRE.SubexpNames() {
		if f := m.field(name); f != nil && i < len(sub) {
			*f = strings.TrimSpace(sub[i])
		}
	}
}

// readBody fills the labelled fields from the plain-text body and, for
// fields it lacks, from the HTML body's structure.
func (p *Parser) readBody(env *enmime.Envelope, m *Message) {
	var sources [][]string
	if strings.TrimSpace(env.Text) != "" {
		sources = append(sources, normalizeLines(env.Text))
	}
	if strings.TrimSpace(env.HTML) != "" {
		sources = append(sources, normalizeLines(strings.Join(htmlLines(env.HTML, maxHTMLTokens), "\n")))
	}
	for i, lines := range sources {
		ex := p.extractLabels(lines)
		filled := false
		for k, v := range ex.values {
			if f := m.field(k); f != nil && *f == "" {
				*f = v
				filled = true
			}
		}
		if i == 0 || filled {
			m.Warnings = append(m.Warnings, ex.warnings...)
		}
		if filled && i == len(sources)-1 && len(sources) > 1 {
			m.Warnings = append(m.Warnings, "some fields were read from the HTML body because the plain-text body lacks them")
		}
	}
}

// normalize applies the value rules of the domain: the IMS org suffix and
// the deploy-to address.
func (p *Parser) normalize(m *Message) {
	if m.IMSOrgID != "" && len([]rune(m.IMSOrgID)) >= p.cfg.IMSOrgMinLen &&
		!strings.Contains(strings.ToLower(m.IMSOrgID), strings.ToLower(p.cfg.IMSOrgSuffix)) {
		m.IMSOrgID += p.cfg.IMSOrgSuffix
	}
	if m.DeployToEmail != "" {
		addr, ok := cleanEmail(m.DeployToEmail)
		if !ok {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s %q is not an email address", p.labelOf(FieldDeployToEmail), m.DeployToEmail))
		}
		m.DeployToEmail = addr
	}
	if m.DRNumber != "" && strings.ContainsAny(m.DRNumber, " \t") {
		m.Warnings = append(m.Warnings, fmt.Sprintf("DR number %q (the subject's last 10 characters) contains spaces", m.DRNumber))
	}
}

func (p *Parser) checkRequired(m *Message) error {
	var e MissingFieldsError
	for _, k := range p.cfg.Required {
		if f := m.field(k); f != nil && *f == "" {
			e.Fields = append(e.Fields, k)
			e.Labels = append(e.Labels, p.labelOf(k))
		}
	}
	for _, k := range dataFields {
		if f := m.field(k); f != nil && *f == "" && len(p.cfg.Labels[k]) > 0 && !slices.Contains(e.Fields, k) {
			m.Warnings = append(m.Warnings, "label "+p.labelOf(k)+" not found in the body")
		}
	}
	if len(e.Fields) > 0 {
		return &e
	}
	return nil
}
