package staging_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// The property test of Intake's two paths: on Postgres a deal seen for the
// first time is staged in a batch, anything else (and anything the batch
// is unsure of) on the general path. Both must stage the same records and
// history and give the same answers, whatever the sequence of deliveries.
var (
	propSeedFlag = flag.Int64("intake.seed", 0,
		"TestIntakePathsAgree: replay the sequences of this seed (0: a new seed; "+propSeedEnv+" sets it too)")
	propSeqFlag = flag.Int("intake.seq", -1,
		"TestIntakePathsAgree: run only the sequence with this index of the seed")
)

const (
	propSeedEnv   = "BOOKBRIDGE_INTAKE_SEED"
	propSequences = 30 // sequences per run
	propMinSteps  = 10 // steps per sequence, at least
	propMaxSteps  = 40 // and at most
)

// TestIntakePathsAgree applies random sequences of payload and PH email
// deliveries, some of them concurrent, to two Postgres stores: one batching
// new deals (the default), one taking the general path for every deal.
// After each sequence the records it touched, their histories and the
// answers of every step must be the same on both, ids and record numbers
// aside (each database numbers its own records).
func TestIntakePathsAgree(t *testing.T) {
	seed := propSeed(t)
	t.Logf("seed %d (replay with -intake.seed=%d or %s=%d)", seed, seed, propSeedEnv, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clock := newClock() // both stores' clock: it moves only between steps, so they write the same timestamps
	batched := &propSide{name: "batched", s: propStore(t, clock)}
	general := &propSide{name: "general", s: propStore(t, clock)}
	staging.GeneralPathOnly(general.s)

	for i := range propSequences {
		if *propSeqFlag >= 0 && i != *propSeqFlag {
			continue
		}
		steps := newPropGen(seed, i).sequence()
		for n, st := range steps {
			// The stores are independent: each step runs on both at once.
			errA, errB := propBoth(func() error { return batched.apply(ctx, st) }, func() error { return general.apply(ctx, st) })
			if err := cmp.Or(errA, errB); err != nil {
				t.Fatalf("sequence %d, step %d (%s): %v\nseed %d (replay with -intake.seed=%d -intake.seq=%d)\n%s",
					i, n, st.name, err, seed, seed, i, propListSteps(steps[:n+1]))
			}
			clock.Advance(time.Second)
		}
		var a, b string
		errA, errB := propBoth(func() (err error) { a, err = batched.report(ctx); return err },
			func() (err error) { b, err = general.report(ctx); return err })
		if err := cmp.Or(errA, errB); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("sequence %d: the batched path (-) and the general path (+) disagree:\n%s\nseed %d (replay with -intake.seed=%d -intake.seq=%d)\nsteps:\n%s",
				i, propDiff(a, b), seed, seed, i, propListSteps(steps))
		}
	}
}

// propBoth runs a and b at once and returns their errors.
func propBoth(a, b func() error) (errA, errB error) {
	var wg sync.WaitGroup
	wg.Go(func() { errA = a() })
	errB = b()
	wg.Wait()
	return errA, errB
}

// propSeed returns the seed to replay, from the flag or the environment,
// or a new one.
func propSeed(t *testing.T) int64 {
	if *propSeedFlag != 0 {
		return *propSeedFlag
	}
	if v := os.Getenv(propSeedEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an integer seed, as the test logs it", propSeedEnv, v)
		}
		return n
	}
	return rand.Int64N(1<<53) + 1
}

