package phmail

import "time"

// Message is a parsed PH email.
type Message struct {
	// MessageID is the Message-ID header without angle brackets; empty when
	// the email has none (then ContentHash identifies it).
	MessageID string `json:"message_id"`
	// From is the sender's address (the first of the From header).
	From string `json:"from"`
	// Date is the Date header; zero when missing or unreadable (a warning
	// says which).
	Date time.Time `json:"date"`
	// Subject is the Subject header as sent, decoded.
	Subject string `json:"subject"`

	CompanyName      string `json:"company_name"`
	DRNumber         string `json:"dr_number"`
	ECCID            string `json:"ecc_id"`
	SalesOrderNumber string `json:"sales_order_number"`
	DeployToEmail    string `json:"deploy_to_email"`
	TenantID         string `json:"tenant_id"`
	IMSOrgID         string `json:"ims_org_id"`
	TicketLink       string `json:"ticket_link"`

	// Attachments are the email's files, attached or inline, in MIME order.
	Attachments []Attachment `json:"attachments"`
	// Warnings say what was odd but did not stop the parse.
	Warnings []string `json:"warnings"`
	// ContentHash is the hex SHA-256 of the raw message, for deduplication
	// when the Message-ID is missing.
	ContentHash string `json:"content_hash"`
	// Size is the raw message's size in bytes.
	Size int `json:"size"`
}

// Attachment is one file of the email.
type Attachment struct {
	// FileName is safe to use as a base name: no directories, no control or
	// reserved characters, unique within the message.
	FileName string `json:"file_name"`
	// ContentType is the declared media type, lower case, without parameters.
	ContentType string `json:"content_type"`
	// Size is the decoded size in bytes, SHA256 the hex digest of the bytes.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Data holds the decoded bytes.
	Data []byte `json:"-"`
	// Inline is true for parts shown in the body rather than attached.
	Inline bool `json:"inline"`
	// PDF is true when the file is named, typed or shaped as a PDF.
	PDF bool `json:"pdf"`
	// Usable is false when a PDF fails the PDF check or has active content:
	// keep it as evidence, never send it on.
	Usable bool `json:"usable"`
	// Warnings say why a file is not usable, or what else was odd.
	Warnings []string `json:"warnings"`
}

// Fields returns the email's fields under the keys shared by bookbridge's
// packages; empty values are left out. The date is in RFC 3339.
func (m *Message) Fields() map[string]string {
	f := map[string]string{
		FieldCompanyName:      m.CompanyName,
		FieldDRNumber:         m.DRNumber,
		FieldECCID:            m.ECCID,
		FieldSalesOrderNumber: m.SalesOrderNumber,
		FieldDeployToEmail:    m.DeployToEmail,
		FieldTenantID:         m.TenantID,
		FieldIMSOrgID:         m.IMSOrgID,
		FieldTicketLink:       m.TicketLink,
		FieldMessageID:        m.MessageID,
		FieldSubject:          m.Subject,
		FieldFrom:             m.From,
	}
	if !m.Date.IsZero() {
		f[FieldDate] = m.Date.Format(time.RFC3339)
	}
	for k, v := range f {
		if v == "" {
			delete(f, k)
		}
	}
	return f
}

// ShowInline reports whether a stored file may be shown in a browser
// rather than offered as a download: only a file typed application/pdf that
// the PDF check found usable. Every file typed as a PDF is checked (unless
// the Parser was made WithoutPDFCheck), so Usable on such a file is the
// check's verdict; everything else downloads.
func ShowInline(contentType string, usable bool) bool {
	return usable && contentType == "application/pdf"
}

// UsablePDFs returns the PDFs that passed every check: the files to send on.
func (m *Message) UsablePDFs() []Attachment {
	var out []Attachment
	for _, a := range m.Attachments {
		if a.PDF && a.Usable {
			out = append(out, a)
		}
	}
	return out
}

// field returns a pointer to the Message field with key k.
func (m *Message) field(k string) *string {
	switch k {
	case FieldCompanyName:
		return &m.CompanyName
	case FieldDRNumber:
		return &m.DRNumber
	case FieldECCID:
		return &m.ECCID
	case FieldSalesOrderNumber:
		return &m.SalesOrderNumber
	case FieldDeployToEmail:
		return &m.DeployToEmail
	case FieldTenantID:
		return &m.TenantID
	case FieldIMSOrgID:
		return &m.IMSOrgID
	case FieldTicketLink:
		return &m.TicketLink
	}
	return nil
}
