package phmail

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"

	"github.com/emersion/go-message/charset"
)

// NotPH reports whether raw is clearly not a Provisioning Hub email: its
// header is readable and its subject, without reply or forward prefixes,
// does not start with the PH prefix. It reads only the header, so a mail
// channel can turn other mail away before storing it; Parse says the same
// (ErrNotPH) and everything else. A message NotPH cannot judge (an
// unreadable header) is left to Parse.
func (p *Parser) NotPH(raw []byte) bool {
	if len(bytes.TrimSpace(raw)) == 0 {
		return false // unreadable: Parse says so
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return false
	}
	dec := mime.WordDecoder{CharsetReader: charset.Reader}
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return false
	}
	subject = strings.Join(strings.Fields(stripReplyPrefixes(subject, p.cfg.ReplyPrefixes)), " ")
	return !isPHSubject(subject, p.cfg.SubjectPrefix)
}
