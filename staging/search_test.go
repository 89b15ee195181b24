package staging_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func TestFoldSearch(t *testing.T) {
	cases := []struct {
		in, folded, spelled string
	}{
		{"Müller & Søn Größe GmbH", "muller & son grosse gmbh", "mueller & soen groesse gmbh"},
		{"MÜLLER", "muller", "mueller"},
		{"Mu\u0308ller", "muller", "mueller"}, // decomposed already
		{"ÉCOLE Supérieure", "ecole superieure", "ecole superieure"},
		{"Ærø Østergård", "aero ostergard", "aeroe oestergaard"},
		{"Œuvre Łódź Đakovo Þórr Ðór", "oeuvre lodz dakovo thorr dor", "oeuvre lodz dakovo thorr dor"},
		{"STRAẞE", "strasse", "strasse"},
		{"Citroën", "citroen", "citroen"}, // ë is no umlaut: no second e
		{"ﬁne ＤＲ１２", "fine dr12", "fine dr12"},
		{"BB0001001 DR47110001", "bb0001001 dr47110001", "bb0001001 dr47110001"},
		{"tab\tand\x1funit", "tab and unit", "tab and unit"},
		{"bad\xffbyte", "bad byte", "bad byte"},
		{"", "", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := staging.FoldSearch(c.in); got != c.folded {
				t.Errorf("FoldSearch(%q) = %q, want %q", c.in, got, c.folded)
			}
			if got := staging.FoldSpelled(c.in); got != c.spelled {
				t.Errorf("FoldSpelled(%q) = %q, want %q", c.in, got, c.spelled)
			}
		})
	}
}

// Search forgives case, accents and the second spelling of a letter, on
// records staged by each path: the Postgres batch, the general path (an
// InTx function forces it) and a PH email alone.
func TestListSearchForgivesCaseAndAccents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		noop := staging.InTx(func(context.Context, bun.Tx, *staging.Record) error { return nil })
		mueller := intake(t, s, withCompany(t, dealFor(t, 1, "0004711001", "DR47110001", "4547110001"), "Müller & Søn Größe GmbH")).Record
		plain := intake(t, s, withCompany(t, dealFor(t, 2, "0004711002", "DR47110002", "4547110002"), "Plain Corp"), noop).Record
		other := intake(t, s, withCompany(t, dealFor(t, 3, "0004711003", "DR47110003", "4547110003"), "Ærø Østergård A/S"), noop).Record
		email := phEmail("<search@ph.example>", "0004711004", "DR47110004", "4547110004")
		email.Fields[staging.FieldCompanyName] = "Łódź Œuvre Þórr"
		waiting := ingest(t, s, email).Record

		cases := []struct {
			name, text string
			want       []*staging.Record // newest first
		}{
			{"plain letters", "muller", []*staging.Record{mueller}},
			{"upper case", "MULLER", []*staging.Record{mueller}},
			{"as written", "Müller", []*staging.Record{mueller}},
			{"upper case with umlaut", "MÜLLER", []*staging.Record{mueller}},
			{"umlaut spelled out", "mueller", []*staging.Record{mueller}},
			{"sharp s as ss", "grosse", []*staging.Record{mueller}},
			{"sharp s and umlaut spelled out", "groesse", []*staging.Record{mueller}},
			{"sharp s as written", "Größe", []*staging.Record{mueller}},
			{"sharp s upper case", "GRÖSSE", []*staging.Record{mueller}},
			{"slashed o as written", "søn", []*staging.Record{mueller}},
			{"slashed o as o", "son", []*staging.Record{mueller}},
			{"slashed o as oe", "SOEN", []*staging.Record{mueller}},
			{"several words", "müller GMBH", []*staging.Record{mueller}},
			{"ae ligature", "aero", []*staging.Record{other}},
			{"ring and slashed o dropped", "ostergard", []*staging.Record{other}},
			{"ring as aa, slashed o as oe", "Oestergaard", []*staging.Record{other}},
			{"email company, l with stroke", "lodz", []*staging.Record{waiting}},
			{"email company, oe ligature and thorn", "OEUVRE thorr", []*staging.Record{waiting}},
			{"ECC id", "0004711002", []*staging.Record{plain}},
			{"ECC id of an email", "0004711004", []*staging.Record{waiting}},
			{"DR number", "DR47110003", []*staging.Record{other}},
			{"DR number lower case", "dr47110001", []*staging.Record{mueller}},
			{"DR number of an email", "Dr47110004", []*staging.Record{waiting}},
			{"sales order", "4547110002", []*staging.Record{plain}},
			{"sales order of an email", "4547110004", []*staging.Record{waiting}},
			{"record number", mueller.Number, []*staging.Record{mueller}},
			{"record number lower case", strings.ToLower(plain.Number), []*staging.Record{plain}},
			{"record number of an email", waiting.Number, []*staging.Record{waiting}},
			{"DR prefix finds all", "dr4711000", []*staging.Record{waiting, other, plain, mueller}},
			{"words in different records", "muller plain", nil},
			{"no match", "mullerr", nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				page, err := s.List(ctx, staging.Filter{Text: c.text})
				if err != nil {
					t.Fatal(err)
				}
				var got, want []string
				for _, r := range page.Records {
					got = append(got, r.Number)
				}
				for _, r := range c.want {
					want = append(want, r.Number)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("List(%q) = %v, want %v", c.text, got, want)
				}
			})
		}

		for _, text := range []string{"\x00", "müller\x00", "\x00' OR 1=1 --", "bad\xffbyte"} {
			t.Run(fmt.Sprintf("refused %q", text), func(t *testing.T) {
				page, err := s.List(ctx, staging.Filter{Text: text})
				var ie *staging.InputError
				if !errors.As(err, &ie) || len(ie.Problems) != 1 || len(page.Records) != 0 {
					t.Fatalf("List(%q) = %d records, %v; want an *InputError with one problem", text, len(page.Records), err)
				}
			})
		}
	})
}

