package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/bookbridge/bookbridge"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// field is one labelled value of a record page.
type field struct {
	Label string
	Value string
}

type lineView struct {
	N        int
	Name     string
	Family   string
	SKU      string
	Quantity string
	Total    string
	Start    string
	End      string
	MS       bool
}

// dealView is the Salesforce payload as the record page shows it.
type dealView struct {
	// Problems are what validation finds wrong with the staged payload
	// (intake rejects invalid deals, so normally none: rules may change).
	Problems []sfdc.Problem
	Facts    []field
	Team     []field
	Lines    []lineView
	MSCount  int
}

type stepView struct {
	ID          string
	Table       string
	Outcome     string
	TargetID    string
	Link        string
	Reason      string
	Changes     int
	Exception   *loader.ExceptionResult
	ExcLink     string
	Attachments []loader.AttachmentResult
}

// resultView is a load's result with links to the target's records.
type resultView struct {
	Status    string
	Error     string
	StoppedBy string
	Warnings  []string
	Steps     []stepView
	Calls     string
}

type recordView struct {
	Rec        *staging.Record
	Target     string
	Late       bool
	Age        string
	Loadable   bool
	Reason     string
	Deal       *dealView
	DealError  string
	RawPayload string
	PH         []field
	Result     *resultView
	ResultErr  string
	History    []staging.Event
	Open       []staging.Exception
	Resolved   []staging.Exception
	LoadJob    *bookbridge.JobStatus // the latest load job, while River keeps it
}

// recordView builds the record page's data.
func (c *Console) recordView(rec *staging.Record, hist []staging.Event) *recordView {
	v := &recordView{Rec: rec, Target: c.app.Cfg.Target, History: hist, Late: c.isLate(rec.Summary)}
	if v.Late {
		v.Age = c.ago(rec.StateSince)
	}
	v.Loadable, v.Reason = rec.Loadable()
	if rec.Payload != nil {
		v.Deal, v.DealError = decodeDeal(rec.Payload.Raw)
		var pretty bytes.Buffer
		if json.Indent(&pretty, rec.Payload.Raw, "", "  ") == nil {
			v.RawPayload = pretty.String()
		} else {
			v.RawPayload = string(rec.Payload.Raw)
		}
	}
	if rec.PH != nil {
		v.PH = phFields(rec.PH)
	}
	if len(rec.Load.Result) > 0 {
		var res loader.Result
		if err := json.Unmarshal(rec.Load.Result, &res); err != nil {
			v.ResultErr = "the stored load result cannot be read: " + err.Error()
		} else {
			v.Result = c.resultView(&res)
		}
	}
	for _, e := range rec.Exceptions {
		if e.ResolvedAt.IsZero() {
			v.Open = append(v.Open, e)
		} else {
			v.Resolved = append(v.Resolved, e)
		}
	}
	return v
}

