package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A request writes one access line, carrying the request id and what the
// handler added with AddLogAttrs.
func TestAccessLineCarriesHandlerAttrs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := observe(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		AddLogAttrs(r.Context(), "outcome", "created", "record", "BB0001001")
		w.WriteHeader(http.StatusCreated)
	}))
	req := httptest.NewRequest("POST", "/api/v1/deals", nil)
	req.Header.Set("X-Request-Id", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line, got %q", lines)
	}
	for _, want := range []string{"msg=http", "request_id=req-1", "status=201", "outcome=created", "record=BB0001001"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("access line %q lacks %s", lines[0], want)
		}
	}
	// Outside a request AddLogAttrs does nothing.
	AddLogAttrs(t.Context(), "ignored", true)
}

// A handler's own lines carry the request id too.
func TestHandlerLinesCarryRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := observe(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Logger(r.Context()).Warn("something happened")
		if RequestID(r.Context()) != "req-2" {
			t.Errorf("RequestID = %q", RequestID(r.Context()))
		}
	}))
	req := httptest.NewRequest("GET", "/api/v1/records", nil)
	req.Header.Set("X-Request-Id", "req-2")
	h.ServeHTTP(httptest.NewRecorder(), req)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "something happened") {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		if !strings.Contains(l, "request_id=req-2") {
			t.Errorf("line %q lacks the request id", l)
		}
	}
	if RequestID(t.Context()) != "" || Logger(t.Context()) != slog.Default() {
		t.Error("outside a request there is no id and the default logger")
	}
}
