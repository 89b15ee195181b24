package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/examples/gateway/gatewaytest"
)

// echoUpstream plays bookbridge: it records what reaches it and answers 201
// with the X-Forwarded-For it saw, or the status an X-Test-Answer header
// asks for.
type echoUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	Method, Path                              string
	XForwardedFor, XRealIP, Forwarded, APIKey string
	BodyLen                                   int
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	t.Helper()
	u := &echoUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s := seenRequest{
			Method: r.Method, Path: r.URL.Path,
			XForwardedFor: strings.Join(r.Header.Values("X-Forwarded-For"), ","),
			XRealIP:       r.Header.Get("X-Real-IP"),
			Forwarded:     r.Header.Get("Forwarded"),
			APIKey:        r.Header.Get("X-API-Key"),
			BodyLen:       len(body),
		}
		u.mu.Lock()
		u.seen = append(u.seen, s)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Test-Answer") == "422" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"error":"from bookbridge","problems":[{"path":"/Id","rule":"sfid","message":"bad id"}]}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"x_forwarded_for": s.XForwardedFor})
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *echoUpstream) addr() string { return strings.TrimPrefix(u.URL, "http://") }

// take returns and forgets what reached the upstream so far.
func (u *echoUpstream) take() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	return s
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, client *http.Client, method, url string, header http.Header, body []byte) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// errorText decodes a gateway answer and returns its "error" member; the
// answer must be JSON.
func errorText(t *testing.T, a answer) string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json (body %q)", ct, a.body)
	}
	var v struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || v.Error == "" {
		t.Errorf("answer %q is not JSON with an error member: %v", a.body, err)
	}
	return v.Error
}

const sixMiB = 6 << 20

// TestGatewayInFrontOfAnUpstream drives nginx as configured in nginx/ in
// front of a recording upstream: what is refused, with which status and
// JSON answer, and what reaches the upstream.
func TestGatewayInFrontOfAnUpstream(t *testing.T) {
	up := newEchoUpstream(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{Upstream: up.addr(), Allow: []string{"127.0.0.1/32"}})
	deals := gw.URL() + "/api/v1/deals"
	deal := []byte(`{"Id":"006Dn00000AbCdEIAV","StageName":"Closed Booked"}`)

	tests := []struct {
		name       string
		client     *http.Client
		method     string
		url        string
		header     http.Header
		body       []byte
		wantStatus int
		wantError  string // part of the gateway's JSON error; "" when the upstream answers
	}{
		{name: "valid key", method: "POST", url: deals, header: http.Header{"X-Api-Key": {gw.Key}}, body: deal, wantStatus: 201},
		{name: "no key", method: "POST", url: deals, body: deal, wantStatus: 401, wantError: "missing or unknown API key"},
		{name: "empty key", method: "POST", url: deals, header: http.Header{"X-Api-Key": {""}}, body: deal, wantStatus: 401, wantError: "X-API-Key"},
		{name: "wrong key", method: "POST", url: deals, header: http.Header{"X-Api-Key": {gatewaytest.NewKey(t)}}, body: deal, wantStatus: 401, wantError: "missing or unknown API key"},
		{name: "key in other case", method: "POST", url: deals, header: http.Header{"X-Api-Key": {strings.ToUpper(gw.Key)}}, body: deal, wantStatus: 401, wantError: "unknown API key"},
		{name: "key with a prefix", method: "POST", url: deals, header: http.Header{"X-Api-Key": {"x" + gw.Key}}, body: deal, wantStatus: 401, wantError: "unknown API key"},
		{name: "address not allowed, valid key", client: gatewaytest.ClientFrom("127.0.0.2"), method: "POST", url: deals, header: http.Header{"X-Api-Key": {gw.Key}}, body: deal, wantStatus: 403, wantError: "allowlist"},
		{name: "address not allowed, forged X-Forwarded-For", client: gatewaytest.ClientFrom("127.0.0.2"), method: "POST", url: deals,
			header: http.Header{"X-Api-Key": {gw.Key}, "X-Forwarded-For": {"127.0.0.1"}}, body: deal, wantStatus: 403, wantError: "allowlist"},
		{name: "body over 6 MiB", method: "POST", url: deals, header: http.Header{"X-Api-Key": {gw.Key}}, body: bytes.Repeat([]byte("a"), sixMiB+1), wantStatus: 413, wantError: "too large"},
		{name: "body of exactly 6 MiB", method: "POST", url: deals, header: http.Header{"X-Api-Key": {gw.Key}}, body: bytes.Repeat([]byte("a"), sixMiB), wantStatus: 201},
		{name: "GET", method: "GET", url: deals, header: http.Header{"X-Api-Key": {gw.Key}}, wantStatus: 405, wantError: "only POST"},
		{name: "other path", method: "POST", url: gw.URL() + "/console", header: http.Header{"X-Api-Key": {gw.Key}}, body: deal, wantStatus: 404, wantError: "POST /api/v1/deals only"},
		{name: "upstream's own error passes unchanged", method: "POST", url: deals, header: http.Header{"X-Api-Key": {gw.Key}, "X-Test-Answer": {"422"}}, body: deal, wantStatus: 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := tt.client
			if client == nil {
				client = gw.Client
			}
			up.take()
			a := send(t, client, tt.method, tt.url, tt.header, tt.body)
			if a.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", a.status, tt.wantStatus, a.body)
			}
			reached := up.take()
			if tt.wantError != "" {
				if msg := errorText(t, a); !strings.Contains(msg, tt.wantError) {
					t.Errorf("error %q does not contain %q", msg, tt.wantError)
				}
				if len(reached) != 0 {
					t.Errorf("a refused request reached the upstream: %+v", reached)
				}
				return
			}
			if len(reached) != 1 {
				t.Fatalf("%d requests reached the upstream, want 1", len(reached))
			}
			if reached[0].BodyLen != len(tt.body) {
				t.Errorf("upstream got %d body bytes, want %d", reached[0].BodyLen, len(tt.body))
			}
			if reached[0].APIKey != gw.Key {
				t.Errorf("upstream got X-API-Key %q, want the client's key passed on", reached[0].APIKey)
			}
		})
	}
	if strings.Contains(gw.AccessLog(), gw.Key) {
		t.Errorf("the access log contains the API key")
	}
	if !strings.Contains(gw.AccessLog(), `"api_client":"salesforce"`) {
		t.Errorf("the access log does not name the API client:\n%s", gw.AccessLog())
	}
}