// propStore is a migrated store on a Postgres schema of its own.
func propStore(t *testing.T, clock *testClock) *staging.Store {
	t.Helper()
	s := staging.New(dbtest.Postgres(t), staging.WithClock(clock.Now), staging.WithLogger(slog.New(slog.DiscardHandler)))
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// A propStep is one step of a sequence: one delivery, a few in a row, or a
// few started at once (together) whose outcomes do not depend on their
// order.
type propStep struct {
	name     string
	ops      []propOp
	together bool
}

// A propOp is one delivery: a payload or a PH email, with the options
// of the call (described by how).
type propOp struct {
	payload *staging.Payload
	email   *staging.Email
	opts    []staging.Option
	how     string
}

func (op propOp) String() string {
	if p := op.payload; p != nil {
		modified := "no LastModifiedDate"
		if !p.ModifiedAt.IsZero() {
			modified = p.ModifiedAt.Format(time.RFC3339Nano)
		}
		return fmt.Sprintf("payload %s version %d (%s) hash %.12s keys %s/%s/%s %s", p.SalesforceID, p.Version,
			modified, propHash(p), p.Keys.ECCID, p.Keys.DRNumber, p.Keys.SalesOrderNumber, op.how)
	}
	e := op.email
	return fmt.Sprintf("email %s keys %s/%s/%s, %d file(s) %s", e.MessageID,
		e.Fields[staging.FieldECCID], e.Fields[staging.FieldDRNumber], e.Fields[staging.FieldSalesOrderNumber], len(e.Attachments), op.how)
}

// propHash is the payload's content hash as Intake computes it.
func propHash(p *staging.Payload) string {
	if p.Hash != "" {
		return p.Hash
	}
	sum := sha256.Sum256(p.Raw)
	return hex.EncodeToString(sum[:])
}

func propListSteps(steps []propStep) string {
	var b strings.Builder
	for n, st := range steps {
		how := ""
		if st.together {
			how = ", at once"
		}
		fmt.Fprintf(&b, "  %d. %s%s\n", n, st.name, how)
		for _, op := range st.ops {
			fmt.Fprintf(&b, "       %s\n", op)
		}
	}
	return b.String()
}

// propGen makes the random sequences. Every id it makes carries the
// sequence's index, so that sequences never touch each other's records.
type propGen struct {
	rnd     *rand.Rand
	seq     int
	deals   []*propDeal
	counter int // makes ids and contents unique
}

// A propCustomer is one ECC id, and the DR numbers its PH emails stated.
type propCustomer struct {
	ecc, so  string
	company  string
	sequence bool // its deals have no LastModifiedDate: versions are the sender's sequence
	emailDRs []string
}

// A propDeal is one Salesforce deal and the payloads sent of it.
type propDeal struct {
	c        *propCustomer
	sfID, dr string
	first    time.Time         // LastModifiedDate of its first version
	newest   int64             // the largest version sent
	sent     []staging.Payload // in the order sent
	pending  bool              // made for an email, not sent yet
}

func newPropGen(seed int64, seq int) *propGen {
	return &propGen{rnd: rand.New(rand.NewPCG(uint64(seed), uint64(seq))), seq: seq}
}

func (g *propGen) next() int { g.counter++; return g.counter }

// sequence returns the steps of one sequence.
func (g *propGen) sequence() []propStep {
	kinds := []struct {
		weight int
		make   func() (propStep, bool)
	}{
		{5, g.newDeal}, {1, g.anotherDeal}, {3, g.redelivery}, {1, g.oldRedelivery}, {3, g.newer}, {2, g.older},
		{2, g.sameVersion}, {3, g.emailFirst}, {2, g.twoEmailsFirst}, {1, g.furtherEmail}, {4, g.dealArrives},
		{2, g.emailForDeal}, {2, g.correctedKeys}, {1, g.keysCorrected}, {3, g.together},
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	n := propMinSteps + g.rnd.IntN(propMaxSteps-propMinSteps+1)
	steps := make([]propStep, 0, n)
	// A new deal can always be made, so the steps are complete long
	// before the bound.
	for try := 0; len(steps) < n && try < 100*n; try++ {
		pick := g.rnd.IntN(total)
		for _, k := range kinds {
			if pick -= k.weight; pick < 0 {
				if st, ok := k.make(); ok {
					steps = append(steps, st)
				}
				break
			}
		}
	}
	return steps
}

func (g *propGen) newCustomer() *propCustomer {
	n := g.next()
	c := &propCustomer{ecc: fmt.Sprintf("7%03d%05d", g.seq, n), company: fmt.Sprintf("Kunde %d-%d GmbH", g.seq, n),
		sequence: g.rnd.IntN(6) == 0}
	if g.rnd.IntN(2) == 0 {
		c.so = fmt.Sprintf("45%03d%05d", g.seq, n)
	}
	return c
}

func (g *propGen) newPropDeal(c *propCustomer, pending bool) *propDeal {
	n := g.next()
	d := &propDeal{c: c, sfID: fmt.Sprintf("006P%03dX%08d", g.seq, n), pending: pending,
		first: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).Add(time.Duration(g.rnd.IntN(600)) * time.Minute)}
	if g.rnd.IntN(5) != 0 {
		d.dr = fmt.Sprintf("DR%03d%05d", g.seq, n)
	}
	g.deals = append(g.deals, d)
	return d
}

// payload makes a version of d with content of its own: version is
// LastModifiedDate (modified) in Unix milliseconds, or the sender's
// sequence for customers without one (modified is zero).
func (g *propGen) payload(d *propDeal, version int64, modified time.Time) staging.Payload {
	content := g.next()
	doc := map[string]any{
		"Id": d.sfID, "Name": fmt.Sprintf("Deal %s", d.sfID), "End_User_ECC_ID__c": d.c.ecc,
		"Deal_Registration_Id__c": d.dr, "ECC_Sales_Order_Number__c": d.c.so, "Amount": fmt.Sprintf("%d.00", 1000+content),
	}
	p := staging.Payload{SalesforceID: d.sfID, Version: version,
		Keys:        staging.Keys{ECCID: d.c.ecc, DRNumber: d.dr, SalesOrderNumber: d.c.so},
		CompanyName: d.c.company, OpportunityName: fmt.Sprintf("Deal %s", d.sfID), Currency: "EUR",
		Amount: fmt.Sprintf("%d.00", 1000+content), Product: "Analytics"}
	if !modified.IsZero() {
		doc["LastModifiedDate"] = modified.Format(time.RFC3339Nano)
		p.ModifiedAt = modified
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	p.Raw = raw
	return p
}

// firstPayload is the first version of d.
func (g *propGen) firstPayload(d *propDeal) staging.Payload {
	if d.c.sequence {
		return g.payload(d, 1, time.Time{})
	}
	return g.payload(d, d.first.UnixMilli(), d.first)
}

// send records p as sent and returns its op.
func (g *propGen) send(d *propDeal, p staging.Payload) propOp {
	d.pending = false
	d.newest = max(d.newest, p.Version)
	d.sent = append(d.sent, p)
	op := propOp{payload: &p, how: "(no options)"}
	switch g.rnd.IntN(3) {
	case 0:
		op.opts, op.how = []staging.Option{staging.Via("salesforce")}, "via salesforce"
	case 1:
		op.opts, op.how = []staging.Option{staging.Via("api"), staging.By("sfdc-sync")}, "via api by sfdc-sync"
	}
	return op
}

func (g *propGen) firstVersion(d *propDeal) propOp {
	return g.send(d, g.firstPayload(d))
}

// newerVersion is a version after d's newest, some minutes, seconds or
// milliseconds later.
func (g *propGen) newerVersion(d *propDeal) staging.Payload {
	if d.c.sequence {
		return g.payload(d, d.newest+1+int64(g.rnd.IntN(3)), time.Time{})
	}
	step := []time.Duration{time.Minute, time.Second, time.Millisecond}[g.rnd.IntN(3)]
	m := time.UnixMilli(d.newest).UTC().Add(step * time.Duration(1+g.rnd.IntN(90)))
	return g.payload(d, m.UnixMilli(), m)
}

func (g *propGen) pick(deals []*propDeal, keep func(*propDeal) bool) (*propDeal, bool) {
	var ok []*propDeal
	for _, d := range deals {
		if keep(d) {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return nil, false
	}
	return ok[g.rnd.IntN(len(ok))], true
}

func sentDeal(d *propDeal) bool    { return len(d.sent) > 0 }
func pendingDeal(d *propDeal) bool { return d.pending }

// email makes a PH email for c stating dr (empty: none) and, when withSO,
// c's sales order number. Its ECC id may carry SAP's leading zeros, its
// company name may differ from Salesforce's, and it may have a file.
func (g *propGen) email(c *propCustomer, dr string, withSO bool) propOp {
	n := g.next()
	ecc := c.ecc
	if g.rnd.IntN(3) == 0 {
		ecc = "000" + ecc
	}
	fields := map[string]string{staging.FieldECCID: ecc, staging.FieldCompanyName: c.company,
		staging.FieldTenantID: fmt.Sprintf("tenant-%d", n)}
	if g.rnd.IntN(4) == 0 {
		fields[staging.FieldCompanyName] = "Other " + c.company
	}
	if dr != "" {
		fields[staging.FieldDRNumber] = dr
		c.emailDRs = append(c.emailDRs, dr)
	}
	if withSO && c.so != "" {
		fields[staging.FieldSalesOrderNumber] = c.so
	}
	mid := fmt.Sprintf("<s%d.m%d@ph.example>", g.seq, n)
	e := staging.Email{MessageID: mid, From: "ph@provisioning.example", Subject: "To Be Provisioned - " + c.company,
		Date: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC), Fields: fields,
		Raw: fmt.Appendf(nil, "Message-ID: %s\r\nSubject: To Be Provisioned\r\n\r\nECC ID: %s\r\nDR: %s\r\n", mid, ecc, dr)}
	if g.rnd.IntN(2) == 0 {
		e.Attachments = []staging.EmailAttachment{{FileName: fmt.Sprintf("contract-%d.pdf", n), ContentType: "application/pdf",
			Data: fmt.Appendf(nil, "%%PDF-1.7\n%% contract %d\n%%%%EOF\n", n), Usable: g.rnd.IntN(4) != 0}}
	}
	return propOp{email: &e, opts: []staging.Option{staging.Via("smtp")}, how: "via smtp"}
}

// emailDR is the DR number an email for d states: d's, none, or sometimes
// another one, which keeps the email from matching d.
func (g *propGen) emailDR(d *propDeal) string {
	switch r := g.rnd.IntN(10); {
	case r < 4 && d.dr != "":
		return d.dr
	case r < 7:
		return ""
	default:
		return fmt.Sprintf("DRX%03d%05d", g.seq, g.next())
	}
}

func (g *propGen) newDeal() (propStep, bool) {
	d := g.newPropDeal(g.newCustomer(), false)
	return propStep{name: "new deal", ops: []propOp{g.firstVersion(d)}}, true
}

// anotherDeal is a further deal of a customer that has one: an email with
// only their ECC id then matches several records.
func (g *propGen) anotherDeal() (propStep, bool) {
	d, ok := g.pick(g.deals, sentDeal)
	if !ok {
		return propStep{}, false
	}
	nd := g.newPropDeal(d.c, false)
	return propStep{name: "another deal of the same customer", ops: []propOp{g.firstVersion(nd)}}, true
}

func (g *propGen) redelivery() (propStep, bool) {
	d, ok := g.pick(g.deals, sentDeal)
	if !ok {
		return propStep{}, false
	}
	p := d.sent[len(d.sent)-1]
	return propStep{name: "exact redelivery of the last payload sent", ops: []propOp{g.send(d, p)}}, true
}

func (g *propGen) oldRedelivery() (propStep, bool) {
	earlier := func(d *propDeal) []staging.Payload {
		if len(d.sent) == 0 {
			return nil
		}
		last := d.sent[len(d.sent)-1].Raw
		return slices.DeleteFunc(slices.Clone(d.sent), func(p staging.Payload) bool { return string(p.Raw) == string(last) })
	}
	d, ok := g.pick(g.deals, func(d *propDeal) bool { return len(earlier(d)) > 0 })
	if !ok {
		return propStep{}, false
	}
	ps := earlier(d)
	p := ps[g.rnd.IntN(len(ps))]
	return propStep{name: "redelivery of an earlier version", ops: []propOp{g.send(d, p)}}, true
}

func (g *propGen) newer() (propStep, bool) {
	d, ok := g.pick(g.deals, sentDeal)
	if !ok {
		return propStep{}, false
	}
	return propStep{name: "newer version", ops: []propOp{g.send(d, g.newerVersion(d))}}, true
}

func (g *propGen) older() (propStep, bool) {
	d, ok := g.pick(g.deals, func(d *propDeal) bool { return sentDeal(d) && d.newest > 1 })
	if !ok {
		return propStep{}, false
	}
	var p staging.Payload
	if d.c.sequence {
		p = g.payload(d, 1+g.rnd.Int64N(d.newest-1), time.Time{})
	} else {
		m := time.UnixMilli(d.newest).UTC().Add(-time.Duration(1+g.rnd.IntN(120)) * time.Minute)
		p = g.payload(d, m.UnixMilli(), m)
	}
	return propStep{name: "older version, other content (stale)", ops: []propOp{g.send(d, p)}}, true
}

func (g *propGen) sameVersion() (propStep, bool) {
	d, ok := g.pick(g.deals, sentDeal)
	if !ok {
		return propStep{}, false
	}
	p := g.payload(d, d.newest, time.Time{})
	if !d.c.sequence {
		p = g.payload(d, d.newest, time.UnixMilli(d.newest).UTC())
	}
	return propStep{name: "same version, other content (stale)", ops: []propOp{g.send(d, p)}}, true
}

// emailFirst is a PH email for a deal not sent yet: it waits for it.
func (g *propGen) emailFirst() (propStep, bool) {
	d := g.newPropDeal(g.newCustomer(), true)
	return propStep{name: "PH email before its deal", ops: []propOp{g.email(d.c, g.emailDR(d), g.rnd.IntN(2) == 0)}}, true
}

// twoEmailsFirst are two PH emails without a DR number for a deal not sent
// yet: both wait, and the deal finds two candidates.
func (g *propGen) twoEmailsFirst() (propStep, bool) {
	d := g.newPropDeal(g.newCustomer(), true)
	so := g.rnd.IntN(2) == 0
	return propStep{name: "two PH emails before their deal", ops: []propOp{g.email(d.c, "", so), g.email(d.c, "", !so)}}, true
}

// furtherEmail is another PH email for a deal not sent yet, with its DR
// number: it replaces the PH data of the email waiting with that number.
func (g *propGen) furtherEmail() (propStep, bool) {
	d, ok := g.pick(g.deals, pendingDeal)
	if !ok || d.dr == "" {
		return propStep{}, false
	}
	return propStep{name: "a further PH email before the deal", ops: []propOp{g.email(d.c, d.dr, g.rnd.IntN(2) == 0)}}, true
}

func (g *propGen) dealArrives() (propStep, bool) {
	d, ok := g.pick(g.deals, pendingDeal)
	if !ok {
		return propStep{}, false
	}
	return propStep{name: "the deal of waiting PH email(s)", ops: []propOp{g.firstVersion(d)}}, true
}

// emailForDeal is a PH email after its deal: applied, or a review when it
// matches several deals or conflicts with the only one.
func (g *propGen) emailForDeal() (propStep, bool) {
	d, ok := g.pick(g.deals, sentDeal)
	if !ok {
		return propStep{}, false
	}
	return propStep{name: "PH email after its deal", ops: []propOp{g.email(d.c, g.emailDR(d), g.rnd.IntN(2) == 0)}}, true
}

// correctedKeys is a newer version whose DR number is the one a PH email
// of the customer stated: an email still waiting may now join the deal.
func (g *propGen) correctedKeys() (propStep, bool) {
	others := func(d *propDeal) []string {
		return slices.DeleteFunc(slices.Clone(d.c.emailDRs), func(dr string) bool { return dr == d.dr })
	}
	d, ok := g.pick(g.deals, func(d *propDeal) bool { return sentDeal(d) && len(others(d)) > 0 })
	if !ok {
		return propStep{}, false
	}
	drs := others(d)
	d.dr = drs[g.rnd.IntN(len(drs))]
	return propStep{name: "newer version with corrected keys", ops: []propOp{g.send(d, g.newerVersion(d))}}, true
}

// keysCorrected is a PH email whose DR number the deal's first version
// does not state, so it keeps waiting; then a newer version states it and
// the email joins the deal.
func (g *propGen) keysCorrected() (propStep, bool) {
	d := g.newPropDeal(g.newCustomer(), true)
	dr := fmt.Sprintf("DRX%03d%05d", g.seq, g.next())
	email := g.email(d.c, dr, g.rnd.IntN(2) == 0)
	first := g.firstVersion(d)
	d.dr = dr
	return propStep{name: "PH email, its deal with another DR number, a newer version with the email's",
		ops: []propOp{email, first, g.send(d, g.newerVersion(d))}}, true
}

// together starts a few deliveries at once, each for a customer of its
// own, so that their outcomes do not depend on their order: a new deal
// (once or twice), the deal of waiting emails (once or twice), a newer
// version sent twice, an exact redelivery sent twice.
func (g *propGen) together() (propStep, bool) {
	st := propStep{name: "concurrent deliveries", together: true}
	used := map[*propCustomer]bool{}
	free := func(d *propDeal) bool { return !used[d.c] }
	for range 2 + g.rnd.IntN(4) {
		var d *propDeal
		var p staging.Payload
		switch g.rnd.IntN(4) {
		case 0:
			d = g.newPropDeal(g.newCustomer(), false)
			p = g.firstPayload(d)
		case 1:
			var ok bool
			if d, ok = g.pick(g.deals, func(d *propDeal) bool { return pendingDeal(d) && free(d) }); !ok {
				continue
			}
			p = g.firstPayload(d)
		case 2:
			var ok bool
			if d, ok = g.pick(g.deals, func(d *propDeal) bool { return sentDeal(d) && free(d) }); !ok {
				continue
			}
			p = g.newerVersion(d)
		default:
			var ok bool
			if d, ok = g.pick(g.deals, func(d *propDeal) bool { return sentDeal(d) && free(d) }); !ok {
				continue
			}
			p = d.sent[len(d.sent)-1]
		}
		used[d.c] = true
		op := g.send(d, p)
		st.ops = append(st.ops, op)
		if g.rnd.IntN(2) == 0 {
			// The same delivery twice, with the same options: which of
			// the two is first must not matter.
			st.ops = append(st.ops, op)
		}
	}
	return st, len(st.ops) > 1
}

// propSide is one of the two stores and what the sequence did on it.
type propSide struct {
	name    string
	s       *staging.Store
	earlier map[int64]bool // the records of earlier sequences
	steps   [][]propReply  // the answers of the sequence's steps
	emails  map[int64]string
}

// propReply is the answer to one delivery.
type propReply struct {
	op     propOp
	intake staging.IntakeResult
	email  staging.EmailResult
}

// apply runs st on the side's store and keeps the answers. An error fails
// the test: no delivery of the sequences is invalid.
func (side *propSide) apply(ctx context.Context, st propStep) error {
	replies := make([]propReply, len(st.ops))
	errs := make([]error, len(st.ops))
	do := func(i int) {
		op := st.ops[i]
		replies[i].op = op
		if op.payload != nil {
			replies[i].intake, errs[i] = side.s.Intake(ctx, *op.payload, op.opts...)
		} else {
			replies[i].email, errs[i] = side.s.IngestEmail(ctx, *op.email, op.opts...)
		}
	}
	if st.together {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range st.ops {
			wg.Go(func() { <-start; do(i) })
		}
		close(start)
		wg.Wait()
	} else {
		for i := range st.ops {
			do(i)
		}
	}
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("the %s store: %s: %w", side.name, st.ops[i], err)
		}
	}
	if side.emails == nil {
		side.emails = map[int64]string{}
	}
	for _, r := range replies {
		if rec := r.email.Record; rec != nil && rec.PH != nil && r.email.Outcome != staging.EmailDuplicate {
			side.emails[rec.PH.EmailID] = rec.PH.MessageID
		}
	}
	side.steps = append(side.steps, replies)
	return nil
}

