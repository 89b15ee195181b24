package bookbridge

import (
	"strconv"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/staging"
)

// planInput is what the rules plan a staged record from, at now. The
// Salesforce JSON is decoded here once, so that one input can be planned
// with several rule sets (Impact).
func planInput(rec *staging.Record, now time.Time) (mapping.Input, error) {
	if rec.Payload == nil {
		return mapping.Input{}, &NotLoadableError{Record: rec.Number, Reason: "it has no Salesforce payload yet"}
	}
	sf, err := mapping.SFDCFromJSON(rec.Payload.Raw)
	if err != nil {
		return mapping.Input{}, &PlanError{Record: rec.Number, Err: err}
	}
	in := mapping.Input{SFDC: sf, Now: now,
		Record: mapping.RecordInfo{ID: strconv.FormatInt(rec.ID, 10), Number: rec.Number, State: string(rec.State)}}
	if rec.PH != nil {
		in.PH = rec.PH.Fields
	}
	for _, att := range rec.LoadAttachments() {
		in.Record.Attachments = append(in.Record.Attachments, mapping.AttachmentInfo{
			ID: strconv.FormatInt(att.ID, 10), FileName: att.FileName, ContentType: att.ContentType,
			SHA256: att.SHA256, Size: att.Size, Usable: att.Usable, Warnings: att.Warnings,
		})
	}
	return in, nil
}

// planInputWith plans in with rules; a failure is a *PlanError naming rec.
func planInputWith(rules *mapping.Rules, rec *staging.Record, in mapping.Input) (*loader.Plan, error) {
	plan, err := rules.Plan(in)
	if err != nil {
		return nil, &PlanError{Record: rec.Number, Err: err}
	}
	return plan, nil
}
