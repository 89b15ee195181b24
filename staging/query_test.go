package staging_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestListFiltersAndPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		companies := []string{"Müller & Søn Größe GmbH", "ACME 100% Widgets", "Under_Score Ltd", "Plain Corp", "ÉCOLE Supérieure SA"}
		numbers := map[string]string{}
		for i, c := range companies {
			p := dealFor(t, 700+i, fmt.Sprintf("90%04d", i), fmt.Sprintf("DR9%07d", i), fmt.Sprintf("45%08d", i))
			p = withCompany(t, p, c)
			numbers[c] = intake(t, s, p).Record.Number
		}
		// one waiting email, company only in the email
		we := phEmail("<list@ph.example>", "990000", "DRWAIT0001", "")
		we.Fields[staging.FieldCompanyName] = "Waiting Co"
		w := ingest(t, s, we)

		cases := []struct {
			name   string
			filter staging.Filter
			want   []string // record numbers, newest first
		}{
			{"all", staging.Filter{}, []string{w.Record.Number, numbers[companies[4]], numbers[companies[3]], numbers[companies[2]], numbers[companies[1]], numbers[companies[0]]}},
			{"by state", staging.Filter{States: []staging.State{staging.StateWaitingForPayload}}, []string{w.Record.Number}},
			{"company, other case and accents", staging.Filter{Text: "müller søn"}, []string{numbers[companies[0]]}},
			{"upper-case non-ASCII", staging.Filter{Text: "école"}, []string{numbers[companies[4]]}},
			{"percent is literal", staging.Filter{Text: "100%"}, []string{numbers[companies[1]]}},
			{"percent alone matches only a percent", staging.Filter{Text: "%"}, []string{numbers[companies[1]]}},
			{"underscore is literal", staging.Filter{Text: "under_score"}, []string{numbers[companies[2]]}},
			{"underscore alone", staging.Filter{Text: "_"}, []string{numbers[companies[2]]}},
			{"DR number", staging.Filter{Text: "dr90000003"}, []string{numbers[companies[3]]}},
			{"ECC id", staging.Filter{Text: "900001"}, []string{numbers[companies[1]]}},
			{"sales order", staging.Filter{Text: "4500000004"}, []string{numbers[companies[4]]}},
			{"record number", staging.Filter{Text: numbers[companies[2]]}, []string{numbers[companies[2]]}},
			{"email-only record by its DR", staging.Filter{Text: "drwait"}, []string{w.Record.Number}},
			{"email-only record by the email's company", staging.Filter{Text: "waiting co"}, []string{w.Record.Number}},
			{"state and text", staging.Filter{States: []staging.State{staging.StateReady}, Text: "plain"}, nil},
			{"no match", staging.Filter{Text: "nobody"}, nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				page, err := s.List(ctx, c.filter)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range page.Records {
					got = append(got, r.Number)
				}
				if !slices.Equal(got, c.want) || page.Next != "" {
					t.Fatalf("got %v (next %q), want %v", got, page.Next, c.want)
				}
			})
		}
		t.Run("cursor", func(t *testing.T) {
			var all []string
			after := ""
			for range 10 {
				page, err := s.List(ctx, staging.Filter{Limit: 4, After: after})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range page.Records {
					all = append(all, r.Number)
				}
				if page.Next == "" {
					break
				}
				after = page.Next
			}
			full, _ := s.List(ctx, staging.Filter{})
			var want []string
			for _, r := range full.Records {
				want = append(want, r.Number)
			}
			if !slices.Equal(all, want) {
				t.Fatalf("paged %v, want %v", all, want)
			}
		})
		t.Run("bad filter", func(t *testing.T) {
			_, err := s.List(ctx, staging.Filter{States: []staging.State{"done"}, After: "bogus"})
			var ie *staging.InputError
			if !errors.As(err, &ie) || len(ie.Problems) != 2 {
				t.Fatalf("got %v, want both problems", err)
			}
		})
	})
}

func withCompany(t *testing.T, p staging.Payload, company string) staging.Payload {
	t.Helper()
	q := deal(t, map[string]any{"Id": p.SalesforceID, "End_User_ECC_ID__c": p.Keys.ECCID,
		"Deal_Registration_Id__c": p.Keys.DRNumber, "ECC_Sales_Order_Number__c": p.Keys.SalesOrderNumber, "Account.Name": company, "Name": company + " deal"})
	return q
}

func TestCountsWaitingAndGetByNumber(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, clock := newStore(t, db)
		ctx := context.Background()
		old := intake(t, s, dealFor(t, 1, "810001", "DR81000001", "")).Record
		clock.Advance(3 * time.Hour)
		oldEmail := ingest(t, s, phEmail("<old@ph.example>", "810002", "DR81000002", "")).Record
		clock.Advance(20 * time.Hour)
		fresh := intake(t, s, dealFor(t, 3, "810003", "DR81000003", "")).Record
		ready := intake(t, s, dealFor(t, 4, "810004", "DR81000004", "")).Record
		ingest(t, s, phEmail("<ready@ph.example>", "810004", "DR81000004", ""))
		clock.Advance(time.Hour)

		counts, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[staging.State]int{staging.StateReceived: 2, staging.StateWaitingForPayload: 1, staging.StateReady: 1}
		for _, st := range staging.States() {
			if counts[st] != want[st] {
				t.Fatalf("counts %v, want %v", counts, want)
			}
		}
		for _, c := range []struct {
			age  time.Duration
			want []int64
		}{
			{24 * time.Hour, []int64{old.ID}},
			{21 * time.Hour, []int64{old.ID, oldEmail.ID}},
			{time.Hour, []int64{old.ID, oldEmail.ID, fresh.ID}},
			{48 * time.Hour, nil},
		} {
			got, err := s.Waiting(ctx, c.age)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, c.want) {
				t.Fatalf("waiting %v: %v, want %v", c.age, ids, c.want)
			}
		}
		r, err := s.GetByNumber(ctx, ready.Number)
		if err != nil || r.ID != ready.ID || r.Number != staging.FormatNumber(ready.ID) {
			t.Fatalf("GetByNumber(%s): %v %v", ready.Number, r, err)
		}
		if _, err := s.GetByNumber(ctx, "BB12"); !errors.Is(err, staging.ErrInvalidInput) {
			t.Fatalf("bad number: %v", err)
		}
		if _, err := s.GetByNumber(ctx, staging.FormatNumber(99999)); !errors.Is(err, staging.ErrNotFound) {
			t.Fatalf("unknown number: %v", err)
		}
		if _, err := s.History(ctx, 99999); !errors.Is(err, staging.ErrNotFound) {
			t.Fatalf("history of an unknown record: %v", err)
		}
	})
}

func TestNumbers(t *testing.T) {
	for _, c := range []struct {
		id     int64
		number string
	}{{1, "BB0001001"}, {41, "BB0001041"}, {9998999, "BB9999999"}, {9999000, "BB10000000"}} {
		if got := staging.FormatNumber(c.id); got != c.number {
			t.Errorf("FormatNumber(%d) = %s, want %s", c.id, got, c.number)
		}
		if id, ok := staging.ParseNumber(c.number); !ok || id != c.id {
			t.Errorf("ParseNumber(%s) = %d, %v", c.number, id, ok)
		}
	}
	for _, bad := range []string{"", "BB", "BB0001000", "BB000100x", "XX0001001", "BB00010011x", "BB-001001"} {
		if id, ok := staging.ParseNumber(bad); ok {
			t.Errorf("ParseNumber(%q) = %d, want refused", bad, id)
		}
	}
}
