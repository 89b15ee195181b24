package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The body's read deadline bounds the body only: a handler that works
// past it once the body is in keeps its context.
func TestBodyDeadlineLiftedAtEOF(t *testing.T) {
	const d = 300 * time.Millisecond
	ctxErr := make(chan error, 1)
	ts := httptest.NewServer(bodyDeadline(d, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			bodyFailed(w, r, err)
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(3 * d):
		}
		ctxErr <- r.Context().Err()
		w.WriteHeader(http.StatusNoContent)
	})))
	defer ts.Close()
	resp, err := http.Post(ts.URL, "text/plain", strings.NewReader("a body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-ctxErr; err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("after the body was in: context %v, status %d; want a live context and 204", err, resp.StatusCode)
	}
}