// report renders what the sequence did on the side's store, with records
// named by their Salesforce id or the PH email that created them, and
// starts the next sequence.
func (side *propSide) report(ctx context.Context) (string, error) {
	recs, err := side.sequenceRecords(ctx)
	if err != nil {
		return "", err
	}
	n := &propNames{records: map[int64]string{}, numbers: map[string]string{}, emails: side.emails, atts: map[int64]string{}}
	histories := make(map[int64][]staging.Event, len(recs))
	for _, r := range recs {
		h, err := side.s.History(ctx, r.ID)
		if err != nil {
			return "", err
		}
		histories[r.ID] = h
		label := "deal " + r.SalesforceID
		if r.SalesforceID == "" {
			label = "email-record " + propCreatedBy(h)
		}
		n.records[r.ID], n.numbers[r.Number] = label, label
		for i, a := range r.Attachments {
			n.atts[a.ID] = fmt.Sprintf("%s file %d", label, i+1)
		}
		side.earlier[r.ID] = true
	}
	var views []propRecordView
	for _, r := range recs {
		views = append(views, n.record(r, histories[r.ID]))
	}
	slices.SortFunc(views, func(a, b propRecordView) int { return strings.Compare(a.Label, b.Label) })
	var out strings.Builder
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // message ids are <...>
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Records []propRecordView
		Answers [][]string
	}{views, n.answers(side.steps)}); err != nil {
		return "", err
	}
	side.steps, side.emails = nil, nil
	return n.text(out.String()), nil
}

