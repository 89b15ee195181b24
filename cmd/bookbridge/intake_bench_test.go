package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// BenchmarkIntakeHandler runs POST /api/v1/deals in-process (no network)
// on Postgres with a new deal per request, to profile the intake path:
//
//	go test ./cmd/bookbridge -run '^$' -bench IntakeHandler -cpuprofile cpu.out
func BenchmarkIntakeHandler(b *testing.B) {
	e := startTestServer(b, dbtest.PostgresURL(b), map[string]string{"BOOKBRIDGE_LOG_LEVEL": "warn"})
	h := server.New(e.p.App).Handler()
	base := must(os.ReadFile(examplePayload))
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			id15 := fmt.Sprintf("006BH%010d", i)
			body := bytes.ReplaceAll(base, []byte("006Dn00000AbCdEIAV"), []byte(id15+sfdc.IDChecksum(id15)))
			body = bytes.Replace(body, []byte(`"0001234567"`), []byte(fmt.Sprintf(`"8%09d"`, i)), 1)
			req := httptest.NewRequest("POST", "/api/v1/deals", bytes.NewReader(body))
			req.Header.Set("X-API-Key", e.intake)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 201 {
				b.Errorf("%d %s", rec.Code, rec.Body.String())
				return
			}
		}
	})
}
