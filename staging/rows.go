package staging

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// recordRow is a row of staging_records. JSON-valued columns are kept as
// text here and converted by toRecord and fromRecord, so both engines store
// the same bytes.
type recordRow struct {
	bun.BaseModel `bun:"table:staging_records,alias:r"`

	ID                int64     `bun:"id,pk,autoincrement"`
	Number            string    `bun:"number,nullzero"`
	State             string    `bun:"state"`
	StateSince        time.Time `bun:"state_since"`
	Version           int64     `bun:"version"`
	SalesforceID      string    `bun:"sf_id,nullzero"`
	PayloadRaw        []byte    `bun:"payload_raw"`
	PayloadHash       string    `bun:"payload_hash"`
	PayloadVersion    int64     `bun:"payload_version"`
	PayloadModifiedAt time.Time `bun:"payload_modified_at,nullzero"`
	PayloadReceivedAt time.Time `bun:"payload_received_at,nullzero"`
	PayloadInfo       string    `bun:"payload_info,nullzero"`
	ECCID             string    `bun:"ecc_id"`
	DRNumber          string    `bun:"dr_number"`
	SalesOrderNumber  string    `bun:"sales_order_number"`
	OpportunityID     string    `bun:"opportunity_id"`
	ECCKey            string    `bun:"ecc_key"`
	CompanyName       string    `bun:"company_name"`
	PH                string    `bun:"ph,nullzero"`
	Warnings          string    `bun:"warnings"`
	Exceptions        string    `bun:"exceptions"`
	Review            string    `bun:"review,nullzero"`
	MergedInto        int64     `bun:"merged_into,nullzero"`
	ChangedSinceLoad  bool      `bun:"changed_since_load"`
	LoadAttempts      int       `bun:"load_attempts"`
	LoadStartedAt     time.Time `bun:"load_started_at,nullzero"`
	LoadFinishedAt    time.Time `bun:"load_finished_at,nullzero"`
	LoadedAt          time.Time `bun:"loaded_at,nullzero"`
	LoadJournal       string    `bun:"load_journal,nullzero"`
	LoadResult        string    `bun:"load_result,nullzero"`
	LoadError         string    `bun:"load_error"`
	LoadRetries       int       `bun:"load_retries"`
	LoadNextTryAt     time.Time `bun:"load_next_try_at,nullzero"`
	SearchText        string    `bun:"search_text"`
	CreatedAt         time.Time `bun:"created_at"`
	UpdatedAt         time.Time `bun:"updated_at"`
}

// summaryColumns are the columns a list reads (no documents).
var summaryColumns = []string{"id", "number", "state", "state_since", "version", "sf_id",
	"payload_hash", "ecc_id", "dr_number", "sales_order_number", "opportunity_id",
	"company_name", "ph", "warnings", "merged_into", "changed_since_load", "created_at", "updated_at"}

// payloadInfo is the payload_info column: what the payload states besides
// its raw document.
type payloadInfo struct {
	Keys            Keys   `json:"keys"`
	CompanyName     string `json:"company_name,omitempty"`
	OpportunityName string `json:"opportunity_name,omitempty"`
	Currency        string `json:"currency,omitempty"`
	Amount          string `json:"amount,omitempty"`
	CloseDate       string `json:"close_date,omitempty"`
	Product         string `json:"product,omitempty"`
	ContactEmail    string `json:"contact_email,omitempty"`
}

func infoOf(p *PayloadData) payloadInfo {
	return payloadInfo{Keys: p.Keys, CompanyName: p.CompanyName, OpportunityName: p.OpportunityName,
		Currency: p.Currency, Amount: p.Amount, CloseDate: p.CloseDate, Product: p.Product, ContactEmail: p.ContactEmail}
}

func (i payloadInfo) apply(p *PayloadData) {
	p.Keys, p.CompanyName, p.OpportunityName = i.Keys, i.CompanyName, i.OpportunityName
	p.Currency, p.Amount, p.CloseDate, p.Product, p.ContactEmail = i.Currency, i.Amount, i.CloseDate, i.Product, i.ContactEmail
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("staging: encoding %T: %v", v, err))
	}
	return string(b)
}

func fromJSON(what, s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("staging: column %s holds bad JSON: %w", what, err)
	}
	return nil
}

// summary converts the columns every read has.
func (row *recordRow) summary() (Summary, error) {
	s := Summary{
		ID:               row.ID,
		Number:           row.Number,
		State:            State(row.State),
		StateSince:       utc(row.StateSince),
		Version:          row.Version,
		Keys:             Keys{ECCID: row.ECCID, DRNumber: row.DRNumber, SalesOrderNumber: row.SalesOrderNumber, OpportunityID: row.OpportunityID},
		CompanyName:      row.CompanyName,
		SalesforceID:     row.SalesforceID,
		HasPayload:       row.SalesforceID != "",
		HasEmail:         row.PH != "",
		ChangedSinceLoad: row.ChangedSinceLoad,
		MergedInto:       row.MergedInto,
		CreatedAt:        utc(row.CreatedAt),
		UpdatedAt:        utc(row.UpdatedAt),
	}
	if s.Number == "" {
		s.Number = FormatNumber(row.ID)
	}
	err := fromJSON("warnings", row.Warnings, &s.Warnings)
	return s, err
}