// sequenceRecords returns the records made since the last sequence. They
// are told by id, not by its order: a store may draw ids ahead of use.
func (side *propSide) sequenceRecords(ctx context.Context) ([]*staging.Record, error) {
	if side.earlier == nil {
		side.earlier = map[int64]bool{}
	}
	var out []*staging.Record
	f := staging.Filter{Limit: 500}
	for range 100 {
		page, err := side.s.List(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, sum := range page.Records {
			if side.earlier[sum.ID] {
				continue
			}
			r, err := side.s.Get(ctx, sum.ID)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if page.Next == "" {
			return out, nil
		}
		f.After = page.Next
	}
	return nil, fmt.Errorf("the %s store lists more than 100 pages of records", side.name)
}

// propCreatedBy names the PH email whose record a history starts with.
func propCreatedBy(h []staging.Event) string {
	if len(h) > 0 && h[0].Kind == staging.EventCreated && h[0].Data["message_id"] != "" {
		return h[0].Data["message_id"]
	}
	return "(created by no PH email)"
}

// propNames names what each database numbers in its own way: records,
// PH emails and attachments.
type propNames struct {
	records map[int64]string
	numbers map[string]string
	emails  map[int64]string
	atts    map[int64]string
}

func propName(m map[int64]string, id int64, what string) string {
	if id == 0 {
		return ""
	}
	if s, ok := m[id]; ok {
		return s
	}
	return fmt.Sprintf("(%s %d of no record of the sequence)", what, id)
}

// propNumbers matches a record number, or a list of them.
var propNumbers = regexp.MustCompile(staging.NumberPrefix + `[0-9]{7}(?:, ` + staging.NumberPrefix + `[0-9]{7})*`)

// text replaces the record numbers in s by the records' names. A list of
// numbers (in number order, as the store writes them) becomes a list of
// names in name order: each database numbers its records in its own order.
func (n *propNames) text(s string) string {
	return propNumbers.ReplaceAllStringFunc(s, func(list string) string {
		names := strings.Split(list, ", ")
		for i, num := range names {
			if l, ok := n.numbers[num]; ok {
				names[i] = l
			} else {
				names[i] = "(record number of no record of the sequence)"
			}
		}
		slices.Sort(names)
		return strings.Join(names, ", ")
	})
}

// propRecordView is a record as compared: ids and numbers replaced by
// names, with its history.
type propRecordView struct {
	Label           string
	NumberMatchesID bool
	MergedInto      string `json:",omitempty"`
	PHEmail         string `json:",omitempty"`
	Attachments     []propAttachmentView
	Record          *staging.Record
	History         []propEventView
}

type propAttachmentView struct {
	Name, Record, Email, CopiedFrom string
	Attachment                      staging.Attachment
}

type propEventView struct {
	At                     time.Time
	Kind                   staging.EventKind
	From, To               staging.State
	Channel, User, Message string
	Data                   map[string]string
}

func (n *propNames) record(r *staging.Record, h []staging.Event) propRecordView {
	v := propRecordView{Label: n.records[r.ID], NumberMatchesID: r.Number == staging.FormatNumber(r.ID),
		MergedInto: propName(n.records, r.MergedInto, "record")}
	c := *r
	c.ID, c.Number, c.MergedInto, c.Attachments = 0, "", 0, nil
	if r.PH != nil {
		ph := *r.PH
		v.PHEmail, ph.EmailID = propName(n.emails, ph.EmailID, "email"), 0
		c.PH = &ph
	}
	if r.Review != nil {
		rv := *r.Review
		rv.Candidates = nil
		for _, cand := range r.Review.Candidates {
			cand.Number, cand.ID = propName(n.records, cand.ID, "record"), 0
			rv.Candidates = append(rv.Candidates, cand)
		}
		// The store lists candidates in id order; each database has its
		// own.
		slices.SortFunc(rv.Candidates, func(a, b staging.Candidate) int { return strings.Compare(a.Number, b.Number) })
		c.Review = &rv
	}
	for _, a := range r.Attachments {
		av := propAttachmentView{Name: n.atts[a.ID], Record: propName(n.records, a.RecordID, "record"),
			Email: propName(n.emails, a.EmailID, "email"), CopiedFrom: propName(n.atts, a.CopiedFrom, "attachment"), Attachment: a}
		av.Attachment.ID, av.Attachment.RecordID, av.Attachment.EmailID, av.Attachment.CopiedFrom = 0, 0, 0, 0
		v.Attachments = append(v.Attachments, av)
	}
	v.Record = &c
	for _, e := range h {
		ev := propEventView{At: e.At, Kind: e.Kind, From: e.From, To: e.To, Channel: e.Channel, User: e.User, Message: e.Message}
		if len(e.Data) > 0 {
			ev.Data = map[string]string{}
			for k, val := range e.Data {
				if k == "email_id" {
					id, _ := strconv.ParseInt(val, 10, 64)
					val = propName(n.emails, id, "email")
				}
				ev.Data[k] = val
			}
		}
		v.History = append(v.History, ev)
	}
	return v
}

// answers renders the answers of each step; the answers of deliveries
// made at once are sorted, since their order is not.
func (n *propNames) answers(steps [][]propReply) [][]string {
	out := make([][]string, len(steps))
	for i, replies := range steps {
		for _, r := range replies {
			out[i] = append(out[i], n.answer(r))
		}
		slices.Sort(out[i])
	}
	return out
}

func (n *propNames) answer(r propReply) string {
	if r.op.payload != nil {
		res := r.intake
		s := fmt.Sprintf("payload %s v%d: %s", r.op.payload.SalesforceID, r.op.payload.Version, res.Outcome)
		if rec := res.Record; rec != nil {
			s += fmt.Sprintf(", record %s (%s, version %d)", n.records[rec.ID], rec.State, rec.Version)
			if rec.Number != staging.FormatNumber(rec.ID) {
				s += fmt.Sprintf(", number %q not that of id %d", rec.Number, rec.ID)
			}
			if rec.Payload != nil {
				s += fmt.Sprintf(", payload v%d %s", rec.Payload.Version, rec.Payload.Hash)
			}
		}
		if res.Previous != nil {
			s += fmt.Sprintf(", previous v%d %s", res.Previous.Version, res.Previous.Hash)
		}
		if res.MergedRecord != 0 {
			s += ", merged " + propName(n.records, res.MergedRecord, "record")
		}
		if res.Reason != "" {
			s += ", reason: " + res.Reason
		}
		return s
	}
	res := r.email
	s := fmt.Sprintf("email %s: %s", r.op.email.MessageID, res.Outcome)
	if rec := res.Record; rec != nil {
		s += fmt.Sprintf(", record %s (%s, version %d)", n.records[rec.ID], rec.State, rec.Version)
	}
	var cands []string
	for _, c := range res.Candidates {
		cands = append(cands, propName(n.records, c.ID, "record"))
	}
	slices.Sort(cands) // in id order, which each database has its own
	for _, c := range cands {
		s += ", candidate " + c
	}
	if res.Reason != "" {
		s += ", reason: " + res.Reason
	}
	return s
}

// propDiff shows the lines of a and b that differ, with some context: a
// line diff over their longest common subsequence.
func propDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j] is the length of the longest common subsequence of x[i:]
	// and y[j:].
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		mark byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, line{' ', x[i]})
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', y[j]})
			j++
		default:
			lines = append(lines, line{'-', x[i]})
			i++
		}
	}
	// Each group of differences is shown with a few lines around it,
	// under the name of the record (or the answers) it is in.
	const around, limit = 4, 300
	var out strings.Builder
	shown, last, section := 0, -1, ""
	for k, l := range lines {
		if t := strings.TrimSpace(l.text); strings.HasPrefix(t, `"Label": `) || strings.HasPrefix(t, `"Answers": `) {
			section = strings.TrimSuffix(t, ",")
		}
		near := false
		for d := max(0, k-around); d <= min(len(lines)-1, k+around); d++ {
			if lines[d].mark != ' ' {
				near = true
				break
			}
		}
		if !near {
			continue
		}
		if last < 0 || k > last+1 {
			fmt.Fprintf(&out, "@@ in %s @@\n", cmp.Or(section, "the start"))
		}
		if shown++; shown > limit {
			out.WriteString("  ... (more differences left out)\n")
			break
		}
		fmt.Fprintf(&out, "%c %s\n", l.mark, l.text)
		last = k
	}
	return out.String()
}
