package phmail

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// Defaults of [Limits].
const (
	DefaultMaxMessageBytes    = 25 << 20  // 25 MiB: a large contract PDF, base64-encoded, with room
	DefaultMaxHeaderBytes     = 256 << 10 // 256 KiB for one header block (long Received chains fit)
	DefaultMaxDepth           = 8         // multipart nesting; PH mail uses 2 or 3
	DefaultMaxParts           = 100       // MIME parts in the whole message
	DefaultMaxAttachmentBytes = 20 << 20  // 20 MiB per decoded attachment
	DefaultMaxDecodedBytes    = 32 << 20  // 32 MiB for all decoded parts of a message together
	DefaultMaxPDFs            = 10        // PDFs checked in one message
	DefaultPDFCheckMemory     = 256 << 20 // 256 MiB of memory for one PDF check
	DefaultPDFCheckTimeout    = 10 * time.Second
	DefaultMaxPDFCheckTime    = 15 * time.Second
	DefaultPDFChecksAtOnce    = 1 // PDF checks running at once in one Parser
)

// Limits bound what a message may cost to parse. Zero fields take their
// defaults. A message past one of the message limits fails with a
// *LimitError naming it; a PDF past one of the PDF check limits is kept
// with Usable=false and a warning that starts "could not be checked:".
type Limits struct {
	MaxMessageBytes    int64 // raw message size; default DefaultMaxMessageBytes
	MaxHeaderBytes     int64 // each header block (message or part); default DefaultMaxHeaderBytes
	MaxDepth           int   // multipart nesting, the message itself at 0; default DefaultMaxDepth
	MaxParts           int   // MIME parts, the message itself included; default DefaultMaxParts
	MaxAttachmentBytes int64 // each decoded attachment; default DefaultMaxAttachmentBytes
	MaxDecodedBytes    int64 // all decoded parts (bodies and files) together; default DefaultMaxDecodedBytes

	// MaxPDFs is how many PDFs of one message are checked; the files past
	// it are not usable. Default DefaultMaxPDFs.
	MaxPDFs int
	// PDFCheckMemory bounds the memory one PDF check may use: pdfcpu's
	// resource limits are set from it, and a file with a compressed stream
	// that decodes to more than an eighth of it, or with compressed streams
	// that decode to more than a quarter of it together, is not checked
	// (not usable). Default DefaultPDFCheckMemory.
	PDFCheckMemory int64
	// PDFCheckTimeout bounds the time of one PDF check; a file whose check
	// runs out of time is not usable. Default DefaultPDFCheckTimeout.
	PDFCheckTimeout time.Duration
	// MaxPDFCheckTime bounds the PDF checks of one message together,
	// waits for a turn included; the PDFs not checked by then are not
	// usable. Keep it below the time a caller gives one message (the
	// reference server's job time limit). Default DefaultMaxPDFCheckTime.
	MaxPDFCheckTime time.Duration
	// PDFChecksAtOnce bounds the PDF checks running at once in one Parser
	// (a check that ran out of time counts until pdfcpu has really
	// stopped); a check that waits longer than PDFCheckTimeout for its turn
	// makes the file unusable. Default DefaultPDFChecksAtOnce.
	PDFChecksAtOnce int
}

// WithDefaults returns l with every zero field at its default.
func (l Limits) WithDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxMessageBytes, DefaultMaxMessageBytes)
	def(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	defInt(&l.MaxDepth, DefaultMaxDepth)
	defInt(&l.MaxParts, DefaultMaxParts)
	def(&l.MaxAttachmentBytes, DefaultMaxAttachmentBytes)
	def(&l.MaxDecodedBytes, DefaultMaxDecodedBytes)
	defInt(&l.MaxPDFs, DefaultMaxPDFs)
	def(&l.PDFCheckMemory, DefaultPDFCheckMemory)
	if l.PDFCheckTimeout <= 0 {
		l.PDFCheckTimeout = DefaultPDFCheckTimeout
	}
	if l.MaxPDFCheckTime <= 0 {
		l.MaxPDFCheckTime = DefaultMaxPDFCheckTime
	}
	defInt(&l.PDFChecksAtOnce, DefaultPDFChecksAtOnce)
	return l
}

// Validate reports every problem of l (after WithDefaults) at once.
func (l Limits) Validate() error {
	var errs []error
	if l.PDFCheckMemory < 16<<20 {
		errs = append(errs, errors.New("phmail.Limits.PDFCheckMemory: at least 16 MiB (16777216); a PDF check needs room to read a contract"))
	}
	if l.MaxDecodedBytes < l.MaxAttachmentBytes {
		errs = append(errs, errors.New("phmail.Limits.MaxDecodedBytes: must be at least MaxAttachmentBytes, or no message could carry a file of the largest size"))
	}
	return errors.Join(errs...)
}

// leniencyFactor bounds the conservative counts of checkStructure relative
// to the configured limits (see there).
const leniencyFactor = 4