// record converts a full row; attachments are added by the caller.
func (row *recordRow) record() (*Record, error) {
	sum, err := row.summary()
	if err != nil {
		return nil, err
	}
	r := &Record{Summary: sum, Attachments: []Attachment{}}
	if row.SalesforceID != "" {
		p := &PayloadData{
			SalesforceID: row.SalesforceID,
			Version:      row.PayloadVersion,
			ModifiedAt:   utc(row.PayloadModifiedAt),
			Hash:         row.PayloadHash,
			Raw:          json.RawMessage(row.PayloadRaw),
			ReceivedAt:   utc(row.PayloadReceivedAt),
		}
		var info payloadInfo
		if err := fromJSON("payload_info", row.PayloadInfo, &info); err != nil {
			return nil, err
		}
		info.apply(p)
		r.Payload = p
	}
	if row.PH != "" {
		r.PH = &PHData{}
		if err := fromJSON("ph", row.PH, r.PH); err != nil {
			return nil, err
		}
		r.PH.Date, r.PH.ReceivedAt = utc(r.PH.Date), utc(r.PH.ReceivedAt)
	}
	if err := fromJSON("exceptions", row.Exceptions, &r.Exceptions); err != nil {
		return nil, err
	}
	if row.Review != "" {
		r.Review = &Review{}
		if err := fromJSON("review", row.Review, r.Review); err != nil {
			return nil, err
		}
	}
	r.Load = LoadState{
		Attempts:   row.LoadAttempts,
		StartedAt:  utc(row.LoadStartedAt),
		FinishedAt: utc(row.LoadFinishedAt),
		LoadedAt:   utc(row.LoadedAt),
		Error:      row.LoadError,
		Retries:    row.LoadRetries,
		NextTryAt:  utc(row.LoadNextTryAt),
	}
	if row.LoadJournal != "" {
		r.Load.Journal = json.RawMessage(row.LoadJournal)
	}
	if row.LoadResult != "" {
		r.Load.Result = json.RawMessage(row.LoadResult)
	}
	return r, nil
}

// rowOf converts a record back into its row, deriving the keys, company
// name, warnings and search text from the record's payload and PH data.
func rowOf(r *Record) *recordRow {
	deriveSummary(r)
	row := &recordRow{
		ID:               r.ID,
		Number:           r.Number,
		State:            string(r.State),
		StateSince:       r.StateSince,
		Version:          r.Version,
		ECCID:            r.Keys.ECCID,
		DRNumber:         r.Keys.DRNumber,
		SalesOrderNumber: r.Keys.SalesOrderNumber,
		OpportunityID:    r.Keys.OpportunityID,
		ECCKey:           normSAP(r.Keys.ECCID),
		CompanyName:      r.CompanyName,
		Warnings:         jsonList(r.Warnings),
		Exceptions:       jsonList(r.Exceptions),
		MergedInto:       r.MergedInto,
		ChangedSinceLoad: r.ChangedSinceLoad,
		LoadAttempts:     r.Load.Attempts,
		LoadStartedAt:    r.Load.StartedAt,
		LoadFinishedAt:   r.Load.FinishedAt,
		LoadedAt:         r.Load.LoadedAt,
		LoadJournal:      string(r.Load.Journal),
		LoadResult:       string(r.Load.Result),
		LoadError:        r.Load.Error,
		LoadRetries:      r.Load.Retries,
		LoadNextTryAt:    r.Load.NextTryAt,
		CreatedAt:        r.CreatedAt,
		UpdatedAt:        r.UpdatedAt,
	}
	if p := r.Payload; p != nil {
		row.SalesforceID = p.SalesforceID
		row.PayloadRaw = []byte(p.Raw)
		row.PayloadHash = p.Hash
		row.PayloadVersion = p.Version
		row.PayloadModifiedAt = p.ModifiedAt
		row.PayloadReceivedAt = p.ReceivedAt
		row.PayloadInfo = mustJSON(infoOf(p))
	}
	if r.PH != nil {
		row.PH = mustJSON(r.PH)
	}
	if r.Review != nil {
		row.Review = mustJSON(r.Review)
	}
	row.SearchText = searchText(r)
	return row
}

// deriveSummary sets what the summary repeats from the payload and email.
func deriveSummary(r *Record) {
	r.HasPayload, r.HasEmail = r.Payload != nil, r.PH != nil
	switch {
	case r.Payload != nil:
		r.SalesforceID = r.Payload.SalesforceID
		r.Keys = r.Payload.Keys
		r.CompanyName = r.Payload.CompanyName
	case r.PH != nil:
		r.SalesforceID = ""
		r.Keys = Keys{
			ECCID:            strings.TrimSpace(r.PH.Fields[FieldECCID]),
			DRNumber:         strings.TrimSpace(r.PH.Fields[FieldDRNumber]),
			SalesOrderNumber: strings.TrimSpace(r.PH.Fields[FieldSalesOrderNumber]),
		}
		r.CompanyName = strings.TrimSpace(r.PH.Fields[FieldCompanyName])
	}
	r.Warnings = recordWarnings(r)
}

