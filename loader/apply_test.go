package loader_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
)

func apply(t *testing.T, tg loader.Target, plan *loader.Plan, j loader.Journal, opts loader.Options) *loader.Result {
	t.Helper()
	if opts.Attachments == nil {
		opts.Attachments = loadertest.ReferenceFiles()
	}
	res, err := loader.Apply(context.Background(), plan, tg, j, opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

func outcomes(res *loader.Result) string {
	var parts []string
	for _, s := range res.Steps {
		p := s.ID + "=" + string(s.Outcome)
		if s.Resumed {
			p += "(resumed)"
		}
		for _, a := range s.Attachments {
			p += "+" + string(a.Action)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func TestReferencePlanLoadedTwiceWritesNothingTheSecondTime(t *testing.T) {
	tg := newTarget(t)
	plan := loadertest.ReferencePlan(10)
	first := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	if first.Status != loader.StatusLoaded {
		t.Fatalf("first load: %s (%s)", first.Status, first.Error)
	}
	if want := "company=inserted finance=inserted sales_order=inserted+upload"; !strings.HasPrefix(outcomes(first), want) {
		t.Fatalf("first load: %s, want %s ...", outcomes(first), want)
	}
	if first.Count(loader.Inserted) != 13 {
		t.Errorf("first load inserted %d records, want 13", first.Count(loader.Inserted))
	}
	// One lookup (block number), one find (the company): every later
	// step references a record this load created, so nothing can match it.
	want := loader.Calls{Find: 1, Lookup: 1, Insert: 13, Attach: 1}
	if first.Calls != want {
		t.Errorf("first load calls = %+v, want %+v", first.Calls, want)
	}
	if len(first.Journal.Writes) != 14 {
		t.Errorf("journal has %d writes, want 14", len(first.Journal.Writes))
	}
	after := canonical(tg)

	second := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	if second.Status != loader.StatusLoaded || second.Changed() {
		t.Fatalf("second load: %s, changed %v: %s", second.Status, second.Changed(), outcomes(second))
	}
	if second.Count(loader.Unchanged) != 13 {
		t.Errorf("second load: %s, want every step unchanged", outcomes(second))
	}
	if got := second.Steps[2].Attachments[0].Action; got != loader.AttachPresent {
		t.Errorf("second load: contract attachment %s, want present", got)
	}
	// One find per step, the ten SKUs in one query, one listing of the
	// sales order's files.
	want = loader.Calls{Find: 4, Lookup: 1, Attachments: 1}
	if second.Calls != want {
		t.Errorf("second load calls = %+v, want %+v", second.Calls, want)
	}
	if !strings.HasSuffix(second.Summary(), "nothing to change") {
		t.Errorf("summary %q does not say nothing changed", second.Summary())
	}
	if got := canonical(tg); got != after {
		t.Errorf("second load changed the tables:\n%s\nwant\n%s", got, after)
	}
	// A third run that resumes from the full journal does not even look.
	third := apply(t, tg, plan, first.Journal, loader.Options{})
	if third.Calls.Total() != 0 || third.Status != loader.StatusLoaded {
		t.Errorf("resuming a finished journal: %s, calls %+v", third.Status, third.Calls)
	}
	// Every outcome, resumed or not, carries the plan step's label.
	for _, res := range []*loader.Result{first, second, third} {
		for i, s := range res.Steps {
			if s.ID != plan.Steps[i].ID || s.Label != plan.Steps[i].Label {
				t.Errorf("step %d: %s %q, want %s %q", i, s.ID, s.Label, plan.Steps[i].ID, plan.Steps[i].Label)
			}
		}
	}
}

func TestBlockNumberIsTheHighestActiveChoice(t *testing.T) {
	tg := newTarget(t)
	tg.Seed("sys_choice", map[string]string{"name": "core_company", "element": "u_block_number", "value": "12", "inactive": "false"})
	tg.Seed("sys_choice", map[string]string{"name": "core_company", "element": "u_block_number", "value": "n/a", "inactive": "false"})
	tg.Seed("sys_choice", map[string]string{"name": "core_company", "element": "u_block_number", "value": "40", "inactive": "true"})
	res := apply(t, tg, loadertest.ReferencePlan(1), loader.Journal{}, loader.Options{})
	if got := changeOf(res.Steps[0], "u_block_number"); got != "12" {
		t.Errorf("u_block_number = %q, want 12", got)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %v", res.Warnings)
	}
}

func TestMissingBlockNumberLeavesTheFieldEmptyWithAWarning(t *testing.T) {
	tg := newTarget(t)
	for _, r := range tg.Dump()["sys_choice"] {
		if _, err := tg.Update(context.Background(), "sys_choice", r.ID, map[string]string{"inactive": "true"}); err != nil {
			t.Fatal(err)
		}
	}
	res := apply(t, tg, loadertest.ReferencePlan(1), loader.Journal{}, loader.Options{})
	if _, set := tg.Dump()["core_company"][0].Fields["u_block_number"]; set {
		t.Error("u_block_number was set")
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no active block number") {
		t.Errorf("warnings = %q", res.Warnings)
	}
	if res.Status != loader.StatusLoaded {
		t.Errorf("status %s", res.Status)
	}
}

func changeOf(s loader.StepResult, field string) string {
	for _, c := range s.Changes {
		if c.Field == field {
			return c.New
		}
	}
	return "<none>"
}

func TestUpdateWritesOnlyTheFieldsThatDiffer(t *testing.T) {
	tg := newTarget(t)
	plan := loadertest.ReferencePlan(2)
	apply(t, tg, plan, loader.Journal{}, loader.Options{})
	company := tg.Dump()["core_company"][0]
	if _, err := tg.Update(context.Background(), "core_company", company.ID, map[string]string{"u_customer_contact": "old@example.com", "u_aem_forms": "", "name": "Renamed by hand"}); err != nil {
		t.Fatal(err)
	}
	res := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	s := res.Steps[0]
	if s.Outcome != loader.Updated {
		t.Fatalf("company: %s", s.Outcome)
	}
	got := fmt.Sprint(s.Changes)
	want := "[{u_aem_forms  true} {u_customer_contact old@example.com it-buyer@mueller-soehne.example}]"
	if got != want {
		t.Errorf("changes = %s, want %s (name is on_insert only)", got, want)
	}
	if res.Calls.Update != 1 || res.Calls.Insert != 0 {
		t.Errorf("calls %+v, want one update", res.Calls)
	}
	if w := res.Journal.Writes; len(w) != 1 || w[0].Op != loader.OpUpdate || fmt.Sprint(w[0].Fields) != "[u_aem_forms u_customer_contact]" {
		t.Errorf("journal writes %+v", w)
	}
	if name := tg.Dump()["core_company"][0].Fields["name"]; name != "Renamed by hand" {
		t.Errorf("name = %q: an update must not touch on_insert fields", name)
	}
}

func TestSeveralCompaniesRaiseOneProblemAndStop(t *testing.T) {
	tg := newTarget(t)
	for range 2 {
		tg.Seed("core_company", map[string]string{"u_ecc_id": loadertest.RefECCID, "u_product": "AEM"})
	}
	plan := loadertest.ReferencePlan(3)
	res := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	if res.Status != loader.StatusNeedsReview || res.StoppedBy != "company" {
		t.Fatalf("status %s stopped by %q", res.Status, res.StoppedBy)
	}
	if got := outcomes(res); got != "company=exception finance=skipped sales_order=skipped+skipped skus[0]=skipped skus[1]=skipped skus[2]=skipped" {
		t.Errorf("outcomes: %s", got)
	}
	e := res.Steps[0].Exception
	if e == nil || e.Table != "problem" || e.ID == "" || e.AlreadyRaised || !e.Stop {
		t.Fatalf("exception %+v", e)
	}
	problems := tg.Dump()["problem"]
	if len(problems) != 1 || problems[0].Fields["priority"] != "2" || !strings.Contains(problems[0].Fields["short_description"], loadertest.RefRecord) {
		t.Fatalf("problems %+v", problems)
	}
	if res.Calls.Writes() != 1 {
		t.Errorf("writes %+v", res.Calls)
	}
	// Pressing the button again raises no second ticket.
	again := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	if e := again.Steps[0].Exception; e == nil || !e.AlreadyRaised || e.ID != problems[0].ID {
		t.Errorf("second run exception %+v", e)
	}
	if n := len(tg.Dump()["problem"]); n != 1 || again.Changed() {
		t.Errorf("second run: %d problems, changed %v", n, again.Changed())
	}
	// Resuming from the first run's journal neither looks nor writes.
	resumed := apply(t, tg, plan, res.Journal, loader.Options{})
	if resumed.Calls.Total() != 0 || resumed.StoppedBy != "company" || !resumed.Steps[0].Resumed {
		t.Errorf("resumed: %s calls %+v", outcomes(resumed), resumed.Calls)
	}
}

func TestOnMultiplePolicies(t *testing.T) {
	for _, c := range []struct {
		policy  loader.OnMultiple
		status  loader.Status
		outcome loader.Outcome
		err     error
	}{
		{loader.OnMultipleSkip, loader.StatusNeedsReview, loader.Skipped, nil},
		{loader.OnMultipleFail, loader.StatusFailed, loader.Failed, loader.ErrMultipleMatches},
		{loader.OnMultipleException, loader.StatusNeedsReview, loader.Exception, nil},
	} {
		t.Run(string(c.policy), func(t *testing.T) {
			tg := newTarget(t)
			plan := loadertest.ReferencePlan(1)
			apply(t, tg, plan, loader.Journal{}, loader.Options{})
			company := tg.Dump()["core_company"][0].ID
			tg.Seed("u_ams_finance_names", map[string]string{"u_company": company, "u_finance_name": "Müller & Søn Finance EMEA"})
			plan.Steps[1].OnMultiple = c.policy
			res, err := loader.Apply(context.Background(), plan, tg, loader.Journal{}, loader.Options{Attachments: loadertest.ReferenceFiles()})
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if res.Status != c.status || res.Steps[1].Outcome != c.outcome {
				t.Errorf("status %s, finance %s; want %s, %s", res.Status, res.Steps[1].Outcome, c.status, c.outcome)
			}
			if c.policy != loader.OnMultipleFail && res.Steps[2].Outcome != loader.Unchanged {
				t.Errorf("steps that do not depend on finance must still run: %s", outcomes(res))
			}
		})
	}
}

func TestFailedRequireRaisesTheException(t *testing.T) {
	tg := newTarget(t)
	plan := loadertest.ReferencePlan(1)
	plan.Steps[0].Failed = "the deal has no ECC id"
	res := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	if res.Status != loader.StatusNeedsReview || res.Steps[0].Outcome != loader.Exception || res.Steps[0].Reason != "require failed: the deal has no ECC id" {
		t.Fatalf("%s: %s / %q", res.Status, outcomes(res), res.Steps[0].Reason)
	}
	if n := len(tg.Dump()["core_company"]); n != 0 {
		t.Errorf("%d companies written", n)
	}
	plan.Steps[0].Exception = nil
	res = apply(t, newTarget(t), plan, loader.Journal{}, loader.Options{})
	if res.Steps[0].Outcome != loader.Failed || res.Status != loader.StatusNeedsReview {
		t.Errorf("without an exception: %s %s", res.Status, outcomes(res))
	}
}

func TestForeachItemsWithTheSameMatchWriteOneRecordOnce(t *testing.T) {
	tg := newTarget(t)
	plan := loadertest.ReferencePlan(3)
	// Two lines with the same SKU: the mapping warns, the later one wins.
	plan.Steps[5].Match["u_adobe_sku"] = plan.Steps[3].Match["u_adobe_sku"]
	res := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	if res.Status != loader.StatusLoaded {
		t.Fatalf("status %s: %s", res.Status, outcomes(res))
	}
	if s := res.Steps[3]; s.Outcome != loader.Skipped || s.SupersededBy != "skus[2]" {
		t.Errorf("skus[0]: %s superseded by %q", s.Outcome, s.SupersededBy)
	}
	skus := tg.Dump()["u_sales_skus"]
	if len(skus) != 2 {
		t.Fatalf("%d SKU records, want 2", len(skus))
	}
	again := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	if again.Changed() || again.Status != loader.StatusLoaded {
		t.Errorf("second load: %s changed %v", outcomes(again), again.Changed())
	}
	plan.Steps[4].Name = "other"
	plan.Steps[4].Match["u_dr_number"] = loader.Lit("x")
	plan.Steps[3].Match["u_dr_number"] = loader.Lit("x")
	plan.Steps[3].Match["u_adobe_sku"] = plan.Steps[4].Match["u_adobe_sku"]
	if err := loader.Validate(plan); err == nil || !strings.Contains(err.Error(), `steps "skus[0]" and "skus[1]" match the same u_sales_skus record`) {
		t.Errorf("distinct steps with one match: %v", err)
	}
}

func TestInvalidPlanListsEveryProblem(t *testing.T) {
	plan := loadertest.ReferencePlan(1)
	plan.Steps[0].Match = nil
	plan.Steps[1].Table = ""
	plan.Steps[2].OnMultiple = "guess"
	plan.Steps[2].Attach[0].SHA256 = "abc"
	plan.Steps[3].Fields["u_customer"] = loader.RefTo("later")
	plan.Steps[3].Fields["u_adobe_sku"] = loader.Lit("other")
	_, err := loader.Apply(context.Background(), plan, newTarget(t), loader.Journal{}, loader.Options{})
	var pe *loader.PlanError
	if !errors.As(err, &pe) || !errors.Is(err, loader.ErrInvalidPlan) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`step 0 ("company"): no match fields`,
		`step 1 ("finance"): no table`,
		`step 2 ("sales_order"): on_multiple "guess"`,
		`step 2 ("sales_order"): attach[0]`,
		`step 3 ("skus[0]"): fields.u_customer references "later"`,
		`step 3 ("skus[0]"): fields.u_adobe_sku differs from match.u_adobe_sku`,
	}
	if len(pe.Problems) != len(want) {
		t.Errorf("problems:\n%s", strings.Join(pe.Problems, "\n"))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing problem %q in\n%s", w, strings.Join(pe.Problems, "\n"))
		}
	}
	_, err = loader.Apply(context.Background(), loadertest.ReferencePlan(1), newTarget(t), loader.Journal{}, loader.Options{})
	if err == nil || !strings.Contains(err.Error(), "Options.Attachments is nil") {
		t.Errorf("no attachment source: %v", err)
	}
}

func TestJournalOfAnotherPlanIsRefused(t *testing.T) {
	tg := newTarget(t)
	res := apply(t, tg, loadertest.ReferencePlan(1), loader.Journal{}, loader.Options{})
	_, err := loader.Apply(context.Background(), loadertest.ReferencePlan(2), tg, res.Journal, loader.Options{Attachments: loadertest.ReferenceFiles()})
	if !errors.Is(err, loader.ErrJournalMismatch) {
		t.Fatalf("err = %v", err)
	}
}

func TestChangedAttachmentIsNotUploaded(t *testing.T) {
	tg := newTarget(t)
	src := loader.MapSource{loadertest.RefContractPDF: []byte("%PDF-1.4 tampered")}
	res, err := loader.Apply(context.Background(), loadertest.ReferencePlan(1), tg, loader.Journal{}, loader.Options{Attachments: src})
	if !errors.Is(err, loader.ErrAttachmentChanged) || res.Status != loader.StatusFailed {
		t.Fatalf("err = %v, status %s", err, res.Status)
	}
	so := tg.Dump()["u_managed_services_sales_order"][0]
	if files := tg.Files("u_managed_services_sales_order", so.ID); len(files) != 0 {
		t.Errorf("files uploaded: %v", files)
	}
}

func TestFileWithTheSameNameButOtherContentIsUploaded(t *testing.T) {
	tg := newTarget(t)
	plan := loadertest.ReferencePlan(0)
	apply(t, tg, plan, loader.Journal{}, loader.Options{})
	so := tg.Dump()["u_managed_services_sales_order"][0]
	// Someone replaced the contract with another file of the same name.
	tg2 := newTarget(t)
	_ = tg2
	newPDF := []byte("%PDF-1.4 amended contract")
	plan.Steps[2].Attach[0].SHA256 = loadertest.SHA256Hex(newPDF)
	res := apply(t, tg, plan, loader.Journal{}, loader.Options{Attachments: loader.MapSource{loadertest.RefContractPDF: newPDF}})
	if a := res.Steps[2].Attachments[0]; a.Action != loader.AttachUploaded {
		t.Errorf("attachment %+v, want uploaded", a)
	}
	if n := len(tg.Files("u_managed_services_sales_order", so.ID)); n != 2 {
		t.Errorf("%d files on the sales order, want 2", n)
	}
}

// barrierTarget holds every insert into table until n of them are
// waiting at once: the load only completes when they run concurrently.
type barrierTarget struct {
	loader.Target
	table   string
	n       int
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

func (b *barrierTarget) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	if table == b.table {
		b.mu.Lock()
		b.waiting++
		if b.waiting == b.n {
			close(b.open)
		}
		b.mu.Unlock()
		select {
		case <-b.open:
		case <-time.After(10 * time.Second):
			return loader.Record{}, fmt.Errorf("only %d %s inserts ran at once, want %d", b.waiting, table, b.n)
		}
	}
	return b.Target.Insert(ctx, table, fields)
}

func TestIndependentWritesRunConcurrently(t *testing.T) {
	tg := &barrierTarget{Target: newTarget(t), table: "u_sales_skus", n: 10, open: make(chan struct{})}
	res := apply(t, tg, loadertest.ReferencePlan(10), loader.Journal{}, loader.Options{})
	if res.Status != loader.StatusLoaded {
		t.Fatal(res.Error)
	}
	seq := &faulty{Target: newTarget(t)}
	apply(t, seq, loadertest.ReferencePlan(10), loader.Journal{}, loader.Options{Concurrency: 1})
	if seq.maxInFlight != 1 {
		t.Errorf("Concurrency 1: %d calls in flight", seq.maxInFlight)
	}
}
