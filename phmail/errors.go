package phmail

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotPH says that a message is not a Provisioning Hub email: its subject,
// once reply and forward prefixes are removed, does not start with the
// configured prefix. Callers usually ignore such messages quietly.
var ErrNotPH = errors.New("phmail: not a Provisioning Hub email (the subject does not start with the PH prefix)")

// MissingFieldsError lists every required field the email lacks.
type MissingFieldsError struct {
	// Fields are the missing fields' keys (such as "ecc_id", "dr_number").
	Fields []string
	// Labels name where each field was expected, in the same order
	// ("ECC ID:", "DR number (last 10 characters of the subject)").
	Labels []string
}

func (e *MissingFieldsError) Error() string {
	return fmt.Sprintf("phmail: the PH email lacks required field(s): %s; ask the Provisioning Hub to resend it with them, or adjust phmail.Config.Labels if the template changed",
		strings.Join(e.Labels, ", "))
}

// LimitError says that a message exceeds one of the parser's [Limits].
type LimitError struct {
	// Limit names the limit: one of the Limit* constants.
	Limit string
	// Max is the configured limit and Got what the message has (for
	// LimitParts and LimitDepth while scanning, at least Got).
	Max, Got int64
	// Detail says where, when that helps (an attachment's name).
	Detail string
}

// Names of the limits in [LimitError.Limit].
const (
	LimitMessageSize    = "message size"
	LimitHeaderSize     = "header size"
	LimitDepth          = "MIME depth"
	LimitParts          = "MIME part count"
	LimitAttachmentSize = "attachment size"
	LimitDecodedSize    = "decoded size"
)

func (e *LimitError) Error() string {
	msg := fmt.Sprintf("phmail: %s limit exceeded: %d > %d", e.Limit, e.Got, e.Max)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg + "; the message is refused (raise phmail.Limits only if such messages are legitimate)"
}

// MalformedError says that a message cannot be read as MIME at all.
type MalformedError struct {
	Err error
}

func (e *MalformedError) Error() string {
	return "phmail: unreadable message: " + e.Err.Error()
}

func (e *MalformedError) Unwrap() error { return e.Err }

// IsRejection reports whether err says that the message itself is unusable
// (not a PH email, missing fields, over a limit, unreadable), as opposed to
// a temporary failure worth retrying.
func IsRejection(err error) bool {
	var (
		mf *MissingFieldsError
		le *LimitError
		me *MalformedError
	)
	return errors.Is(err, ErrNotPH) || errors.As(err, &mf) || errors.As(err, &le) || errors.As(err, &me)
}