// checkStructure enforces the size, header, depth and part limits before
// enmime parses raw, because enmime follows any nesting it is given.
//
// It walks the MIME tree with go-message, streaming and iteratively, and
// stops at the first limit passed; header blocks are measured as they are
// read. The multipart decision uses enmime's own media-type parser, so the
// walk descends wherever enmime would. enmime's boundary reading is more
// lenient than go-message's, though, so a last bound needs no MIME reader at
// all: every part enmime can find begins on a line starting with "--", and
// every level of nesting needs a header that mentions "boundary". Those
// counts may not exceed leniencyFactor times the limits.
func checkStructure(raw []byte, lim Limits) error {
	if n := int64(len(raw)); n > lim.MaxMessageBytes {
		return &LimitError{Limit: LimitMessageSize, Max: lim.MaxMessageBytes, Got: n}
	}
	if n := headerBlockSize(raw); n > lim.MaxHeaderBytes {
		return &LimitError{Limit: LimitHeaderSize, Max: lim.MaxHeaderBytes, Got: n, Detail: "message header"}
	}
	if err := walkStructure(raw, lim); err != nil {
		return err
	}
	if n := int64(countLinesWithPrefix(raw, "--")) + 1; n > int64(lim.MaxParts)*leniencyFactor {
		return &LimitError{Limit: LimitParts, Max: int64(lim.MaxParts), Got: n,
			Detail: "counted as lines that could start a part, which may be at most 4 times the limit"}
	}
	if n := int64(countFold(raw, "boundary")); n > int64(lim.MaxDepth)*leniencyFactor {
		return &LimitError{Limit: LimitDepth, Max: int64(lim.MaxDepth), Got: n,
			Detail: "counted as mentions of a boundary parameter, which may be at most 4 times the limit"}
	}
	return nil
}

// headerBlockSize is the length of raw's header block up to the blank line
// that ends it (or all of raw when none does).
func headerBlockSize(raw []byte) int64 {
	lf := bytes.Index(raw, []byte("\n\n"))
	crlf := bytes.Index(raw, []byte("\n\r\n"))
	switch {
	case lf < 0 && crlf < 0:
		return int64(len(raw))
	case lf < 0:
		return int64(crlf)
	case crlf < 0:
		return int64(lf)
	default:
		return int64(min(lf, crlf))
	}
}

func walkStructure(raw []byte, lim Limits) error {
	root, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: lim.MaxHeaderBytes})
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		if strings.Contains(err.Error(), "header exceeds maximum size") {
			return &LimitError{Limit: LimitHeaderSize, Max: lim.MaxHeaderBytes, Got: lim.MaxHeaderBytes + 1, Detail: "message header"}
		}
		// The header is unreadable to go-message; enmime is more forgiving
		// and will say what it finds. The raw bounds still apply.
		return nil
	}
	parts := 1
	type level struct{ mr *textproto.MultipartReader }
	var stack []level
	if mr := multipartOf(root.Header); mr != "" {
		stack = append(stack, level{textproto.NewMultipartReader(root.Body, mr)})
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		p, err := top.mr.NextPart()
		if err != nil {
			// io.EOF ends this level; a broken level ends it too (enmime
			// decides how to read it, within the raw bounds).
			stack = stack[:len(stack)-1]
			continue
		}
		parts++
		if parts > lim.MaxParts {
			return &LimitError{Limit: LimitParts, Max: int64(lim.MaxParts), Got: int64(parts)}
		}
		if n := headerSize(p.Header); n > lim.MaxHeaderBytes {
			return &LimitError{Limit: LimitHeaderSize, Max: lim.MaxHeaderBytes, Got: n, Detail: "part header"}
		}
		if b := multipartOf(message.Header{Header: p.Header}); b != "" {
			if len(stack)+1 > lim.MaxDepth {
				return &LimitError{Limit: LimitDepth, Max: int64(lim.MaxDepth), Got: int64(len(stack) + 1)}
			}
			stack = append(stack, level{textproto.NewMultipartReader(p, b)})
			continue
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			stack = stack[:len(stack)-1]
		}
	}
	return nil
}

// multipartOf returns the boundary when enmime would read the entity as
// multipart: a boundary parameter on anything but a text body.
func multipartOf(h message.Header) string {
	mtype, params, _, err := mediatype.Parse(h.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return ""
	}
	if mtype == "text/plain" || mtype == "text/html" {
		return ""
	}
	return params["boundary"]
}

func headerSize(h textproto.Header) int64 {
	var n int64
	fields := h.Fields()
	for fields.Next() {
		raw, err := fields.Raw()
		if err != nil {
			n += int64(len(fields.Key()) + len(fields.Value()) + 4)
			continue
		}
		n += int64(len(raw))
	}
	return n
}

func countLinesWithPrefix(raw []byte, prefix string) int {
	n := 0
	if bytes.HasPrefix(raw, []byte(prefix)) {
		n++
	}
	n += bytes.Count(raw, []byte("\n"+prefix))
	return n
}

// countFold counts the case-insensitive occurrences of the ASCII word w.
func countFold(raw []byte, w string) int {
	n := 0
	first := w[0]
	for i := 0; i+len(w) <= len(raw); i++ {
		c := raw[i] | 0x20
		if c != first {
			continue
		}
		if bytes.EqualFold(raw[i:i+len(w)], []byte(w)) {
			n++
			i += len(w) - 1
		}
	}
	return n
}

var errEmpty = errors.New("the message is empty")