// TestGatewaySetsTheClientAddress checks what bookbridge's trusted-proxy
// setting relies on: X-Forwarded-For carries the address the gateway saw,
// and whatever the client put in X-Forwarded-For or Forwarded is dropped.
func TestGatewaySetsTheClientAddress(t *testing.T) {
	up := newEchoUpstream(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{Upstream: up.addr()})
	deal := []byte(`{"Id":"006Dn00000AbCdEIAV"}`)

	for _, forged := range []http.Header{
		{},
		{"X-Forwarded-For": {"203.0.113.7"}},
		{"X-Forwarded-For": {"203.0.113.7, 198.51.100.9"}, "X-Real-Ip": {"203.0.113.7"}, "Forwarded": {"for=203.0.113.7"}},
	} {
		header := http.Header{"X-Api-Key": {gw.Key}}
		for k, v := range forged {
			header[k] = v
		}
		a := send(t, gw.Client, "POST", gw.URL()+"/api/v1/deals", header, deal)
		if a.status != http.StatusCreated {
			t.Fatalf("status %d, body %q", a.status, a.body)
		}
		reached := up.take()
		if len(reached) != 1 {
			t.Fatalf("%d requests reached the upstream", len(reached))
		}
		got := reached[0]
		if got.XForwardedFor != "127.0.0.1" || got.XRealIP != "127.0.0.1" {
			t.Errorf("client sent %v: upstream saw X-Forwarded-For %q and X-Real-IP %q, want 127.0.0.1 only", forged, got.XForwardedFor, got.XRealIP)
		}
		if got.Forwarded != "" {
			t.Errorf("client sent %v: a Forwarded header %q reached the upstream", forged, got.Forwarded)
		}
		if !strings.Contains(a.body, `"x_forwarded_for":"127.0.0.1"`) {
			t.Errorf("echo %q", a.body)
		}
	}
}

