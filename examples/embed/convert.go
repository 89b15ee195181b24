package main

import (
	"errors"
	"strconv"
	"time"

	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/staging"
)

// The packages do not import each other sideways: phmail does not know
// staging, and mapping does not know staging. The service converts between
// them; these two functions are all it takes.

// stagingEmail turns a parsed PH email into what staging.Store.IngestEmail
// takes. Fields() gives the values under the keys every package shares
// (ecc_id, dr_number, ...). Unusable files (a PDF with active content, say)
// are passed on flagged: staging keeps them as evidence, loads never send them.
func stagingEmail(m *phmail.Message, raw []byte) staging.Email {
	e := staging.Email{
		MessageID: m.MessageID, ContentHash: m.ContentHash,
		From: m.From, Subject: m.Subject, Date: m.Date,
		Fields: m.Fields(), Raw: raw, Warnings: m.Warnings,
	}
	for _, a := range m.Attachments {
		e.Attachments = append(e.Attachments, staging.EmailAttachment{
			FileName: a.FileName, ContentType: a.ContentType, Data: a.Data,
			SHA256: a.SHA256, Warnings: a.Warnings, Usable: a.Usable,
		})
	}
	return e
}

// planInput turns a staged record into the input of mapping.Rules.Plan:
// the raw Salesforce JSON (numbers kept exact), the PH email's fields, the
// record's files that may be loaded, and the load time.
func planInput(rec *staging.Record, now time.Time) (mapping.Input, error) {
	if rec.Payload == nil {
		return mapping.Input{}, errors.New(rec.Number + " has no Salesforce payload yet")
	}
	sf, err := mapping.SFDCFromJSON(rec.Payload.Raw)
	if err != nil {
		return mapping.Input{}, err
	}
	in := mapping.Input{SFDC: sf, Now: now, Record: mapping.RecordInfo{
		ID: strconv.FormatInt(rec.ID, 10), Number: rec.Number, State: string(rec.State)}}
	if rec.PH != nil {
		in.PH = rec.PH.Fields
	}
	for _, a := range rec.LoadAttachments() {
		in.Record.Attachments = append(in.Record.Attachments, mapping.AttachmentInfo{
			ID: strconv.FormatInt(a.ID, 10), FileName: a.FileName, ContentType: a.ContentType,
			SHA256: a.SHA256, Size: a.Size, Usable: a.Usable, Warnings: a.Warnings,
		})
	}
	return in, nil
}
