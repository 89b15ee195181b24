package staging

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The shared keys of a PH email's fields (Email.Fields, PHData.Fields).
const (
	FieldCompanyName      = "company_name"
	FieldDRNumber         = "dr_number"
	FieldECCID            = "ecc_id"
	FieldSalesOrderNumber = "sales_order_number"
	FieldDeployToEmail    = "deploy_to_email"
	FieldTenantID         = "tenant_id"
	FieldIMSOrgID         = "ims_org_id"
	FieldTicketLink       = "ticket_link"
)

// Email is a parsed Provisioning Hub email as IngestEmail takes it. The
// parser (phmail) fills it; staging does not read MIME.
type Email struct {
	// MessageID is the Message-ID header; the same message delivered twice
	// is applied once. Without one, ContentHash identifies the message.
	MessageID string
	// ContentHash is the hex SHA-256 of Raw; empty: computed here.
	ContentHash string
	From        string
	Subject     string
	Date        time.Time
	// Fields hold the values found, under the shared keys (FieldECCID, ...).
	// An email without an ECC id is quarantined, not staged.
	Fields map[string]string
	// Raw is the whole message as received; it is kept as evidence.
	Raw []byte
	// Warnings are the parser's remarks, shown on the record.
	Warnings    []string
	Attachments []EmailAttachment
}

// EmailAttachment is a file of a PH email.
type EmailAttachment struct {
	FileName    string
	ContentType string
	Data        []byte
	// SHA256 is the hex SHA-256 of Data; empty: computed here. A value
	// that does not match Data is refused.
	SHA256   string
	Warnings []string
	// Usable is false for a file that failed the PDF check or has active
	// content: it is kept as evidence, flagged, never sent to ServiceNow.
	Usable bool
}

// keys returns the correlation keys the email states.
func (e *Email) keys() Keys {
	return Keys{
		ECCID:            strings.TrimSpace(e.Fields[FieldECCID]),
		DRNumber:         strings.TrimSpace(e.Fields[FieldDRNumber]),
		SalesOrderNumber: strings.TrimSpace(e.Fields[FieldSalesOrderNumber]),
	}
}

// check fills defaults and reports every problem at once. A missing ECC id
// is not a problem here: IngestEmail quarantines such an email.
func (e *Email) check() error {
	var problems []string
	if len(e.Raw) == 0 {
		problems = append(problems, "Raw is empty: pass the message as received, it is kept as evidence")
	}
	if e.ContentHash == "" && len(e.Raw) > 0 {
		e.ContentHash = sha256Hex(e.Raw)
	}
	e.MessageID = strings.TrimSpace(e.MessageID)
	// The caller's slice is not touched: the same Email may be ingested
	// from several goroutines.
	e.Attachments = slices.Clone(e.Attachments)
	for i := range e.Attachments {
		a := &e.Attachments[i]
		sum := sha256Hex(a.Data)
		if a.SHA256 == "" {
			a.SHA256 = sum
		} else if !strings.EqualFold(a.SHA256, sum) {
			problems = append(problems, fmt.Sprintf("attachment %d (%q): SHA256 %s does not match its bytes (%s)", i+1, a.FileName, a.SHA256, sum))
		}
		a.SHA256 = strings.ToLower(a.SHA256)
	}
	if len(problems) > 0 {
		return &InputError{What: "email", Problems: problems}
	}
	e.Fields = maps.Clone(e.Fields)
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	return nil
}

// dedupKey identifies the message: its Message-ID, else its content hash.
func (e *Email) dedupKey() string {
	if e.MessageID != "" {
		return "mid:" + strings.ToLower(strings.Trim(e.MessageID, "<> \t"))
	}
	return "sha256:" + e.ContentHash
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
