package sntest_test

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

// send makes one request and returns its status, or the error when no
// answer came.
func send(srv *sntest.Server, client *http.Client, method, path, body string) (*http.Response, error) {
	req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(sntest.DefaultUsername, sntest.DefaultPassword)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

const companies = "/api/now/table/core_company"

func TestFaults(t *testing.T) {
	for _, c := range []struct {
		name string
		// run makes requests against srv and checks their answers.
		run  func(t *testing.T, srv *sntest.Server)
		want sntest.Stats
		rows int
	}{
		{
			name: "rate limit",
			run: func(t *testing.T, srv *sntest.Server) {
				srv.SetRateLimit(2)
				var statuses []int
				for range 4 {
					resp, err := send(srv, srv.Client(), http.MethodGet, companies, "")
					if err != nil {
						t.Fatal(err)
					}
					statuses = append(statuses, resp.StatusCode)
					if resp.StatusCode == http.StatusTooManyRequests {
						if resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-RateLimit-Limit") != "2" || resp.Header.Get("X-RateLimit-Reset") == "" {
							t.Errorf("429 headers: %v", resp.Header)
						}
					}
				}
				if want := []int{200, 200, 429, 429}; !slices.Equal(statuses, want) {
					t.Errorf("statuses %v, want %v", statuses, want)
				}
				srv.SetRateLimit(0)
				if resp, err := send(srv, srv.Client(), http.MethodGet, companies, ""); err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("after the limit is lifted: %v %v", resp, err)
				}
			},
			want: sntest.Stats{Calls: 5, RateLimited: 2, Writes: map[string]int{}},
		},
		{
			name: "outage and restore on the same port",
			run: func(t *testing.T, srv *sntest.Server) {
				if resp, err := send(srv, srv.Client(), http.MethodPost, companies, `{"u_ecc_id":"1"}`); err != nil || resp.StatusCode != http.StatusCreated {
					t.Fatalf("before the outage: %v %v", resp, err)
				}
				url := srv.URL()
				srv.Down()
				_, err := send(srv, &http.Client{}, http.MethodGet, companies, "")
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("while down: %v, want connection refused", err)
				}
				if err := srv.Up(); err != nil {
					t.Fatal(err)
				}
				if srv.URL() != url {
					t.Errorf("back on %s, was %s", srv.URL(), url)
				}
				if resp, err := send(srv, srv.Client(), http.MethodGet, companies, ""); err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("after restore: %v %v", resp, err)
				}
			},
			want: sntest.Stats{Calls: 2, Writes: map[string]int{"core_company": 1}},
			rows: 1,
		},
		{
			name: "answer lost after the write",
			run: func(t *testing.T, srv *sntest.Server) {
				srv.Inject(sntest.Fault{Method: http.MethodPost, AfterHandling: true, CloseConnection: true})
				if resp, err := send(srv, srv.Client(), http.MethodPost, companies, `{"u_ecc_id":"1"}`); err == nil {
					t.Errorf("an answer came: %d", resp.StatusCode)
				}
			},
			want: sntest.Stats{Calls: 1, Dropped: 1, Writes: map[string]int{"core_company": 1}},
			rows: 1,
		},
		{
			name: "connection closed before the write",
			run: func(t *testing.T, srv *sntest.Server) {
				srv.Inject(sntest.Fault{Method: http.MethodPost, CloseConnection: true})
				if resp, err := send(srv, srv.Client(), http.MethodPost, companies, `{"u_ecc_id":"1"}`); err == nil {
					t.Errorf("an answer came: %d", resp.StatusCode)
				}
			},
			want: sntest.Stats{Calls: 1, Dropped: 1, Writes: map[string]int{}},
		},
		{
			name: "forbidden",
			run: func(t *testing.T, srv *sntest.Server) {
				srv.SetForbidden(true)
				for _, m := range []string{http.MethodGet, http.MethodPost} {
					if resp, err := send(srv, srv.Client(), m, companies, `{"u_ecc_id":"1"}`); err != nil || resp.StatusCode != http.StatusForbidden {
						t.Errorf("%s: %v %v", m, resp, err)
					}
				}
			},
			want: sntest.Stats{Calls: 2, Writes: map[string]int{}},
		},
		{
			name: "slow answers",
			run: func(t *testing.T, srv *sntest.Server) {
				srv.SetLatency(time.Minute)
				impatient := &http.Client{Timeout: 50 * time.Millisecond}
				if _, err := send(srv, impatient, http.MethodGet, companies, ""); err == nil {
					t.Error("an answer came before the latency")
				}
				srv.SetLatency(0)
				if resp, err := send(srv, impatient, http.MethodGet, companies, ""); err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("without latency: %v %v", resp, err)
				}
			},
			want: sntest.Stats{Calls: 2, Writes: map[string]int{}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := sntest.NewServer(t, sntest.Options{})
			c.run(t, srv)
			got := srv.Stats()
			if got.Calls != c.want.Calls || got.RateLimited != c.want.RateLimited || got.Dropped != c.want.Dropped || !maps.Equal(got.Writes, c.want.Writes) {
				t.Errorf("stats %+v, want %+v", got, c.want)
			}
			if n := len(srv.Dump()["core_company"]); n != c.rows {
				t.Errorf("%d companies, want %d", n, c.rows)
			}
		})
	}
}