// The search text migration rewrites the text of records stored under the
// previous rule (lower-cased only), in batches, and leaves their version.
func TestMigrationRecomputesSearchText(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		ctx := context.Background()
		staging.SetSearchTextBatch(t, 2)
		var recs []*staging.Record
		for i := range 5 {
			p := withCompany(t, dealFor(t, 10+i, fmt.Sprintf("000471200%d", i), fmt.Sprintf("DR4712000%d", i), ""), fmt.Sprintf("Müller & Søn %d GmbH", i))
			recs = append(recs, intake(t, s, p).Record)
		}
		// The text as the previous rule wrote it, on every record but the
		// last, which keeps the current text.
		for _, r := range recs[:4] {
			r = mustGet(t, s, r.ID)
			old := strings.ToLower(strings.Join([]string{r.Number, r.CompanyName, r.Keys.ECCID, r.Keys.DRNumber,
				r.Keys.SalesOrderNumber, r.SalesforceID, r.Payload.OpportunityName}, "\x1f"))
			if _, err := db.NewUpdate().Table("staging_records").Set("search_text = ?", old).Where("id = ?", r.ID).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		found := func(text string) []string {
			t.Helper()
			page, err := s.List(ctx, staging.Filter{Text: text, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range page.Records {
				out = append(out, r.Number)
			}
			return out
		}
		if got := found("muller"); !slices.Equal(got, []string{recs[4].Number}) {
			t.Fatalf("before the migration %q found %v, want only the record with the current text", "muller", got)
		}
		if _, err := db.NewDelete().Table(staging.MigrationsTable).Where("name = ?", "20261204000011").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{"muller", "MÜLLER", "mueller", "son", "soen", "Søn"} {
			if got := found(text); !slices.Equal(got, reversed(recs)) {
				t.Errorf("after the migration %q found %v, want %v", text, got, reversed(recs))
			}
		}
		for _, r := range recs {
			if got := mustGet(t, s, r.ID); got.Version != r.Version || !got.UpdatedAt.Equal(r.UpdatedAt) {
				t.Errorf("%s: version %d updated %v, was %d %v: recomputing the search text is no change of the record",
					r.Number, got.Version, got.UpdatedAt, r.Version, r.UpdatedAt)
			}
		}
	})
}

// reversed returns the numbers of rs, last first (List's order).
func reversed(rs []*staging.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range slices.Backward(rs) {
		out = append(out, r.Number)
	}
	return out
}
