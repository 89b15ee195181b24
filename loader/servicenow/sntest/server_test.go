package sntest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(t *testing.T, srv *sntest.Server, method, path string, query url.Values, body string, auth bool) answer {
	t.Helper()
	u := srv.URL() + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.SetBasicAuth(sntest.DefaultUsername, sntest.DefaultPassword)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// scrub replaces generated values so answers can be snapshotted.
func scrub(m any) any {
	switch x := m.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, v := range x {
			switch k {
			case "sys_id", "table_sys_id", "sys_created_on", "sys_updated_on", "download_link", "link":
				out[k] = "<" + k + ">"
			default:
				out[k] = scrub(v)
			}
		}
		return out
	case []any:
		for i := range x {
			x[i] = scrub(x[i])
		}
	}
	return m
}

func TestDocumentedAnswers(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{Now: func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }})
	company := srv.Seed("core_company", map[string]string{"name": "Acme", "u_ecc_id": "1"})
	srv.Seed("u_ams_finance_names", map[string]string{"u_company": company, "u_finance_name": "Acme Finance"})
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		name, method, path string
		query              url.Values
		body               string
		auth               bool
		status             int
	}{
		{"no credentials", "GET", "/api/now/table/core_company", nil, "", false, 401},
		{"unknown table", "GET", "/api/now/table/u_nope", nil, "", true, 400},
		{"no resource", "GET", "/api/now/tablex", nil, "", true, 400},
		{"list with fields and limit", "GET", "/api/now/table/core_company", q("sysparm_query", "u_ecc_id=1", "sysparm_fields", "sys_id,name,u_nope", "sysparm_limit", "2"), "", true, 200},
		{"list nothing", "GET", "/api/now/table/core_company", q("sysparm_query", "u_ecc_id=2"), "", true, 200},
		{"reference as link", "GET", "/api/now/table/u_ams_finance_names", q("sysparm_fields", "u_company"), "", true, 200},
		{"reference as sys_id", "GET", "/api/now/table/u_ams_finance_names", q("sysparm_fields", "u_company", "sysparm_exclude_reference_link", "true"), "", true, 200},
		{"insert ignores unknown fields", "POST", "/api/now/table/core_company", q("sysparm_fields", "sys_id,name,u_nope,sys_created_on"), `{"name":"New","u_nope":"x"}`, true, 201},
		{"update missing record", "PATCH", "/api/now/table/core_company/0123456789abcdef0123456789abcdef", nil, `{"name":"x"}`, true, 404},
		{"malformed body", "POST", "/api/now/table/core_company", nil, `{"name":`, true, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, srv, c.method, c.path, c.query, c.body, c.auth)
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.raw)
			}
			if c.status >= 400 && a.body["status"] != "failure" {
				t.Errorf("error answer without status failure: %s", a.raw)
			}
			snaps.MatchJSON(t, mustJSON(t, scrub(a.body)))
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEncodedQueries(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	for _, r := range []map[string]string{
		{"name": "Acme", "u_product": "AEM", "city": "Köln"},
		{"name": "ACME", "u_product": "AEM Basic"},
		{"name": "Other", "u_product": "AEM"},
		{"name": "Empty"},
	} {
		srv.Seed("core_company", r)
	}
	names := func(query string) string {
		a := call(t, srv, "GET", "/api/now/table/core_company", url.Values{"sysparm_query": {query}, "sysparm_fields": {"name"}}, "", true)
		var out []string
		for _, r := range a.body["result"].([]any) {
			out = append(out, r.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ query, want string }{
		{"name=acme", "Acme,ACME"},
		{"name=Acme^u_product=AEM", "Acme"},
		{"u_product=AEM^ORu_product=AEM Basic^name=Other", "Other"},
		{"name=Acme^NQname=Other", "Acme,ACME,Other"},
		{"nameINother,empty", "Other,Empty"},
		{"u_productISEMPTY", "Empty"},
		{"u_productISNOTEMPTY^cityISEMPTY", "ACME,Other"},
		{"u_no_such_field=1^name=Other", "Other"},
		{"u_no_such_field=1", "Acme,ACME,Other,Empty"},
		{"nameSTARTSWITHac^ORDERBYname", "Acme,ACME"},
	} {
		if got := names(c.query); got != c.want {
			t.Errorf("%s: %s, want %s", c.query, got, c.want)
		}
	}
	strict := sntest.NewServer(t, sntest.Options{CaseSensitive: true, InvalidQueryReturnsNoRows: true})
	strict.Seed("core_company", map[string]string{"name": "Acme"})
	a := call(t, strict, "GET", "/api/now/table/core_company", url.Values{"sysparm_query": {"name=acme^NQname=Acme"}}, "", true)
	if n := len(a.body["result"].([]any)); n != 1 {
		t.Errorf("case-sensitive: %d rows", n)
	}
	a = call(t, strict, "GET", "/api/now/table/core_company", url.Values{"sysparm_query": {"u_no_such_field=1"}}, "", true)
	if n := len(a.body["result"].([]any)); n != 0 {
		t.Errorf("invalid query with returns_no_rows: %d rows", n)
	}
}

func TestAttachmentsAndFaults(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	id := srv.Seed("u_managed_services_sales_order", map[string]string{"u_dr_number": "DR1"})
	up := url.Values{"table_name": {"u_managed_services_sales_order"}, "table_sys_id": {id}, "file_name": {"c.pdf"}}
	req, _ := http.NewRequest("POST", srv.URL()+"/api/now/attachment/file?"+up.Encode(), bytes.NewReader([]byte("%PDF-1.4 x")))
	req.Header.Set("Content-Type", "application/pdf")
	req.SetBasicAuth(sntest.DefaultUsername, sntest.DefaultPassword)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	a := call(t, srv, "GET", "/api/now/attachment", url.Values{"sysparm_query": {"table_name=u_managed_services_sales_order^table_sys_id=" + id}}, "", true)
	list := a.body["result"].([]any)
	if len(list) != 1 {
		t.Fatalf("list: %s", a.raw)
	}
	meta := list[0].(map[string]any)
	if meta["file_name"] != "c.pdf" || meta["size_bytes"] != "10" || meta["content_type"] != "application/pdf" || len(meta["hash"].(string)) != 64 {
		t.Errorf("metadata %v", meta)
	}

	srv.Inject(sntest.Fault{Method: "GET", Status: 429, RetryAfter: 1500 * time.Millisecond, Skip: 1})
	if a := call(t, srv, "GET", "/api/now/table/core_company", nil, "", true); a.status != 200 {
		t.Errorf("skipped request: %d", a.status)
	}
	a = call(t, srv, "GET", "/api/now/table/core_company", nil, "", true)
	if a.status != 429 || a.header.Get("Retry-After") != "2" || a.body["status"] != "failure" {
		t.Errorf("429: %d %q %s", a.status, a.header.Get("Retry-After"), a.raw)
	}
	srv.Inject(sntest.Fault{Method: "POST", Status: 504, AfterHandling: true})
	a = call(t, srv, "POST", "/api/now/table/core_company", nil, `{"name":"Lost"}`, true)
	if a.status != 504 || len(srv.Dump()["core_company"]) != 1 {
		t.Errorf("lost answer: %d, rows %v", a.status, srv.Dump()["core_company"])
	}
	call(t, srv, "POST", "/api/now/table/core_company", nil, `{"name":1}`, true)
	if v := srv.Violations(); len(v) != 1 || !strings.Contains(v[0], "not as a string") {
		t.Errorf("violations %v", v)
	}
}

func TestOAuthClientCredentials(t *testing.T) {
	srv := sntest.NewServer(t, sntest.Options{})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sntest.DefaultClientID}, "client_secret": {sntest.DefaultClientSecret}}
	resp, err := srv.Client().PostForm(srv.URL()+"/oauth_token.do", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token %+v", tok)
	}
	req, _ := http.NewRequest("GET", srv.URL()+"/api/now/table/core_company", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with the token: %d", resp.StatusCode)
	}
	form.Set("client_secret", "wrong")
	resp, _ = srv.Client().PostForm(srv.URL()+"/oauth_token.do", form)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong secret: %d", resp.StatusCode)
	}
}
