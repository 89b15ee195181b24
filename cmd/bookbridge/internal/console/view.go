package console

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
	// LoadedAs is the label of the plan step that writes the line, and
	// Table its table; empty when the plan does not load the line.
	LoadedAs string
	Table    string
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
	// LineSummary says, from the record's plan, which lines the load
	// writes and which it does not, and why.
	LineSummary []string
}

type stepView struct {
	ID string
	// Name is the step's label for people, or its ID when it has none.
	Name        string
	Table       string
	Outcome     string
	TargetID    string
	Link        string
	Reason      string
	Changes     int
	Exception   *loader.ExceptionResult
	ExcLink     string
	Attachments []fileView
}

// fileView is an attachment of a step with what became of it, in words.
type fileView struct {
	FileName string
	Words    string
}

// resultView is a load's result with links to the target's records.
type resultView struct {
	Status string
	// Words is the result in words ("inserted 9 rows, updated 0, ...").
	Words     string
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
	// Warnings are the plan's: what the load leaves out, and why.
	Warnings  []string
	PlanError string
	// Progress is what a load under way or failed wrote to the target
	// already and what it still has to do.
	Progress *progressView
	// Retrying is set while a load waits for its next try.
	Retrying bool
	NextTry  string
}

// progressView is a load's partial writes and pending steps, with links.
type progressView struct {
	Written []writeView
	Pending []pendingView
}

type writeView struct {
	Step     string
	Words    string
	Table    string
	TargetID string
	Link     string
}

type pendingView struct {
	Step  string
	Table string
}

