package staging

import (
	"encoding/json"
	"fmt"
	"time"
)

// NumberPrefix starts every record number.
const NumberPrefix = "BB"

// numberOffset is added to a record's id for its number, so that the
// first record is BB0001001.
const numberOffset = 1000

// FormatNumber returns the human number of the record with id:
// BB0001001 for id 1.
func FormatNumber(id int64) string { return fmt.Sprintf("%s%07d", NumberPrefix, numberOffset+id) }

// ParseNumber returns the id of a record number written by FormatNumber.
func ParseNumber(number string) (int64, bool) {
	var n int64
	if len(number) < len(NumberPrefix)+7 || number[:len(NumberPrefix)] != NumberPrefix {
		return 0, false
	}
	for _, c := range number[len(NumberPrefix):] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > 1<<53 {
			return 0, false
		}
	}
	id := n - numberOffset
	if id <= 0 || FormatNumber(id) != number {
		return 0, false
	}
	return id, true
}

// Keys are the correlation keys of a deal.
type Keys struct {
	ECCID            string `json:"ecc_id,omitempty"`
	DRNumber         string `json:"dr_number,omitempty"`
	SalesOrderNumber string `json:"sales_order_number,omitempty"`
	OpportunityID    string `json:"opportunity_id,omitempty"`
}

// Summary is what a list shows of a record: everything but the payload
// document, the PH data, attachments and load details.
type Summary struct {
	ID         int64     `json:"id"`
	Number     string    `json:"number"`
	State      State     `json:"state"`
	StateSince time.Time `json:"state_since"`
	// Version grows with every change; pass it back with IfVersion to make
	// sure nobody changed the record in between.
	Version int64 `json:"version"`
	// Keys come from the payload when there is one, else from the email.
	Keys Keys `json:"keys"`
	// CompanyName is Salesforce's account name, or the email's when there
	// is no payload yet.
	CompanyName  string `json:"company_name"`
	SalesforceID string `json:"salesforce_id,omitempty"`
	HasPayload   bool   `json:"has_payload"`
	HasEmail     bool   `json:"has_email"`
	// ChangedSinceLoad is set when a newer payload or email arrived after a
	// load started; the record is then loadable again.
	ChangedSinceLoad bool `json:"changed_since_load"`
	// MergedInto is the record this one's email was copied into (state
	// merged), 0 otherwise.
	MergedInto int64 `json:"merged_into,omitempty"`
	// Warnings are differences an operator should see, such as a company
	// name in the PH email that differs from Salesforce's.
	Warnings  []string  `json:"warnings,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Record is a staged deal: its payload, PH data, attachments, review and
// load state.
type Record struct {
	Summary
	// Payload is the current Salesforce payload, nil while waiting for it.
	Payload *PayloadData `json:"payload,omitempty"`
	// PH is the Provisioning Hub email last applied, nil before one arrives.
	PH *PHData `json:"ph,omitempty"`
	// Attachments are every file staged on the record, originals and
	// copies, oldest first.
	Attachments []Attachment `json:"attachments"`
	// Exceptions are the record's exceptions, open and resolved.
	Exceptions []Exception `json:"exceptions,omitempty"`
	// Review says why the record needs review (state needs_review), or
	// why it needed it last.
	Review *Review   `json:"review,omitempty"`
	Load   LoadState `json:"load"`
}

// LoadAttachments returns the attachments of the PH email last applied that
// may go to ServiceNow (usable ones), in order.
func (r *Record) LoadAttachments() []Attachment {
	if r.PH == nil {
		return nil
	}
	var out []Attachment
	for _, a := range r.Attachments {
		if a.EmailID == r.PH.EmailID && a.Usable {
			out = append(out, a)
		}
	}
	return out
}

// OpenExceptions returns the exceptions not yet resolved.
func (r *Record) OpenExceptions() []Exception {
	var out []Exception
	for _, e := range r.Exceptions {
		if e.ResolvedAt.IsZero() {
			out = append(out, e)
		}
	}
	return out
}

// PayloadData is a staged Salesforce payload.
type PayloadData struct {
	SalesforceID string `json:"salesforce_id"`
	// Version orders the payloads of one deal: LastModifiedDate in Unix
	// milliseconds, or the sender's sequence.
	Version    int64           `json:"version"`
	ModifiedAt time.Time       `json:"modified_at,omitzero"`
	Hash       string          `json:"hash"`
	Raw        json.RawMessage `json:"raw"`
	ReceivedAt time.Time       `json:"received_at"`
	// Keys, CompanyName and the display fields are as the payload states
	// them.
	Keys            Keys   `json:"keys"`
	CompanyName     string `json:"company_name"`
	OpportunityName string `json:"opportunity_name,omitempty"`
	Currency        string `json:"currency,omitempty"`
	Amount          string `json:"amount,omitempty"`
	CloseDate       string `json:"close_date,omitempty"`
	Product         string `json:"product,omitempty"`
	ContactEmail    string `json:"contact_email,omitempty"`
	// SupersededAt is set on previous versions (PayloadHistory).
	SupersededAt time.Time `json:"superseded_at,omitzero"`
}

// PHData is a Provisioning Hub email as staged on a record. The raw
// message is kept as evidence (RawEmail).
type PHData struct {
	EmailID     int64     `json:"email_id"`
	MessageID   string    `json:"message_id,omitempty"`
	ContentHash string    `json:"content_hash"`
	From        string    `json:"from,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Date        time.Time `json:"date,omitzero"`
	ReceivedAt  time.Time `json:"received_at"`
	Channel     string    `json:"channel,omitempty"`
	// Fields use the shared keys (FieldECCID, FieldTenantID, ...).
	Fields    map[string]string `json:"fields"`
	Warnings  []string          `json:"warnings,omitempty"`
	RawSHA256 string            `json:"raw_sha256"`
	RawSize   int64             `json:"raw_size"`
}

