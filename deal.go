package bookbridge

import (
	"context"

	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// DealAccepted is what AcceptDeal did with a deal.
type DealAccepted struct {
	staging.IntakeResult
	// SalesforceID is the deal's Opportunity Id.
	SalesforceID string
}

// AcceptDeal decodes body as a Salesforce Opportunity, validates it and
// stages it with its raw bytes. It makes no remote call. opts are passed
// to staging.Intake (staging.By, staging.Via).
//
// The outcome (created, merged, duplicate, updated, stale) is in the
// result. The errors:
//   - *sfdc.DecodeError: the body is not one JSON object (malformed JSON,
//     duplicate keys, invalid UTF-8, not an object, too large);
//   - *sfdc.ValidationError: every problem decoding and validation found,
//     each with its JSON Pointer: values of the wrong type, lists over
//     Config.MaxDealRecords, control characters in strings, rule problems;
//   - *staging.InputError: the deal lacks what staging needs to keep it,
//     or the database refused one of its values (staging.RefusedValue);
//   - anything else is the store's, and the same deal may be sent again.
//
// Once the store was called the write completes even when ctx ends: a
// sender that retries then sees "duplicate" instead of a half-written
// record.
func (f *Flow) AcceptDeal(ctx context.Context, body []byte, opts ...staging.Option) (DealAccepted, error) {
	d, err := sfdc.DecodeAndValidate[sfdc.Opportunity](body,
		sfdc.WithMaxBytes(f.cfg.MaxDealBytes), sfdc.WithMaxRecords(f.cfg.MaxDealRecords))
	if err != nil {
		return DealAccepted{}, err
	}
	res, err := f.cfg.Store.Intake(context.WithoutCancel(ctx), staging.PayloadFromOpportunity(d), opts...)
	if msg, refused := staging.RefusedValue(err); refused {
		// Validation should have caught the value; sending the deal again
		// cannot help, so it is answered as input to correct.
		return DealAccepted{}, &staging.InputError{What: "deal", Problems: []string{
			"the database refused one of its values: " + msg + "; correct the value and send the deal again"}}
	}
	if err != nil {
		return DealAccepted{}, err
	}
	return DealAccepted{IntakeResult: res, SalesforceID: d.Value.ID}, nil
}