// recordView builds the record page's data.
func (c *Console) recordView(rec *staging.Record, hist []staging.Event) *recordView {
	v := &recordView{Rec: rec, Target: c.app.Cfg.Target, History: hist, Late: c.isLate(rec.Summary)}
	if v.Late {
		v.Age = c.ago(rec.StateSince)
	}
	v.Loadable, v.Reason = rec.Loadable()
	var plan *loader.Plan
	if rec.Payload != nil {
		var err error
		if plan, err = c.app.Flow.Plan(rec); err != nil {
			v.PlanError = err.Error()
		} else {
			v.Warnings = plan.Warnings
		}
		v.Deal, v.DealError = c.decodeDeal(rec.Payload.Raw)
		if v.Deal != nil && plan != nil {
			summarizeLines(v.Deal, plan)
		}
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
	v.Progress = c.progressView(c.app.Flow.Progress(rec), plan)
	if rec.State == staging.StateLoading && rec.Load.Retrying() {
		v.Retrying = true
		v.NextTry = c.until(rec.Load.NextTryAt)
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
func (c *Console) decodeDeal(raw []byte) (*dealView, string) {
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
	if o.LastModifiedDate.Valid {
		add(&v.Facts, "Last modified", c.when(o.LastModifiedDate.Time))
	}
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
	v := &resultView{Status: string(res.Status), Words: resultWords(res), Error: res.Error, StoppedBy: res.StoppedBy, Warnings: res.Warnings,
		Calls: res.Calls.String()}
	for _, s := range res.Steps {
		sv := stepView{ID: s.ID, Name: stepName(s.Label, s.ID), Table: s.Table, Outcome: string(s.Outcome), TargetID: s.TargetID, Reason: s.Reason,
			Changes: len(s.Changes), Exception: s.Exception}
		for _, a := range s.Attachments {
			sv.Attachments = append(sv.Attachments, fileView{FileName: a.FileName, Words: attachWords(a.Action)})
		}
		sv.Link = c.targetLink(s.Table, s.TargetID)
		if s.Exception != nil {
			sv.ExcLink = c.targetLink(s.Exception.Table, s.Exception.ID)
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// stepName is a step's label for people, or its ID when it has none.
func stepName(label, id string) string {
	if strings.TrimSpace(label) != "" {
		return label
	}
	return id
}

// stepLabels maps the plan's step IDs to their names for people.
func stepLabels(plan *loader.Plan) map[string]string {
	out := map[string]string{}
	if plan != nil {
		for _, s := range plan.Steps {
			out[s.ID] = stepName(s.Label, s.ID)
		}
	}
	return out
}

// progressView adds step names and target links to a load's progress: the
// labels of the load's own plan, else those of plan (the same step IDs).
func (c *Console) progressView(p *bookbridge.LoadProgress, plan *loader.Plan) *progressView {
	if p == nil || (len(p.Written) == 0 && len(p.Pending) == 0) {
		return nil
	}
	names := stepLabels(plan)
	name := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return id
	}
	v := &progressView{}
	for _, w := range p.Written {
		v.Written = append(v.Written, writeView{Step: cmp.Or(w.Label, name(w.Step)), Words: writeWords(w.Write), Table: w.Table, TargetID: w.TargetID,
			Link: c.targetLink(w.Table, w.TargetID)})
	}
	for _, s := range p.Pending {
		v.Pending = append(v.Pending, pendingView{Step: cmp.Or(s.Label, name(s.ID)), Table: s.Table})
	}
	return v
}

// lineOfLabel finds the payload line a step's label names, as the
// reference rules label them: "... (line 3)".
var lineOfLabel = regexp.MustCompile(`\(line (\d+)\)\s*$`)

// lineOfWarning finds the payload line a plan warning is about, as the
// reference rules word them: "line 6 ...".
var lineOfWarning = regexp.MustCompile(`^line (\d+)\b`)

// summarizeLines marks the lines the plan writes and says, in a few
// sentences, which lines the load writes and which not, and why. It reads
// the plan only (its step labels and warnings); it does not decide
// anything the rules decide.
func summarizeLines(d *dealView, plan *loader.Plan) {
	byLine := map[int]loader.Step{}
	for _, s := range plan.Steps {
		if m := lineOfLabel.FindStringSubmatch(s.Label); m != nil {
			n, _ := strconv.Atoi(m[1])
			if _, seen := byLine[n]; !seen {
				byLine[n] = s
			}
		}
	}
	why := map[int]string{}
	for _, w := range plan.Warnings {
		if m := lineOfWarning.FindStringSubmatch(w); m != nil {
			n, _ := strconv.Atoi(m[1])
			why[n] = w
		}
	}
	var loaded []int
	tables := map[string]bool{}
	var tableList []string
	var msLeft, otherLeft []lineView
	for i := range d.Lines {
		l := &d.Lines[i]
		if s, ok := byLine[l.N]; ok {
			l.LoadedAs, l.Table = s.Label, s.Table
			loaded = append(loaded, l.N)
			if !tables[s.Table] {
				tables[s.Table] = true
				tableList = append(tableList, s.Table)
			}
			continue
		}
		if l.MS {
			msLeft = append(msLeft, *l)
		} else {
			otherLeft = append(otherLeft, *l)
		}
	}
	var out []string
	if d.MSCount > 0 {
		out = append(out, plural(d.MSCount, "managed-services line", "managed-services lines")+
			fmt.Sprintf(": %d become%s rows of %s", len(loaded), map[bool]string{true: "s", false: ""}[len(loaded) == 1],
				orNone(strings.Join(tableList, ", "))))
	} else if len(loaded) > 0 {
		out = append(out, fmt.Sprintf("%s become rows of %s", plural(len(loaded), "line", "lines"), strings.Join(tableList, ", ")))
	}
	for _, l := range msLeft {
		reason := why[l.N]
		if reason == "" {
			reason = fmt.Sprintf("line %d %q (%s) is not loaded: the plan has no step for it", l.N, l.Name, l.Total)
		}
		out = append(out, "Not loaded: "+reason)
	}
	if n := len(otherLeft); n > 0 {
		out = append(out, plural(n, "line is not a managed-services line", "lines are not managed-services lines")+" and not loaded")
	}
	d.LineSummary = out
}

func orNone(s string) string {
	if s == "" {
		return "no table"
	}
	return s
}
