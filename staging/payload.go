package staging

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge/sfdc"
)

// Payload is a Salesforce deal as Intake takes it: the raw document and
// what staging needs to know about it. Build it with PayloadFromOpportunity,
// or fill it for a payload type of your own.
type Payload struct {
	// SalesforceID identifies the deal; one staged record per id.
	SalesforceID string
	// Version orders the deliveries of one deal: larger is newer.
	// PayloadFromOpportunity takes LastModifiedDate in Unix milliseconds;
	// without one, set the sender's sequence with WithSequence. Required.
	Version int64
	// ModifiedAt is LastModifiedDate, when the payload has one.
	ModifiedAt time.Time
	// Raw is the document exactly as received. Required; must be JSON.
	Raw []byte
	// Hash is the content hash (sfdc.Decoded.Hash); the same deal sent
	// again has the same hash. Empty: the SHA-256 of Raw.
	Hash string
	// Keys are the correlation keys; OpportunityID is SalesforceID when
	// empty.
	Keys Keys
	// CompanyName and the display fields are shown in lists and searched.
	CompanyName     string
	OpportunityName string
	Currency        string
	Amount          string
	CloseDate       string
	Product         string
	ContactEmail    string
	// decoded is set by PayloadFromOpportunity: Raw came from sfdc.Decode,
	// which checked it strictly, so check need not parse it again.
	decoded bool
}

// PayloadFromOpportunity extracts the staging view of a decoded reference
// payload. Its Version is LastModifiedDate in Unix milliseconds, or 0 when
// the payload has none: then call WithSequence.
func PayloadFromOpportunity(d *sfdc.Decoded[sfdc.Opportunity]) Payload {
	o := &d.Value
	p := Payload{
		SalesforceID: o.ID,
		Raw:          d.Raw,
		Hash:         d.Hash,
		Keys: Keys{
			ECCID:            o.EndUserECCID,
			DRNumber:         o.DealRegistrationID,
			SalesOrderNumber: o.SalesOrderNumber,
			OpportunityID:    o.ID,
		},
		OpportunityName: o.Name,
		Currency:        o.CurrencyIsoCode,
		Amount:          o.TotalExtendedPrice.String(),
		CloseDate:       o.CloseDate.String(),
		Product:         o.Product(),
		ContactEmail:    o.CustomerContactEmail,
		decoded:         true,
	}
	if o.Account != nil {
		p.CompanyName = o.Account.Name
	}
	if o.LastModifiedDate.Valid {
		p.ModifiedAt = o.LastModifiedDate.Time.UTC()
		p.Version = o.LastModifiedDate.Time.UnixMilli()
	}
	return p
}

// WithSequence returns p with Version set to seq when p has no version of
// its own (no LastModifiedDate).
func (p Payload) WithSequence(seq int64) Payload {
	if p.Version == 0 {
		p.Version = seq
	}
	return p
}

// check fills defaults and reports every problem at once.
func (p *Payload) check() error {
	var problems []string
	p.SalesforceID = strings.TrimSpace(p.SalesforceID)
	if p.SalesforceID == "" {
		problems = append(problems, "SalesforceID is empty: set the deal's Salesforce Id")
	}
	if p.Version <= 0 {
		problems = append(problems, "Version must be positive: take LastModifiedDate or set the sender's sequence with WithSequence")
	}
	if len(p.Raw) == 0 {
		problems = append(problems, "Raw is empty: pass the document as received")
	} else if !p.decoded && !json.Valid(p.Raw) {
		problems = append(problems, "Raw is not valid JSON: decode the payload with sfdc.Decode first")
	}
	if len(problems) > 0 {
		return &InputError{What: "payload", Problems: problems}
	}
	if p.Hash == "" {
		sum := sha256.Sum256(p.Raw)
		p.Hash = hex.EncodeToString(sum[:])
	}
	if p.Keys.OpportunityID == "" {
		p.Keys.OpportunityID = p.SalesforceID
	}
	return nil
}

// data returns the payload as staged, received at now.
func (p *Payload) data(now time.Time) *PayloadData {
	return &PayloadData{
		SalesforceID:    p.SalesforceID,
		Version:         p.Version,
		ModifiedAt:      p.ModifiedAt,
		Hash:            p.Hash,
		Raw:             json.RawMessage(p.Raw),
		ReceivedAt:      now,
		Keys:            p.Keys,
		CompanyName:     p.CompanyName,
		OpportunityName: p.OpportunityName,
		Currency:        p.Currency,
		Amount:          p.Amount,
		CloseDate:       p.CloseDate,
		Product:         p.Product,
		ContactEmail:    p.ContactEmail,
	}
}
