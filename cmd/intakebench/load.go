package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookbridge/bookbridge/sfdc"
)

// maxRequestsPerRun bounds every load run in count as well as in time.
const maxRequestsPerRun = 5_000_000

// dealGenerator makes copies of the example deal with a new Salesforce id
// and ECC id each, so every request stages a new deal (a realistic worst
// case: duplicates are cheaper).
type dealGenerator struct {
	parts [3][]byte // before the id, between id and ECC id, after the ECC id
	n     atomic.Int64
}

func newDealGenerator(body []byte) (*dealGenerator, error) {
	d, err := sfdc.Decode[sfdc.Opportunity](body)
	if err != nil {
		return nil, err
	}
	if err := sfdc.Validate(&d.Value); err != nil {
		return nil, err
	}
	idTok := []byte(`"` + d.Value.ID + `"`)
	eccTok := []byte(`"` + d.Value.EndUserECCID + `"`)
	i, j := bytes.Index(body, idTok), bytes.Index(body, eccTok)
	if i < 0 || j < 0 || j < i || bytes.Count(body, idTok) != 1 || bytes.Count(body, eccTok) != 1 {
		return nil, fmt.Errorf("the payload must hold its Id once, before its End_User_ECC_ID__c, which it holds once")
	}
	g := &dealGenerator{}
	g.parts[0] = body[:i]
	g.parts[1] = body[i+len(idTok) : j]
	g.parts[2] = body[j+len(eccTok):]
	return g, nil
}

// next returns a new deal body.
func (g *dealGenerator) next(buf *bytes.Buffer) []byte {
	n := g.n.Add(1)
	id15 := fmt.Sprintf("006BN%010d", n)
	buf.Reset()
	buf.Write(g.parts[0])
	fmt.Fprintf(buf, `"%s%s"`, id15, sfdc.IDChecksum(id15))
	buf.Write(g.parts[1])
	fmt.Fprintf(buf, `"9%09d"`, n)
	buf.Write(g.parts[2])
	return buf.Bytes()
}

// target is a server under load.
type target struct {
	name string
	url  string
	key  string // X-API-Key, when the server wants one
	pid  int    // the server's process, for its CPU time
}

type result struct {
	requests int
	errors   int
	firstErr string
	elapsed  time.Duration
	p50, p99 time.Duration
	// CPU microseconds per request of the server process and of Postgres
	// (-1 where unknown: no /proc).
	serverCPU, pgCPU float64
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) String() string {
	s := fmt.Sprintf("%8.0f req/s  p50 %6.2fms  p99 %6.2fms  CPU/req server %s, Postgres %s  (%d requests",
		r.rps(), ms(r.p50), ms(r.p99), us(r.serverCPU), us(r.pgCPU), r.requests)
	if r.errors > 0 {
		s += fmt.Sprintf(", %d errors, first: %s", r.errors, r.firstErr)
	}
	return s + ")"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// us formats CPU microseconds per request ("-" when unknown).
func us(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fus", v)
}

// load posts deals to t from conns connections for d and measures.
func load(ctx context.Context, t target, gen *dealGenerator, conns int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		firstErr string
		count    atomic.Int64
		wg       sync.WaitGroup
	)
	meter := startCPU(t.pid)
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			mine := make([]time.Duration, 0, 4096)
			myErrs, myFirst := 0, ""
			for ctx.Err() == nil && count.Add(1) <= maxRequestsPerRun {
				body := gen.next(&buf)
				req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, t.url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if t.key != "" {
					req.Header.Set("X-API-Key", t.key)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						err = fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
					}
				}
				if time.Since(start) > d {
					break // finished after the window: not counted
				}
				if err != nil {
					myErrs++
					if myFirst == "" {
						myFirst = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += myErrs
			if firstErr == "" {
				firstErr = myFirst
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := result{requests: len(lat), errors: errs, firstErr: firstErr, elapsed: min(time.Since(start), d)}
	// Requests finished after the window are not counted, but their CPU
	// is: the figures err slightly high, alike for both servers.
	r.serverCPU, r.pgCPU = meter.stop(len(lat))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		r.p50 = lat[len(lat)*50/100]
		r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}