// decodeDeal reads a staged payload as the reference Opportunity. A payload
// of another shape gives the reason instead (the page then shows the raw
// JSON only).
func decodeDeal(raw []byte) (*dealView, string) {
	d, err := sfdc.Decode[sfdc.Opportunity](raw, sfdc.WithMaxBytes(int64(len(raw))+1))
	if err != nil {
		return nil, "The payload does not read as the reference Opportunity: " + err.Error()
	}
	o := &d.Value
	v := &dealView{}
	var ve *sfdc.ValidationError
	if err := sfdc.Validate(o); errors.As(err, &ve) {
		v.Problems = ve.Problems
	} else if err != nil {
		v.Problems = []sfdc.Problem{{Path: "/", Rule: "validate", Message: err.Error()}}
	}
	add := func(list *[]field, label, value string) {
		if strings.TrimSpace(value) != "" {
			*list = append(*list, field{label, value})
		}
	}
	var account, address string
	if o.Account != nil {
		account = o.Account.Name
		parts := []string{o.Account.BillingStreet, strings.TrimSpace(o.Account.BillingPostalCode + " " + o.Account.BillingCity),
			o.Account.BillingState, o.Account.BillingCountry}
		var kept []string
		for _, p := range parts {
			if strings.TrimSpace(p) != "" {
				kept = append(kept, p)
			}
		}
		address = strings.Join(kept, ", ")
	}
	add(&v.Facts, "Account", account)
	add(&v.Facts, "Opportunity", o.Name)
	add(&v.Facts, "Salesforce id", o.ID)
	add(&v.Facts, "Stage", o.StageName)
	add(&v.Facts, "ECC id", o.EndUserECCID)
	add(&v.Facts, "DR number", o.DealRegistrationID)
	add(&v.Facts, "Sales order", o.SalesOrderNumber)
	add(&v.Facts, "Contract number", o.ContractNumber)
	add(&v.Facts, "Total contract value", FormatMoney(o.CurrencyIsoCode, o.TotalExtendedPrice.String()))
	add(&v.Facts, "Close date", o.CloseDate.String())
	add(&v.Facts, "Service start", o.ServiceCommenceDate.String())
	add(&v.Facts, "Service end", o.ServiceEndDate.String())
	add(&v.Facts, "Product", o.Product())
	add(&v.Facts, "Industry", o.Industry)
	add(&v.Facts, "Finance name", o.OrganizationName)
	add(&v.Facts, "Customer contact", o.CustomerContactEmail)
	add(&v.Facts, "Billing address", address)
	add(&v.Facts, "Last modified", o.LastModifiedDate.String())
	for _, m := range o.SalesTeam.Records {
		name := ""
		if m.Member != nil {
			name = m.Member.Name
		}
		add(&v.Team, strings.ToLower(m.Role), name)
	}
	for i, l := range o.LineItems.Records {
		lv := lineView{N: i + 1, Name: l.Name, SKU: l.SKU, Quantity: l.Quantity.String(),
			Total: FormatMoney(o.CurrencyIsoCode, l.TotalPrice.String()), Start: l.NewContractStart.String(),
			End: l.NewContractEnd.String(), MS: l.IsManagedServices()}
		if l.PricebookEntry != nil && l.PricebookEntry.Product2 != nil {
			lv.Family = l.PricebookEntry.Product2.Family
		}
		if lv.MS {
			v.MSCount++
		}
		v.Lines = append(v.Lines, lv)
	}
	return v, ""
}

// phLabels are the PH email's fields in the order the page shows them.
var phLabels = []field{
	{"Company name", staging.FieldCompanyName},
	{"DR number", staging.FieldDRNumber},
	{"ECC id", staging.FieldECCID},
	{"Sales order number", staging.FieldSalesOrderNumber},
	{"Deploy-to email", staging.FieldDeployToEmail},
	{"Marketing Cloud tenant", staging.FieldTenantID},
	{"IMS org id", staging.FieldIMSOrgID},
	{"Ticket details", staging.FieldTicketLink},
}

func phFields(ph *staging.PHData) []field {
	var out []field
	// The metadata keys are shown from PHData's own fields.
	seen := map[string]bool{"message_id": true, "subject": true, "from": true, "date": true}
	for _, l := range phLabels {
		seen[l.Value] = true
		if v := ph.Fields[l.Value]; v != "" {
			out = append(out, field{l.Label, v})
		}
	}
	var extra []string
	for k := range ph.Fields {
		if !seen[k] && ph.Fields[k] != "" {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		out = append(out, field{k, ph.Fields[k]})
	}
	return out
}

// resultView adds target links to a load result.
func (c *Console) resultView(res *loader.Result) *resultView {
	v := &resultView{Status: string(res.Status), Error: res.Error, StoppedBy: res.StoppedBy, Warnings: res.Warnings,
		Calls: res.Calls.String()}
	for _, s := range res.Steps {
		sv := stepView{ID: s.ID, Table: s.Table, Outcome: string(s.Outcome), TargetID: s.TargetID, Reason: s.Reason,
			Changes: len(s.Changes), Exception: s.Exception, Attachments: s.Attachments}
		sv.Link = c.targetLink(s.Table, s.TargetID)
		if s.Exception != nil {
			sv.ExcLink = c.targetLink(s.Exception.Table, s.Exception.ID)
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
