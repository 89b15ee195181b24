package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/bookbridge/bookbridge/examples/gateway/gatewaytest"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// TestBehindNginxGateway runs Debian's nginx with the example gateway
// configuration in front of a running bookbridge and checks what a sender
// sees, and that the client's address reaches bookbridge through
// X-Forwarded-For while a forged one does not.
func TestBehindNginxGateway(t *testing.T) {
	gatewaytest.RequireNginx(t)
	// bookbridge trusts the gateway (127.0.0.1) and accepts only clients at
	// 127.0.0.1; the gateway also lets 127.0.0.3 through, so a request from
	// there is refused by bookbridge only if the real address arrived.
	e := startTestServer(t, dbtest.SQLiteURL(t), map[string]string{
		"BOOKBRIDGE_TRUSTED_PROXIES": "127.0.0.1",
		"BOOKBRIDGE_ALLOWED_IPS":     "127.0.0.1",
	})
	gw := gatewaytest.Start(t, gatewaytest.Options{
		Upstream: e.p.Addr,
		Keys:     map[string]string{e.intake: "salesforce"},
		Allow:    []string{"127.0.0.1", "127.0.0.3"},
	})
	payload := must(os.ReadFile(examplePayload))
	post := func(from, key string, body []byte, header map[string]string) (int, map[string]any) {
		t.Helper()
		req := must(http.NewRequest("POST", gw.URL()+"/api/v1/deals", bytes.NewReader(body)))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := gatewaytest.ClientFrom(from).Do(req)
		if err != nil {
			t.Fatalf("POST from %s: %v", from, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	cases := []struct {
		name   string
		from   string
		key    string
		body   []byte
		header map[string]string
		status int
	}{
		{"valid key", "127.0.0.1", e.intake, payload, nil, 201},
		{"valid key again: duplicate", "127.0.0.1", e.intake, payload, nil, 200},
		{"no key", "127.0.0.1", "", payload, nil, 401},
		{"wrong key", "127.0.0.1", "bbk_notakey", payload, nil, 401},
		{"address not allowed by the gateway", "127.0.0.2", e.intake, payload, nil, 403},
		{"oversized body", "127.0.0.1", e.intake, bytes.Repeat([]byte(" "), 6<<20+1), nil, 413},
		{"client address reaches bookbridge", "127.0.0.3", e.intake, payload, nil, 403},
		{"forged X-Forwarded-For is not trusted", "127.0.0.3", e.intake, payload, map[string]string{"X-Forwarded-For": "127.0.0.1"}, 403},
		{"invalid deal passes through: 422", "127.0.0.1", e.intake, must(os.ReadFile("../../examples/payloads/invalid-stage.json")), nil, 422},
	}
	for _, c := range cases {
		status, body := post(c.from, c.key, c.body, c.header)
		if status != c.status {
			t.Errorf("%s: %d %v, want %d", c.name, status, body, c.status)
		}
	}
	// The refusals from 127.0.0.3 came from bookbridge itself (its JSON
	// error names its allowlist), not from the gateway.
	if _, body := post("127.0.0.3", e.intake, payload, nil); body["code"] != "forbidden" || body["request_id"] == nil {
		t.Errorf("the 403 for 127.0.0.3 should come from bookbridge: %v", body)
	}
}