// recordWarnings lists what an operator should see: Salesforce and the
// email disagreeing, the parser's remarks, files kept only as evidence.
func recordWarnings(r *Record) []string {
	out := mismatchWarnings(r.Payload, r.PH)
	if r.PH != nil {
		for _, w := range r.PH.Warnings {
			out = append(out, "PH email: "+w)
		}
		for _, a := range r.Attachments {
			if a.EmailID == r.PH.EmailID && !a.Usable {
				msg := fmt.Sprintf("attachment %q is kept as evidence only and is not sent to ServiceNow", a.FileName)
				if len(a.Warnings) > 0 {
					msg += ": " + strings.Join(a.Warnings, "; ")
				}
				out = append(out, msg)
			}
		}
	}
	return out
}

// jsonList encodes a list column: an empty or nil list is "[]", written
// without the encoder since almost every record has no warnings and no
// exceptions.
func jsonList[T any](s []T) string {
	if len(s) == 0 {
		return "[]"
	}
	return mustJSON(s)
}

// attachmentRow is a row of staging_attachments.
type attachmentRow struct {
	bun.BaseModel `bun:"table:staging_attachments,alias:a"`

	ID          int64     `bun:"id,pk,autoincrement"`
	RecordID    int64     `bun:"record_id"`
	EmailID     int64     `bun:"email_id"`
	FileName    string    `bun:"file_name"`
	ContentType string    `bun:"content_type"`
	Size        int64     `bun:"size"`
	SHA256      string    `bun:"sha256"`
	Usable      bool      `bun:"usable"`
	Warnings    string    `bun:"warnings"`
	CopiedFrom  int64     `bun:"copied_from,nullzero"`
	CreatedAt   time.Time `bun:"created_at"`
}

func (a *attachmentRow) attachment() (Attachment, error) {
	out := Attachment{ID: a.ID, RecordID: a.RecordID, EmailID: a.EmailID, FileName: a.FileName,
		ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, Usable: a.Usable,
		CopiedFrom: a.CopiedFrom, CreatedAt: utc(a.CreatedAt)}
	err := fromJSON("attachment warnings", a.Warnings, &out.Warnings)
	return out, err
}

// emailRow is a row of staging_emails: every PH email ingested, with the
// record it went to.
type emailRow struct {
	bun.BaseModel `bun:"table:staging_emails,alias:e"`

	ID          int64     `bun:"id,pk,autoincrement"`
	DedupKey    string    `bun:"dedup_key"`
	MessageID   string    `bun:"message_id"`
	ContentHash string    `bun:"content_hash"`
	RecordID    int64     `bun:"record_id,nullzero"`
	Outcome     string    `bun:"outcome"`
	Channel     string    `bun:"channel"`
	RawSHA256   string    `bun:"raw_sha256"`
	RawSize     int64     `bun:"raw_size"`
	ReceivedAt  time.Time `bun:"received_at"`
}

// payloadHistoryRow is a previous payload of a record.
type payloadHistoryRow struct {
	bun.BaseModel `bun:"table:staging_payload_history,alias:ph"`

	ID           int64     `bun:"id,pk,autoincrement"`
	RecordID     int64     `bun:"record_id"`
	SalesforceID string    `bun:"sf_id"`
	Version      int64     `bun:"version"`
	Hash         string    `bun:"hash"`
	Raw          []byte    `bun:"raw"`
	Info         string    `bun:"info"`
	ModifiedAt   time.Time `bun:"modified_at,nullzero"`
	ReceivedAt   time.Time `bun:"received_at"`
	SupersededAt time.Time `bun:"superseded_at"`
}

// eventRow is a row of staging_events.
type eventRow struct {
	bun.BaseModel `bun:"table:staging_events,alias:ev"`

	ID       int64     `bun:"id,pk,autoincrement"`
	RecordID int64     `bun:"record_id"`
	At       time.Time `bun:"at"`
	Kind     string    `bun:"kind"`
	From     string    `bun:"from_state"`
	To       string    `bun:"to_state"`
	Channel  string    `bun:"channel"`
	Actor    string    `bun:"actor"`
	Message  string    `bun:"message"`
	Data     string    `bun:"data,nullzero"`
}

// quarantineRow is a row of staging_quarantine.
type quarantineRow struct {
	bun.BaseModel `bun:"table:staging_quarantine,alias:q"`

	ID         int64     `bun:"id,pk,autoincrement"`
	SHA256     string    `bun:"sha256"`
	Size       int64     `bun:"size"`
	Reason     string    `bun:"reason"`
	Channel    string    `bun:"channel"`
	MessageID  string    `bun:"message_id"`
	Subject    string    `bun:"subject"`
	From       string    `bun:"from_addr"`
	ReceivedAt time.Time `bun:"received_at"`
}
