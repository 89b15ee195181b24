package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// openAPIPath is the contract every answer of the API tests is checked
// against.
const openAPIPath = "internal/server/openapi.yaml"

// apiContract is openapi.yaml loaded and validated once, with a router
// that finds the operation of a request.
type apiContract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadContract = sync.OnceValues(func() (*apiContract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", openAPIPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", openAPIPath, err)
	}
	// The tests' servers listen on other ports than the documented one:
	// route on the path alone.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", openAPIPath, err)
	}
	// Bodies that are bytes or text to the API, not data to decode: an
	// attachment, an email, a rule file and this document.
	openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("message/rfc822", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/yaml", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/yaml", openapi3filter.PlainBodyDecoder)
	return &apiContract{doc: doc, router: router}, nil
})

// contract returns the loaded openapi.yaml or stops t.
func contract(t testing.TB) *apiContract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// check reports how an answer to req differs from the contract: an
// operation openapi.yaml lacks (but a path under /api/ that names none
// answered 404 with an Error body), a status it does not list for the
// operation (redirects included), a content type it does not list for the
// status, or a body its schema rejects. nil means the answer matches.
func (c *apiContract) check(req *http.Request, status int, header http.Header, body []byte) error {
	// An escaped slash in a path value makes a path of no operation, which
	// the router, reading the unescaped path, might take for another one.
	if strings.Contains(strings.ToUpper(req.URL.RawPath), "%2F") && status == http.StatusNotFound {
		return c.errorBody(header, body)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if strings.HasPrefix(req.URL.Path, "/api/") && status == http.StatusNotFound {
			return c.errorBody(header, body)
		}
		return fmt.Errorf("no operation in openapi.yaml: %w", err)
	}
	responses := route.Operation.Responses
	if responses.Status(status) == nil && responses.Default() == nil {
		return fmt.Errorf("status %d is not listed for %s %s", status, route.Method, route.Path)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	return nil
}

// errorBody reports how an answer differs from a JSON Error body.
func (c *apiContract) errorBody(header http.Header, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("an error answer of type %q, not application/json", header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("an error answer that is not JSON: %w", err)
	}
	return c.doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// checkedTransport checks every answer it carries against openapi.yaml and
// reports a mismatch as an error of t; the caller still gets the answer.
type checkedTransport struct {
	t        testing.TB
	contract *apiContract
	next     http.RoundTripper
}

func (ct checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := ct.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := ct.contract.check(req, resp.StatusCode, resp.Header, body); err != nil {
		ct.t.Errorf("%s %s answered %d, which does not match openapi.yaml: %v\n%s", req.Method, req.URL.RequestURI(),
			resp.StatusCode, err, clip(body, 2000))
	}
	return resp, nil
}

// checkedClient is an HTTP client for the API that checks every answer
// against openapi.yaml and does not follow redirects (the API has none).
func checkedClient(t testing.TB) *http.Client {
	return &http.Client{
		Transport:     checkedTransport{t: t, contract: contract(t), next: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// clip shortens b for a message.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "... (" + strconv.Itoa(len(b)) + " bytes)"
}

// TestContractCatchesMismatches: the check that every API test's answers
// go through finds each kind of mismatch.
func TestContractCatchesMismatches(t *testing.T) {
	c := contract(t)
	jsonCT := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	cases := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		ok                 bool
	}{
		{"a documented error", "GET", "/api/v1/records/BB1", 404, jsonCT, `{"error":"no such record","code":"not_found"}`, true},
		{"an email accepted", "POST", "/api/v1/emails", 202, jsonCT, `{"inbox_id":1,"job_id":2}`, true},
		{"a path under /api/ of no operation, 404", "GET", "/api/v1/nothing", 404, jsonCT, `{"error":"x","code":"not_found"}`, true},
		{"a path of no operation, 404 not JSON", "GET", "/api/v1/records//load", 404, http.Header{"Content-Type": {"text/plain"}}, `404 page not found`, false},
		{"a path of no operation, 200", "GET", "/api/v1/nothing", 200, jsonCT, `{}`, false},
		{"a path outside the API", "GET", "/nothing", 404, jsonCT, `{"error":"x","code":"not_found"}`, false},
		{"a method the route lacks", "DELETE", "/api/v1/deals", 405, jsonCT, `{"error":"x","code":"bad_request"}`, false},
		{"a status not listed", "GET", "/api/v1/records/BB1", 418, jsonCT, `{"error":"x","code":"not_found"}`, false},
		{"a redirect", "POST", "/api/v1/records/BB1/load", 307, http.Header{"Location": {"/x"}}, ``, false},
		{"a wrong content type", "GET", "/api/v1/records/BB1", 404, http.Header{"Content-Type": {"text/plain"}}, `no`, false},
		{"an error code not listed", "GET", "/api/v1/records/BB1", 404, jsonCT, `{"error":"x","code":"gone"}`, false},
		{"a required field missing", "GET", "/api/v1/records/BB1", 404, jsonCT, `{"error":"x"}`, false},
		{"a string for a number", "POST", "/api/v1/emails", 202, jsonCT, `{"inbox_id":"1","job_id":2}`, false},
		{"not JSON", "POST", "/api/v1/emails", 202, jsonCT, `{"inbox_id":`, false},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, "http://127.0.0.1:1"+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = c.check(req, tc.status, tc.header, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: check gave %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
