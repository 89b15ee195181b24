package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// dealWithLineItems is the example deal with its line items replaced by n
// copies of item.
func dealWithLineItems(t testing.TB, n int, item string) []byte {
	t.Helper()
	full := must(os.ReadFile(examplePayload))
	start := bytes.Index(full, []byte(`"OpportunityLineItems"`))
	if start < 0 {
		t.Fatal("the example deal has no line items")
	}
	var b bytes.Buffer
	b.Write(full[:start])
	b.WriteString(`"OpportunityLineItems": {"totalSize": ` + fmt.Sprint(n) + `, "done": true, "records": [`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(item)
	}
	b.WriteString("]}}")
	return b.Bytes()
}

func replaceOnce(t testing.TB, raw []byte, pairs ...string) []byte {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !bytes.Contains(raw, []byte(pairs[i])) {
			t.Fatalf("the example deal has no %q", pairs[i])
		}
		raw = bytes.Replace(raw, []byte(pairs[i]), []byte(pairs[i+1]), 1)
	}
	return raw
}

// TestDealInputAnswers posts hostile deals through the real handler and
// store: each is one 422 listing its problems with their JSON Pointers
// (never a 503, which would make Salesforce retry a deal that cannot
// succeed), within the bounds of an error answer, and nothing is stored.
func TestDealInputAnswers(t *testing.T) {
	dbtest.EachURL(t, testDealInputAnswers)
}

func testDealInputAnswers(t *testing.T, dbURL string) {
	e := startTestServer(t, dbURL, map[string]string{"BOOKBRIDGE_MAX_LINE_ITEMS": "3000"})
	full := must(os.ReadFile(examplePayload))
	type problem struct{ Path, Rule, Message string }
	type answer struct {
		Error        string    `json:"error"`
		Code         string    `json:"code"`
		Problems     []problem `json:"problems"`
		MoreProblems int       `json:"more_problems"`
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		want   []string // path [rule] of every problem listed, in order
		more   int
	}{
		{"NUL in the account name", replaceOnce(t, full, `"Name": "Müller & Søn Größe GmbH"`, `"Name": "Müller\u0000 & Søn"`),
			422, []string{"/Account/Name [control_char]"}, 0},
		{"control characters anywhere", replaceOnce(t, full, `"Id":`, `"Note__c": "\u001b[31m", "Id":`, `"BillingCity": "`, `"BillingCity": "\b`),
			422, []string{"/Account/BillingCity [control_char]", "/Note__c [control_char]"}, 0},
		{"wrong-type date, string for a number, missing field", replaceOnce(t, full,
			`"CloseDate": "2026-11-20"`, `"CloseDate": "2026-13-01"`,
			`"Quantity": 1,`, `"Quantity": "one",`,
			`"End_User_ECC_ID__c": "0001234567",`, ``),
			422, []string{"/CloseDate [type]", "/End_User_ECC_ID__c [required]", "/OpportunityLineItems/records/0/Quantity [type]"}, 0},
		{"a huge exponent", replaceOnce(t, full, `"Quantity": 1,`, `"Quantity": 1e100000,`),
			422, []string{"/OpportunityLineItems/records/0/Quantity [amount]"}, 0},
		{"19 digits", replaceOnce(t, full, `"Total_Extended_Price__c": 495000.75`, `"Total_Extended_Price__c": 1234567890123456789`),
			422, []string{"/Total_Extended_Price__c [amount]"}, 0},
		{"over the line-item limit", dealWithLineItems(t, 3001, `{}`),
			422, []string{"/OpportunityLineItems/records [max_records]"}, 0},
		{"two million empty line items in 6 MB", dealWithLineItems(t, 2_000_000, `{}`),
			422, []string{"/OpportunityLineItems/records [max_records]"}, 0},
		// 3,000 records of 3 problems each: 9,000, of which 100 are listed.
		{"more problems than an answer lists", dealWithLineItems(t, 3000, `{"Name__c":"\u0000"}`),
			422, nil, 3*3000 - server.MaxListedProblems},
		{"still malformed", []byte(`{"Id": `), 400, nil, 0},
		{"still not an object", []byte(`[{"Id":"x"}]`), 400, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := must(http.NewRequest("POST", e.base+"/api/v1/deals", bytes.NewReader(c.body)))
			req.Header.Set("X-API-Key", e.intake)
			req.Header.Set("Content-Type", "application/json")
			resp := must(e.client.Do(req))
			raw := must(io.ReadAll(resp.Body))
			resp.Body.Close()
			var a answer
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatalf("%d, not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d %q, want %d: %s", resp.StatusCode, a.Code, c.status, a.Error)
			}
			if len(raw) > server.MaxErrorBody {
				t.Fatalf("answer of %d bytes, over %d", len(raw), server.MaxErrorBody)
			}
			if c.status == 400 {
				if a.Code != "bad_request" || len(a.Problems) != 0 {
					t.Fatalf("want a plain bad_request, got %+v", a)
				}
				return
			}
			if a.Code != "invalid" || a.MoreProblems != c.more {
				t.Fatalf("code %q, more_problems %d; want invalid, %d", a.Code, a.MoreProblems, c.more)
			}
			if c.want == nil {
				if len(a.Problems) != server.MaxListedProblems {
					t.Fatalf("listed %d problems, want %d", len(a.Problems), server.MaxListedProblems)
				}
				return
			}
			var got []string
			for _, p := range a.Problems {
				got = append(got, p.Path+" ["+p.Rule+"]")
				if p.Message == "" {
					t.Errorf("%s: no message", p.Path)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if c.name == "two million empty line items in 6 MB" && !strings.Contains(a.Problems[0].Message, "2000000") {
				t.Errorf("the message must name the count: %q", a.Problems[0].Message)
			}
		})
	}
	page, err := e.p.App.Store.List(context.Background(), stagingFilterAll())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 0 {
		t.Fatalf("refused deals were stored: %d records", len(page.Records))
	}
	// The records limit is the setting's, not the package default.
	if sfdc.DefaultMaxRecords == 3000 {
		t.Fatal("pick a test limit other than the default")
	}
}
