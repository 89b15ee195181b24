package server

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
)

// An error answer lists at most MaxListedProblems problems, counts the rest
// in more_problems, and stays within MaxErrorBody however large the
// problems are.
func TestErrorAnswerIsBounded(t *testing.T) {
	many := func(n int, path, msg string) []sfdc.Problem {
		ps := make([]sfdc.Problem, n)
		for i := range ps {
			ps[i] = sfdc.Problem{Path: fmt.Sprintf("%s/%d", path, i), Rule: "required", Message: msg}
		}
		return ps
	}
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		listed     int
		more       int
		wantPrefix string
	}{
		{"a few", &sfdc.ValidationError{Problems: many(3, "/x", "is required")}, 422, 3, 0, "3 validation problem(s)"},
		{"exactly the limit", &sfdc.ValidationError{Problems: many(MaxListedProblems, "/x", "is required")}, 422, MaxListedProblems, 0, "100 "},
		{"over the limit, some omitted", &sfdc.ValidationError{Problems: many(sfdc.MaxProblems, "/x", "is required"), Omitted: 5000},
			422, MaxListedProblems, sfdc.MaxProblems + 5000 - MaxListedProblems, "6000 validation problem(s)"},
		{"large problems fill the body first", &sfdc.ValidationError{Problems: many(150, "/x", strings.Repeat("m", 2000))},
			422, (MaxErrorBody - maxErrorMessage - 1024) / 2050, 150 - (MaxErrorBody-maxErrorMessage-1024)/2050, "150 "},
		{"one problem too large on its own", &sfdc.ValidationError{Problems: append(many(1, strings.Repeat("/k", 40000), "x"), many(2, "/y", "z")...)},
			422, 2, 1, "3 "},
		{"a long message is shortened", &staging.InputError{What: "deal", Problems: []string{strings.Repeat("é", 100000)}}, 422, 0, 0, "staging: invalid deal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			(&Server{}).fail(rec, httptest.NewRequest("POST", "/api/v1/deals", nil), tc.err, 503)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if rec.Body.Len() > MaxErrorBody {
				t.Fatalf("body of %d bytes, over %d", rec.Body.Len(), MaxErrorBody)
			}
			var body struct {
				Error        string            `json:"error"`
				Problems     []json.RawMessage `json:"problems"`
				MoreProblems int               `json:"more_problems"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Problems) != tc.listed || body.MoreProblems != tc.more || !strings.HasPrefix(body.Error, tc.wantPrefix) {
				t.Fatalf("listed %d, more %d, error %.60q; want %d, %d, %q", len(body.Problems), body.MoreProblems, body.Error, tc.listed, tc.more, tc.wantPrefix)
			}
			if !json.Valid(rec.Body.Bytes()) || strings.Contains(body.Error, "\ufffd") {
				t.Fatal("a shortened message must stay valid UTF-8")
			}
		})
	}
}
