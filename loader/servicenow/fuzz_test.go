package servicenow

import (
	"net/http"
	"testing"
)

// FuzzDecodeAnswers feeds arbitrary bytes to the readers of ServiceNow's
// answers: they must never panic, and a decoded record always has an id.
func FuzzDecodeAnswers(f *testing.F) {
	f.Add([]byte(`{"result":[{"sys_id":"a","name":"x","u_company":{"link":"l","value":"b"}}]}`), "5")
	f.Add([]byte(`{"result":{"sys_id":"a","n":null,"q":1.5,"b":true}}`), "Wed, 21 Oct 2026 07:28:00 GMT")
	f.Add([]byte(`{"error":{"message":"No Record found","detail":null},"status":"failure"}`), "")
	f.Add([]byte(`<html>504</html>`), "-1")
	f.Fuzz(func(t *testing.T, body []byte, retryAfter string) {
		if recs, present, err := decodeRecords(body); err == nil {
			if len(recs) != len(present) {
				t.Fatalf("%d records, %d presence maps", len(recs), len(present))
			}
			for _, r := range recs {
				if r.ID == "" {
					t.Fatalf("record without id from %q", body)
				}
			}
		}
		if r, err := decodeOne(body, "POST", "t"); err == nil && r.ID == "" {
			t.Fatalf("record without id from %q", body)
		}
		resp := &http.Response{StatusCode: 400, Header: http.Header{"Retry-After": {retryAfter}}}
		e := parseError(request{method: "GET", table: "t"}, resp, body)
		if e.RetryAfter < 0 {
			t.Fatalf("negative Retry-After %s from %q", e.RetryAfter, retryAfter)
		}
		_ = e.Error()
	})
}
