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
//   - *sfdc.DecodeError: the body is not one JSON object of the deal's
//     shape (malformed JSON, duplicate keys, invalid UTF-8, too large);
//   - *sfdc.ValidationError: every problem validation found, each with its
//     JSON Pointer;
//   - *staging.InputError: the deal lacks what staging needs to keep it;
//   - anything else is the store's, and the same deal may be sent again.
//
// Once the store was called the write completes even when ctx ends: a
// sender that retries then sees "duplicate" instead of a half-written
// record.
func (f *Flow) AcceptDeal(ctx context.Context, body []byte, opts ...staging.Option) (DealAccepted, error) {
	d, err := sfdc.Decode[sfdc.Opportunity](body, sfdc.WithMaxBytes(f.cfg.MaxDealBytes))
	if err != nil {
		return DealAccepted{}, err
	}
	if err := sfdc.Validate(&d.Value); err != nil {
		return DealAccepted{}, err
	}
	res, err := f.cfg.Store.Intake(context.WithoutCancel(ctx), staging.PayloadFromOpportunity(d), opts...)
	if err != nil {
		return DealAccepted{}, err
	}
	return DealAccepted{IntakeResult: res, SalesforceID: d.Value.ID}, nil
}
