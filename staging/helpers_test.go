package staging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// testClock is a clock the tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newStore returns a migrated store on db with a test clock.
func newStore(t testing.TB, db *bun.DB, opts ...staging.StoreOption) (*staging.Store, *testClock) {
	t.Helper()
	clock := newClock()
	base := []staging.StoreOption{staging.WithClock(clock.Now), staging.WithLogger(slog.New(slog.DiscardHandler))}
	s := staging.New(db, append(base, opts...)...)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, clock
}

var (
	dealOnce sync.Once
	dealRaw  []byte
	dealErr  error
)

// fullDeal returns the bytes of examples/payloads/deal-full.json.
func fullDeal(t testing.TB) []byte {
	t.Helper()
	dealOnce.Do(func() {
		dealRaw, dealErr = os.ReadFile(filepath.Join("..", "examples", "payloads", "deal-full.json"))
	})
	if dealErr != nil {
		t.Fatal(dealErr)
	}
	return dealRaw
}

// deal returns the full example deal as a staging payload, with top-level
// fields (or Account.Name) replaced by changes.
func deal(t testing.TB, changes map[string]any) staging.Payload {
	t.Helper()
	raw := fullDeal(t)
	if len(changes) > 0 {
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for k, v := range changes {
			if parent, child, ok := strings.Cut(k, "."); ok {
				doc[parent].(map[string]any)[child] = v
				continue
			}
			doc[k] = v
		}
		var err error
		if raw, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
	}
	d, err := sfdc.Decode[sfdc.Opportunity](raw)
	if err != nil {
		t.Fatal(err)
	}
	return staging.PayloadFromOpportunity(d)
}

// dealFor is the example deal with its own Salesforce id and keys.
func dealFor(t testing.TB, n int, ecc, dr, so string) staging.Payload {
	t.Helper()
	return deal(t, map[string]any{
		"Id":                        fmt.Sprintf("006Dn00000Ab%06d", n),
		"End_User_ECC_ID__c":        ecc,
		"Deal_Registration_Id__c":   dr,
		"ECC_Sales_Order_Number__c": so,
	})
}

// smallDeal is a minimal payload with its own Salesforce id and keys, for
// tests about states rather than payload content.
func smallDeal(n int, ecc, dr string) staging.Payload {
	id := fmt.Sprintf("006Dn00000Sm%06d", n)
	raw := fmt.Sprintf(`{"Id":%q,"End_User_ECC_ID__c":%q,"Deal_Registration_Id__c":%q}`, id, ecc, dr)
	return staging.Payload{SalesforceID: id, Version: 1, Raw: []byte(raw),
		Keys: staging.Keys{ECCID: ecc, DRNumber: dr}, CompanyName: "Small Deal GmbH"}
}

// phEmail is a parsed PH email with the given keys; empty keys are left
// out. Files are attached as given.
func phEmail(messageID, ecc, dr, so string, files ...staging.EmailAttachment) staging.Email {
	fields := map[string]string{
		staging.FieldCompanyName:   "Müller & Søn Größe GmbH",
		staging.FieldTenantID:      "mueller-soehne",
		staging.FieldIMSOrgID:      "0123456789ABCDEF01234567@AdobeOrg",
		staging.FieldDeployToEmail: "ops@mueller-soehne.example",
		staging.FieldTicketLink:    "https://ph.example/tickets/4711",
	}
	for k, v := range map[string]string{staging.FieldECCID: ecc, staging.FieldDRNumber: dr, staging.FieldSalesOrderNumber: so} {
		if v != "" {
			fields[k] = v
		}
	}
	raw := fmt.Sprintf("Message-ID: %s\r\nSubject: To Be Provisioned - Müller & Søn Größe GmbH %s\r\n\r\n- ECC ID: %s\r\n- Sales Order Number: %s\r\n",
		messageID, dr, ecc, so)
	return staging.Email{
		MessageID:   messageID,
		From:        "ph@provisioning.example",
		Subject:     "To Be Provisioned - Müller & Søn Größe GmbH " + dr,
		Date:        time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
		Fields:      fields,
		Raw:         []byte(raw),
		Attachments: files,
	}
}

func contractPDF() staging.EmailAttachment {
	data := []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
	return staging.EmailAttachment{FileName: "contract.pdf", ContentType: "application/pdf", Data: data, Usable: true}
}

func mustGet(t testing.TB, s *staging.Store, id int64) *staging.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func intake(t testing.TB, s *staging.Store, p staging.Payload, opts ...staging.Option) staging.IntakeResult {
	t.Helper()
	res, err := s.Intake(context.Background(), p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func ingest(t testing.TB, s *staging.Store, e staging.Email, opts ...staging.Option) staging.EmailResult {
	t.Helper()
	res, err := s.IngestEmail(context.Background(), e, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func historyKinds(t testing.TB, s *staging.Store, id int64) []staging.EventKind {
	t.Helper()
	evs, err := s.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]staging.EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}
