package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/textproto"
	"strings"

	"github.com/bookbridge/bookbridge/phmail"
)

// Handler processes one raw message. It returns nil when the message was
// handled (or deliberately ignored), an error that IsPermanent reports when
// the message itself is unusable, and any other error for a temporary
// failure worth retrying.
type Handler func(ctx context.Context, raw []byte) error

// RejectError marks a handler's error as a permanent rejection of the
// message: retrying will not help.
type RejectError struct {
	Err error
}

func (e *RejectError) Error() string { return "message rejected: " + e.Err.Error() }

func (e *RejectError) Unwrap() error { return e.Err }

// Reject wraps err as a permanent rejection.
func Reject(err error) error { return &RejectError{Err: err} }

// IsPermanent reports whether err rejects the message for good: a
// RejectError anywhere in its chain, or one of phmail's rejections
// (ErrNotPH, *MissingFieldsError, *LimitError, *MalformedError).
func IsPermanent(err error) bool {
	var r *RejectError
	return errors.As(err, &r) || phmail.IsRejection(err)
}

// MessageKey identifies a message for idempotency: "<message-id>" from its
// header, or "sha256:<hex>" of the raw bytes when it has no Message-ID.
func MessageKey(raw []byte) string {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	if h, err := r.ReadMIMEHeader(); err == nil || len(h) > 0 {
		if id := strings.TrimSpace(h.Get("Message-Id")); id != "" {
			if !strings.HasPrefix(id, "<") {
				id = "<" + id + ">"
			}
			return id
		}
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// oneLine shortens a reason for an SMTP reply or a header.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
