package staging

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"golang.org/x/text/unicode/norm"
)

// The free-text search of List forgives case, accents and the usual ways
// of typing letters a keyboard lacks: "muller", "MULLER" and "Müller" all
// find "Müller & Søn Größe GmbH", and so do "mueller", "grosse",
// "groesse", "son" and "soen". The rule lives here, in Go, only: the
// stored search text is folded with it (also for the Postgres batch
// function, which is handed the folded text) and so is every query word.
//
// Folding decomposes the text (Unicode NFKD, which also turns ligatures and
// full-width forms into plain letters), drops the combining marks,
// replaces the letters that do not decompose (ß, ø, æ, œ, ł, đ, ð, þ, ...)
// by their usual Latin spelling, and lower-cases the rest. The stored text
// also holds a second spelling of each field where it differs: the German
// and Scandinavian one, where a letter with an umlaut is followed by an e
// (ü -> ue), å is aa and ø is oe. A query word is folded once and matches
// either spelling.
//
// The Postgres batch function is handed the folded text without the record
// number, which it knows only once it numbered the record, and puts the
// number in front lower-cased: a number is NumberPrefix and digits, all
// ASCII, where lower-casing is the whole fold.

// searchSep separates the fields of the stored search text, so that a
// query word never matches across two fields.
const searchSep = "\x1f"

// foldedLetters are the letters that keep their look under decomposition,
// with the spelling a search finds them by.
var foldedLetters = map[rune]string{
	'ß': "ss", 'ẞ': "ss",
	'ø': "o", 'Ø': "o",
	'æ': "ae", 'Æ': "ae",
	'œ': "oe", 'Œ': "oe",
	'ł': "l", 'Ł': "l",
	'đ': "d", 'Đ': "d",
	'ð': "d", 'Ð': "d",
	'þ': "th", 'Þ': "th",
	'ħ': "h", 'Ħ': "h",
	'ŧ': "t", 'Ŧ': "t",
	'ı': "i",
	'ĸ': "k",
}

// spelledLetters override foldedLetters in the second spelling.
var spelledLetters = map[rune]string{'ø': "oe", 'Ø': "oe"}

// Combining marks that the second spelling writes out after a/o/u (umlaut)
// and a (ring).
const (
	markDiaeresis = '\u0308'
	markRingAbove = '\u030a'
)

// foldSearch folds s for search: what List compares, on both sides.
func foldSearch(s string) string { return fold(s, false) }

// foldSpelled folds s into its second spelling (ü -> ue, å -> aa, ø -> oe).
func foldSpelled(s string) string { return fold(s, true) }

// fold folds s; spelled chooses the second spelling. Control characters
// and bytes that are not UTF-8 become spaces: they separate words.
func fold(s string, spelled bool) string {
	var b strings.Builder
	b.Grow(len(s))
	var last rune // the last letter written, for the marks that follow it
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			if spelled {
				switch {
				case r == markDiaeresis && (last == 'a' || last == 'o' || last == 'u'):
					b.WriteByte('e')
				case r == markRingAbove && last == 'a':
					b.WriteByte('a')
				}
				last = 0
			}
			continue
		case r == utf8.RuneError || unicode.IsControl(r):
			b.WriteByte(' ')
			last = 0
			continue
		}
		if spelled {
			if rep, ok := spelledLetters[r]; ok {
				b.WriteString(rep)
				last = 0
				continue
			}
		}
		if rep, ok := foldedLetters[r]; ok {
			b.WriteString(rep)
			last = 0
			continue
		}
		last = unicode.ToLower(r)
		b.WriteRune(last)
	}
	return b.String()
}

// searchText is what List's free-text filter searches: number, company
// names, keys, Salesforce id and opportunity name, each folded, followed by
// the second spelling of the fields where it differs.
func searchText(r *Record) string {
	parts := []string{r.Number, r.CompanyName, r.Keys.ECCID, r.Keys.DRNumber, r.Keys.SalesOrderNumber, r.SalesforceID}
	if r.Payload != nil {
		parts = append(parts, r.Payload.OpportunityName)
	}
	if r.PH != nil {
		parts = append(parts, r.PH.Fields[FieldCompanyName], r.PH.Fields[FieldECCID], r.PH.Fields[FieldDRNumber], r.PH.Fields[FieldSalesOrderNumber])
	}
	out := make([]string, len(parts), len(parts)+2)
	for i, p := range parts {
		out[i] = foldSearch(p)
	}
	for i, p := range parts {
		if alt := foldSpelled(p); alt != out[i] && !slices.Contains(out[len(parts):], alt) {
			out = append(out, alt)
		}
	}
	return strings.Join(out, searchSep)
}

// searchWords folds a query and splits it into the words List looks for,
// or says what is wrong with it: a NUL byte or bytes that are not UTF-8
// are refused, since neither can be in a stored text and Postgres refuses
// both in a query.
func searchWords(text string) (words []string, problem string) {
	if i := strings.IndexByte(text, 0); i >= 0 {
		return nil, fmt.Sprintf("the search text has a NUL byte at byte %d: search for letters and digits", i)
	}
	if !utf8.ValidString(text) {
		return nil, "the search text is not UTF-8: send it UTF-8 encoded"
	}
	return strings.Fields(foldSearch(text)), ""
}

// searchTextBatch is how many records refreshSearchText reads at a time
// (a variable for the tests).
var searchTextBatch = 500

// searchTextRow is the search text of a record, to write it alone.
type searchTextRow struct {
	bun.BaseModel `bun:"table:staging_records,alias:r"`

	ID         int64  `bun:"id,pk"`
	Version    int64  `bun:"version"`
	SearchText string `bun:"search_text"`
}

// refreshSearchText computes the search text of every record anew (for a
// migration after the rule changed) and writes it where it differs, in
// batches of searchTextBatch records, each batch one statement. A record
// changed meanwhile (its version moved on) is left alone: its writer
// computed its text. It returns the number of records rewritten.
func (s *Store) refreshSearchText(ctx context.Context, db bun.IDB) (int, error) {
	var after int64
	changed := 0
	for {
		var rows []recordRow
		err := db.NewSelect().Model(&rows).
			Column("id", "number", "version", "sf_id", "ecc_id", "dr_number", "sales_order_number", "opportunity_id",
				"company_name", "payload_info", "ph", "search_text").
			Where("r.id > ?", after).Order("r.id").Limit(int64(searchTextBatch)).Scan(ctx)
		if err != nil {
			return changed, fmt.Errorf("staging: reading records after id %d for their search text: %w", after, err)
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].ID
		var texts []searchTextRow
		for i := range rows {
			r, err := rows[i].record()
			if err != nil {
				return changed, err
			}
			if text := searchText(r); text != rows[i].SearchText {
				texts = append(texts, searchTextRow{ID: r.ID, Version: r.Version, SearchText: text})
			}
		}
		if len(texts) == 0 {
			continue
		}
		res, err := db.NewUpdate().Model(&texts).Column("search_text").Bulk().Where("r.version = _data.version").Exec(ctx)
		if err != nil {
			return changed, fmt.Errorf("staging: writing the search text of records up to id %d: %w", after, err)
		}
		n, _ := res.RowsAffected()
		changed += int(n)
	}
	if changed > 0 {
		s.log.Info("staging: search text recomputed", "records", changed)
	}
	return changed, nil
}