// Attachment is a file staged on a record. Its bytes are read with
// Store.Attachment.
type Attachment struct {
	ID          int64  `json:"id"`
	RecordID    int64  `json:"record_id"`
	EmailID     int64  `json:"email_id"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	// Usable is false for a file that failed the PDF check or has active
	// content: it is kept as evidence and never sent to ServiceNow.
	Usable   bool     `json:"usable"`
	Warnings []string `json:"warnings,omitempty"`
	// CopiedFrom is the attachment this one was copied from when an email
	// moved between records; 0 for an original.
	CopiedFrom int64     `json:"copied_from,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// ExceptionKind names a kind of exception.
type ExceptionKind string

// ExceptionPayloadMissing is opened when a PH email arrives before its
// payload, and resolved automatically when the payload merges.
const ExceptionPayloadMissing ExceptionKind = "payload_missing"

// Exception is a condition an operator may have to look at.
type Exception struct {
	Kind       ExceptionKind `json:"kind"`
	Message    string        `json:"message"`
	OpenedAt   time.Time     `json:"opened_at"`
	ResolvedAt time.Time     `json:"resolved_at,omitzero"`
	Resolution string        `json:"resolution,omitempty"`
}

// ReviewSource says what raised a review.
type ReviewSource string

// The causes of a review.
const (
	// ReviewEmail: a PH email matched several records, or its keys
	// conflicted with the only record of its ECC id.
	ReviewEmail ReviewSource = "email"
	// ReviewPayload: several PH emails wait for the same payload.
	ReviewPayload ReviewSource = "payload"
	// ReviewLoad: a load raised an exception (an ambiguous company match).
	ReviewLoad ReviewSource = "load"
	// ReviewOperator: an operator flagged the record (MarkNeedsReview
	// outside a load).
	ReviewOperator ReviewSource = "operator"
)

// Review says why a record needs an operator's decision.
type Review struct {
	Source   ReviewSource `json:"source"`
	Reason   string       `json:"reason"`
	RaisedAt time.Time    `json:"raised_at"`
	// Candidates are the records the email (or payload) could belong to.
	Candidates []Candidate `json:"candidates,omitempty"`
	// Resolution and ResolvedAt are set when the review is closed.
	Resolution string    `json:"resolution,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// Candidate is a record a review could resolve to.
type Candidate struct {
	ID          int64  `json:"id"`
	Number      string `json:"number"`
	State       State  `json:"state"`
	CompanyName string `json:"company_name"`
	Keys        Keys   `json:"keys"`
}

// LoadState is the record's load history: the loader's journal (opaque
// JSON, defined by the loader) and result.
type LoadState struct {
	Attempts   int             `json:"attempts"`
	StartedAt  time.Time       `json:"started_at,omitzero"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
	LoadedAt   time.Time       `json:"loaded_at,omitzero"`
	Journal    json.RawMessage `json:"journal,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	// Error is why the load failed, or, while it is retrying, the last
	// transient failure.
	Error string `json:"error,omitempty"`
	// Retries counts the transient failures of this load (RetryLoad); a
	// new load starts at 0.
	Retries int `json:"retries,omitempty"`
	// NextTryAt is when a retrying load is tried again; zero unless the
	// record is loading and waiting for that try.
	NextTryAt time.Time `json:"next_try_at,omitzero"`
}

// Retrying reports whether the record's load is waiting to be tried again
// after a transient failure.
func (l LoadState) Retrying() bool { return !l.NextTryAt.IsZero() }