// TestGatewayLimitsTheRatePerKey uses a rate of one request a minute: the
// second request of one key is refused with 429, another key still passes.
func TestGatewayLimitsTheRatePerKey(t *testing.T) {
	up := newEchoUpstream(t)
	first, second := gatewaytest.NewKey(t), gatewaytest.NewKey(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{
		Upstream: up.addr(),
		Keys:     map[string]string{first: "salesforce-prod", second: "salesforce-sandbox"},
		Rate:     "1r/m",
		Burst:    -1,
	})
	url := gw.URL() + "/api/v1/deals"
	deal := []byte(`{}`)
	if a := send(t, gw.Client, "POST", url, http.Header{"X-Api-Key": {first}}, deal); a.status != 201 {
		t.Fatalf("first request: %d %q", a.status, a.body)
	}
	a := send(t, gw.Client, "POST", url, http.Header{"X-Api-Key": {first}}, deal)
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("second request of the same key: %d %q, want 429", a.status, a.body)
	}
	if msg := errorText(t, a); !strings.Contains(msg, "too many requests") {
		t.Errorf("error %q", msg)
	}
	if a.header.Get("Retry-After") == "" {
		t.Errorf("a 429 without Retry-After")
	}
	if a := send(t, gw.Client, "POST", url, http.Header{"X-Api-Key": {second}}, deal); a.status != 201 {
		t.Errorf("another key: %d %q, want 201: the limit is per key", a.status, a.body)
	}
	if n := len(up.take()); n != 2 {
		t.Errorf("%d requests reached the upstream, want 2", n)
	}
}

// TestGatewayWithoutUpstream answers 503 in JSON with Retry-After when
// bookbridge is down, which the Salesforce sender retries.
func TestGatewayWithoutUpstream(t *testing.T) {
	gw := gatewaytest.Start(t, gatewaytest.Options{Upstream: gatewaytest.FreeLoopbackAddr(t)})
	a := send(t, gw.Client, "POST", gw.URL()+"/api/v1/deals", http.Header{"X-Api-Key": {gw.Key}}, []byte(`{}`))
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d %q, want 503", a.status, a.body)
	}
	if msg := errorText(t, a); !strings.Contains(msg, "not reachable") {
		t.Errorf("error %q", msg)
	}
	if a.header.Get("Retry-After") != "60" {
		t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
	}
}

// TestGatewayOverTLS runs the documented TLS server block: TLS 1.2 and 1.3
// only, HSTS on every answer, including the gateway's own errors.
func TestGatewayOverTLS(t *testing.T) {
	up := newEchoUpstream(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{Upstream: up.addr(), TLS: true})
	if !strings.HasPrefix(gw.URL(), "https://") {
		t.Fatalf("URL %s", gw.URL())
	}
	url := gw.URL() + "/api/v1/deals"
	for _, tt := range []struct {
		key  string
		want int
	}{{gw.Key, 201}, {"", 401}} {
		a := send(t, gw.Client, "POST", url, http.Header{"X-Api-Key": {tt.key}}, []byte(`{}`))
		if a.status != tt.want {
			t.Errorf("status %d %q, want %d", a.status, a.body, tt.want)
		}
		if hsts := a.header.Get("Strict-Transport-Security"); hsts != "max-age=63072000" {
			t.Errorf("status %d: Strict-Transport-Security = %q", a.status, hsts)
		}
	}

	base := gw.Client.Transport.(*http.Transport).TLSClientConfig
	for _, v := range []struct {
		name string
		max  uint16
		ok   bool
	}{{"TLS 1.1", tls.VersionTLS11, false}, {"TLS 1.2", tls.VersionTLS12, true}, {"TLS 1.3", tls.VersionTLS13, true}} {
		cfg := base.Clone()
		cfg.MinVersion = tls.VersionTLS10
		cfg.MaxVersion = v.max
		conn, err := tls.Dial("tcp", gw.Addr(), cfg)
		if err == nil {
			conn.Close()
		}
		if (err == nil) != v.ok {
			t.Errorf("%s handshake: err = %v, want success %v", v.name, err, v.ok)
		}
	}
}
