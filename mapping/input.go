package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// PHFields are the Provisioning Hub email's field names that rules see
// under ph (ph.deploy_to_email, ...). A key missing from Input.PH reads as
// "" in an expression; any other key is a compile error, so a typo is
// caught when the rules load.
var PHFields = []string{
	"company_name", "dr_number", "ecc_id", "sales_order_number",
	"deploy_to_email", "tenant_id", "ims_org_id", "ticket_link",
	"message_id", "subject", "from", "date",
}

// Input is everything a plan is made from: one staged record. The caller
// (the server, a test, the CLI) fills it; Plan reads nothing else.
type Input struct {
	// SFDC is the raw Salesforce payload as decoded JSON objects, with
	// numbers kept exact as json.Number (see SFDCFromJSON). Empty for a
	// record created from an email alone.
	SFDC map[string]any
	// PH holds the Provisioning Hub email's fields under the PHFields
	// keys; it may be nil.
	PH map[string]string
	// Record is the staged record's metadata.
	Record RecordInfo
	// Now is the clock value of the load. Expressions see it as now; no
	// expression reads the system clock.
	Now time.Time
}

// RecordInfo is the staged record as expressions see it under record
// (record.number, record.attachments, ...).
type RecordInfo struct {
	ID          string           `expr:"id" json:"id"`
	Number      string           `expr:"number" json:"number"`
	State       string           `expr:"state" json:"state"`
	Attachments []AttachmentInfo `expr:"attachments" json:"attachments"`
}

// AttachmentInfo is one file kept on the staged record. Only attachments
// with Usable set ever reach a plan: the planner drops the others from an
// attach list with a warning.
type AttachmentInfo struct {
	ID          string `expr:"id" json:"id"`
	FileName    string `expr:"file_name" json:"file_name"`
	ContentType string `expr:"content_type" json:"content_type"`
	SHA256      string `expr:"sha256" json:"sha256"`
	Size        int64  `expr:"size" json:"size"`
	// Usable is false for a file kept only as evidence, such as a PDF that
	// failed the PDF check or carries active content.
	Usable   bool     `expr:"usable" json:"usable"`
	Warnings []string `expr:"warnings" json:"warnings,omitempty"`
}

// SFDCFromJSON decodes a payload into the form Input.SFDC holds: objects
// as map[string]any, arrays as []any and numbers as json.Number, so no
// amount passes through a float. It does not validate the payload (the
// sfdc package does); it only requires one JSON object.
func SFDCFromJSON(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("mapping: the payload is not a JSON object: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("mapping: the payload is null; pass a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("mapping: the payload has data after its JSON object")
	}
	return m, nil
}

// phEnv returns the ph map expressions see: every PHFields key present.
func phEnv(ph map[string]string) map[string]any {
	m := make(map[string]any, len(PHFields))
	for _, k := range PHFields {
		m[k] = ph[k]
	}
	return m
}
