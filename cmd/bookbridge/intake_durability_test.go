package main

// The durability tests of deal intake (issue 19): a steady stream of deals
// is posted to a real serve over HTTP while serve is killed with SIGKILL or
// its Postgres is restarted. Intake promises that a deal answered 2xx is
// committed, that a redelivery is answered 200 once committed and 201 when
// it never was, and that an older version is answered 409. The tests see
// serve only as Salesforce does (HTTP) and read the store's table to check.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

const (
	// durabilitySenders post deals at the same time, as Salesforce's
	// outbound messages do.
	durabilitySenders = 8
	// durabilityDeals bounds the new deals of one test.
	durabilityDeals = 1600
	// dealCustomers is how many ECC ids the deals share.
	dealCustomers = 7
	// maxDealVersion is the newest version a sender posts of a deal.
	maxDealVersion = 4
	// dealRequestTimeout is a sender's patience with one request: longer
	// than any answer takes, so that a request without an answer is one the
	// server never answered.
	dealRequestTimeout = 20 * time.Second
)

// exampleModified is the example deal's LastModifiedDate.
var exampleModified = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// dealMaker makes the deals of a test from the example deal: deal n has a
// Salesforce id of its own and one of dealCustomers ECC ids, and its
// version k is LastModifiedDate k minutes after the example's (version 0,
// the example's own date, is older than any version senders post).
type dealMaker struct {
	base   []byte
	prefix string // 5 characters that start every Salesforce id
}

func newDealMaker(t *testing.T, prefix string) dealMaker {
	t.Helper()
	m := dealMaker{base: must(os.ReadFile(examplePayload)), prefix: prefix}
	for _, k := range []int{0, maxDealVersion} {
		d, err := sfdc.Decode[sfdc.Opportunity](m.body(0, k))
		if err != nil {
			t.Fatal(err)
		}
		if err := sfdc.Validate(&d.Value); err != nil {
			t.Fatalf("the test's deals are not valid: %v", err)
		}
		if got, want := d.Value.LastModifiedDate.Time, exampleModified.Add(time.Duration(k)*time.Minute); !got.Equal(want) {
			t.Fatalf("version %d of a deal has LastModifiedDate %s, want %s: the example deal changed", k, got, want)
		}
	}
	return m
}

// sfID is deal n's Salesforce id.
func (m dealMaker) sfID(n int) string {
	id15 := fmt.Sprintf("%s%010d", m.prefix, n)
	return id15 + sfdc.IDChecksum(id15)
}

// number is the deal whose Salesforce id is sfID (ok is false for none).
func (m dealMaker) number(sfID string) (n int, ok bool) {
	digits, found := strings.CutPrefix(sfID, m.prefix)
	if !found || len(digits) != 13 {
		return 0, false
	}
	n, err := strconv.Atoi(digits[:10])
	return n, err == nil && m.sfID(n) == sfID
}

// body is version k of deal n.
func (m dealMaker) body(n, k int) []byte {
	b := bytes.ReplaceAll(m.base, []byte("006Dn00000AbCdEIAV"), []byte(m.sfID(n)))
	b = bytes.Replace(b, []byte(`"0001234567"`), fmt.Appendf(nil, `"55%08d"`, n%dealCustomers), 1)
	mod := exampleModified.Add(time.Duration(k) * time.Minute).Format("2006-01-02T15:04:05.000-0700")
	return bytes.Replace(b, []byte(`"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`), []byte(`"LastModifiedDate": "`+mod+`"`), 1)
}

// version says which version of deal n raw is (-1: none up to
// maxDealVersion).
func (m dealMaker) version(n int, raw []byte) int {
	for k := range maxDealVersion + 1 {
		if bytes.Equal(raw, m.body(n, k)) {
			return k
		}
	}
	return -1
}

// attemptKind is why a sender posted a deal.
type attemptKind int

const (
	attemptNew        attemptKind = iota // the deal's first post
	attemptNewer                         // a newer version of a deal answered 2xx
	attemptRedelivery                    // the version last answered 2xx, again
)

func (k attemptKind) String() string {
	return [...]string{"new deal", "newer version", "redelivery"}[k]
}

// attempt is one post of a deal and its answer.
type attempt struct {
	kind     attemptKind
	version  int
	sent     time.Time
	answered time.Time // when the answer (or the error) came
	status   int       // 0: no answer (the connection failed or the request timed out)
	outcome  string    // the answer's outcome
	errorMsg string    // the transport's error, or the error answer's
}

// committed says whether the answer promises that the version is stored.
func (a attempt) committed() bool { return a.status == http.StatusCreated || a.status == http.StatusOK }

// unanswered says whether the deal may or may not be stored after a.
func (a attempt) unanswered() bool { return a.status == 0 || a.status >= 500 }

// want is the answer the stream expects for a's kind when the server
// answers it.
func (a attempt) want() (int, string) {
	switch a.kind {
	case attemptNewer:
		return http.StatusOK, "updated"
	case attemptRedelivery:
		return http.StatusOK, "duplicate"
	}
	return http.StatusCreated, "created"
}

// dealPoster posts deals to serve and reads its answers.
type dealPoster struct {
	client *http.Client
	base   string // serve's URL
	key    string // an intake key
	deals  dealMaker
}

func newDealPoster(t *testing.T, base, key string, deals dealMaker) *dealPoster {
	tr := &http.Transport{MaxIdleConnsPerHost: durabilitySenders, MaxConnsPerHost: 2 * durabilitySenders, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &dealPoster{base: base, key: key, deals: deals, client: &http.Client{
		Transport:     checkedTransport{t: t, contract: contract(t), next: tr},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// post posts version k of deal n.
func (p *dealPoster) post(kind attemptKind, n, k int) attempt {
	a := attempt{kind: kind, version: k, sent: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), dealRequestTimeout)
	defer cancel()
	req := must(http.NewRequestWithContext(ctx, "POST", p.base+"/api/v1/deals", bytes.NewReader(p.deals.body(n, k))))
	req.Header.Set("X-API-Key", p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	a.answered = time.Now()
	if err != nil {
		a.errorMsg = err.Error()
		return a
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.errorMsg = err.Error()
		return a
	}
	a.status = resp.StatusCode
	var ans struct{ Outcome, Error string }
	_ = json.Unmarshal(body, &ans) // the checked transport has checked it against the contract
	a.outcome, a.errorMsg = ans.Outcome, ans.Error
	return a
}

// ready asks /readyz and returns its status (0: no answer).
func (p *dealPoster) ready() int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := must(http.NewRequestWithContext(ctx, "GET", p.base+"/readyz", nil))
	resp, err := p.client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// ledger keeps every attempt per deal.
type ledger struct {
	mu    sync.Mutex
	deals map[int][]attempt
}

func (l *ledger) add(n int, a attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.deals == nil {
		l.deals = map[int][]attempt{}
	}
	l.deals[n] = append(l.deals[n], a)
}

// snapshot copies the attempts, for reading without the lock.
func (l *ledger) snapshot() map[int][]attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int][]attempt, len(l.deals))
	for n, as := range l.deals {
		out[n] = slices.Clone(as)
	}
	return out
}

// firstCommittedAfter is when the first answer of 2xx after since came
// (ok is false when none has).
func (l *ledger) firstCommittedAfter(since time.Time) (first time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, as := range l.deals {
		for _, a := range as {
			if a.committed() && a.answered.After(since) && (first.IsZero() || a.answered.Before(first)) {
				first = a.answered
			}
		}
	}
	return first, !first.IsZero()
}

// stream is the senders posting deals until stopped or out of deals.
type stream struct {
	poster *dealPoster
	ledger *ledger
	next   atomic.Int64 // the number of the next new deal
	quit   chan struct{}
	done   chan struct{} // closed when every sender has returned
	once   sync.Once
}

// startStream starts the senders.
func startStream(p *dealPoster) *stream {
	s := &stream{poster: p, ledger: &ledger{}, quit: make(chan struct{}), done: make(chan struct{})}
	var wg sync.WaitGroup
	for range durabilitySenders {
		wg.Go(s.send)
	}
	go func() { wg.Wait(); close(s.done) }()
	return s
}

// stop stops the senders and waits for them.
func (s *stream) stop() {
	s.once.Do(func() { close(s.quit) })
	<-s.done
}

// pause waits for d, or less when the stream is stopped, and reports
// whether it was not.
func (s *stream) pause(d time.Duration) bool {
	select {
	case <-s.quit:
		return false
	case <-time.After(d):
		return true
	}
}

// send is one sender: mostly new deals, and between them a newer version
// or an exact redelivery of one of its deals whose last post was answered
// 2xx. A deal left without an answer is not posted again by the stream (a
// redelivery after the stream checks it). After a failed post the sender
// waits a moment, as a client backing off does.
func (s *stream) send() {
	var mine []int           // this sender's deals whose last post was answered 2xx
	version := map[int]int{} // the version last answered 2xx per deal
	for i := 0; i < 2*durabilityDeals; i++ {
		select {
		case <-s.quit:
			return
		default:
		}
		kind, n, k := attemptNew, 0, 1
		if len(mine) > 0 && (i%6 == 2 || i%6 == 5) {
			n = mine[(i*7919)%len(mine)]
			kind, k = attemptRedelivery, version[n]
			if i%6 == 2 && version[n] < maxDealVersion {
				kind, k = attemptNewer, version[n]+1
			}
		} else if n = int(s.next.Add(1)) - 1; n >= durabilityDeals {
			return
		}
		a := s.poster.post(kind, n, k)
		s.ledger.add(n, a)
		wait := 2 * time.Millisecond
		switch {
		case a.committed():
			if kind == attemptNew {
				mine = append(mine, n)
			}
			version[n] = k
		case a.unanswered():
			mine = slices.DeleteFunc(mine, func(m int) bool { return m == n })
			wait = 50 * time.Millisecond
		}
		if !s.pause(wait) {
			return
		}
	}
}

// waitSent waits until the stream has sent half its deals or for at most
// d, and fails t if the stream ended by itself meanwhile.
func (s *stream) waitSent(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && s.next.Load() < durabilityDeals/2 {
		select {
		case <-s.done:
			t.Fatal("the stream ran out of deals before the test interrupted it: raise durabilityDeals")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// tally counts the answers of a phase for the summary.
type tally struct {
	deals, attempts                                 int
	created, ok, conflict, unavailable, none, other int
}

func (c *tally) count(a attempt) {
	c.attempts++
	switch {
	case a.status == 0:
		c.none++
	case a.status == http.StatusCreated:
		c.created++
	case a.status == http.StatusOK:
		c.ok++
	case a.status == http.StatusConflict:
		c.conflict++
	case a.status == http.StatusServiceUnavailable:
		c.unavailable++
	default:
		c.other++
	}
}

func (c tally) String() string {
	return fmt.Sprintf("%d deals, %d posts: %d answered 201, %d 200, %d 409, %d 503, %d other, %d no answer",
		c.deals, c.attempts, c.created, c.ok, c.conflict, c.unavailable, c.other, c.none)
}

// checkStream checks the answers of the stream: each as its kind expects,
// or 503, or none; nothing else. It returns their tally.
func checkStream(t *testing.T, attempts map[int][]attempt) tally {
	t.Helper()
	var c tally
	var bad []string
	for _, n := range slices.Sorted(maps.Keys(attempts)) {
		c.deals++
		for _, a := range attempts[n] {
			c.count(a)
			status, outcome := a.want()
			if a.status == 0 || a.status == http.StatusServiceUnavailable || a.status == status && a.outcome == outcome {
				continue
			}
			bad = append(bad, fmt.Sprintf("deal %d version %d (%s): %d %q %s, want %d %q, 503 or no answer",
				n, a.version, a.kind, a.status, a.outcome, a.errorMsg, status, outcome))
		}
	}
	reportSome(t, "answers during the stream", bad)
	return c
}

// reportSome fails t with the first few of problems.
func reportSome(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) == 0 {
		return
	}
	const shown = 10
	total, more := len(problems), ""
	if total > shown {
		more = fmt.Sprintf("\n(and %d more)", total-shown)
		problems = problems[:shown]
	}
	t.Errorf("%d wrong %s:\n%s%s", total, what, strings.Join(problems, "\n"), more)
}

// storedDeal is what the store holds for one Salesforce id.
type storedDeal struct {
	records int
	version int // the version of the payload stored (-1: none the test posted)
}

// readStored reads, straight from the store's table, every record's
// Salesforce id and payload, and returns per deal number what is stored;
// a record of no deal of the test is reported.
func readStored(t *testing.T, dbURL string, deals dealMaker) map[int]storedDeal {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT coalesce(sf_id, ''), payload_raw FROM staging_records")
	if err != nil {
		t.Fatalf("reading the records: %v", err)
	}
	defer rows.Close()
	var strangers []string
	out := map[int]storedDeal{}
	for rows.Next() {
		var sfID string
		var raw []byte
		if err := rows.Scan(&sfID, &raw); err != nil {
			t.Fatal(err)
		}
		n, ok := deals.number(sfID)
		if !ok {
			strangers = append(strangers, fmt.Sprintf("%q", sfID))
			continue
		}
		d := out[n]
		d.records++
		d.version = deals.version(n, raw)
		out[n] = d
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(strangers) > 0 {
		t.Errorf("%d records of no deal the test posted: %v", len(strangers), strangers)
	}
	return out
}

// checkCommitted checks promise (a): every deal answered 2xx is stored
// exactly once, with the version last answered 2xx or a newer one it was
// posted in; a deal never answered 2xx is stored at most once, with a
// version posted.
func checkCommitted(t *testing.T, attempts map[int][]attempt, stored map[int]storedDeal) {
	t.Helper()
	var bad []string
	for _, n := range slices.Sorted(maps.Keys(attempts)) {
		floor, posted := -1, 0
		for _, a := range attempts[n] {
			posted = max(posted, a.version)
			if a.committed() {
				floor = max(floor, a.version)
			}
		}
		s, ok := stored[n]
		switch {
		case !ok && floor >= 0:
			bad = append(bad, fmt.Sprintf("deal %d: version %d was answered 2xx, but the store has no record of it", n, floor))
		case !ok:
		case s.records != 1:
			bad = append(bad, fmt.Sprintf("deal %d: %d records, want 1", n, s.records))
		case s.version < 0 || s.version > posted:
			bad = append(bad, fmt.Sprintf("deal %d: the stored payload is none of the versions posted (1 to %d)", n, posted))
		case s.version < floor:
			bad = append(bad, fmt.Sprintf("deal %d: version %d stored, but version %d was answered 2xx", n, s.version, floor))
		}
	}
	reportSome(t, "deals in the store after the interruption", bad)
}

// redeliver checks promise (b): each deal whose last post had no answer or
// a 5xx is posted again as it was, concurrently, and answered 201 when the
// store had no record of it, 200 duplicate when it had that version, or
// 200 updated when it had an older one. It returns the tally, and how many
// of the versions redelivered had been committed although no post of them
// was answered 2xx.
func redeliver(t *testing.T, p *dealPoster, attempts map[int][]attempt, stored map[int]storedDeal, l *ledger) (c tally, committedUnanswered int) {
	t.Helper()
	var todo []int
	for _, n := range slices.Sorted(maps.Keys(attempts)) {
		if as := attempts[n]; as[len(as)-1].unanswered() {
			todo = append(todo, n)
		}
	}
	results := postAll(todo, func(n int) attempt {
		last := attempts[n][len(attempts[n])-1]
		a := p.post(attemptRedelivery, n, last.version)
		l.add(n, a)
		return a
	})
	var bad []string
	for i, n := range todo {
		a := results[i]
		c.deals++
		c.count(a)
		status, outcome := http.StatusCreated, "created"
		if s, ok := stored[n]; ok && s.version == a.version {
			status, outcome = http.StatusOK, "duplicate"
			if !slices.ContainsFunc(attempts[n], func(b attempt) bool { return b.version == a.version && b.committed() }) {
				committedUnanswered++
			}
		} else if ok {
			status, outcome = http.StatusOK, "updated"
		}
		if a.status != status || a.outcome != outcome {
			bad = append(bad, fmt.Sprintf("deal %d version %d redelivered: %d %q %s, want %d %q (stored before: %+v)",
				n, a.version, a.status, a.outcome, a.errorMsg, status, outcome, stored[n]))
		}
	}
	reportSome(t, "answers to redeliveries", bad)
	return c, committedUnanswered
}

// checkOlderRefused checks promise (c): a version older than the stored one
// of every deal is answered 409 stale. It returns the tally.
func checkOlderRefused(t *testing.T, p *dealPoster, stored map[int]storedDeal) tally {
	t.Helper()
	todo := slices.Sorted(maps.Keys(stored))
	older := func(n int) int { return max(stored[n].version-1-n%2, 0) } // one or two versions back
	results := postAll(todo, func(n int) attempt { return p.post(attemptNew, n, older(n)) })
	var c tally
	var bad []string
	for i, n := range todo {
		a := results[i]
		c.deals++
		c.count(a)
		if a.status != http.StatusConflict || a.outcome != "stale" {
			bad = append(bad, fmt.Sprintf("deal %d: version %d (stored: %d) answered %d %q %s, want 409 \"stale\"",
				n, a.version, stored[n].version, a.status, a.outcome, a.errorMsg))
		}
	}
	reportSome(t, "answers to older versions", bad)
	return c
}

// checkFinal checks the store after the redeliveries: one record for each
// deal posted, with the newest version posted of it.
func checkFinal(t *testing.T, attempts map[int][]attempt, stored map[int]storedDeal) {
	t.Helper()
	var bad []string
	for _, n := range slices.Sorted(maps.Keys(attempts)) {
		newest := 0
		for _, a := range attempts[n] {
			newest = max(newest, a.version)
		}
		if s := stored[n]; s.records != 1 || s.version != newest {
			bad = append(bad, fmt.Sprintf("deal %d: %d records with version %d, want 1 with version %d", n, s.records, s.version, newest))
		}
	}
	if len(stored) != len(attempts) {
		bad = append(bad, fmt.Sprintf("%d deals stored, %d posted", len(stored), len(attempts)))
	}
	reportSome(t, "deals in the store at the end", bad)
}

// postAll runs post for every deal of todo from durabilitySenders workers
// and returns the attempts in todo's order.
func postAll(todo []int, post func(n int) attempt) []attempt {
	results := make([]attempt, len(todo))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range durabilitySenders {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(todo); i = int(next.Add(1)) - 1 {
				results[i] = post(todo[i])
			}
		})
	}
	wg.Wait()
	return results
}

// intakeKey creates an intake API key in the database of env.
func intakeKey(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, testConfig(t, env), app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	return must(a.Auth.CreateKey(ctx, "salesforce", auth.RoleIntake))
}

// servingAddr matches the address in serve's "bookbridge is serving" line.
var servingAddr = regexp.MustCompile(`msg="bookbridge is serving" http=(127\.0\.0\.1:[0-9]+)`)

// serveURL is the URL serve listens on, from its log.
func serveURL(t *testing.T, p *serveProcess) string {
	t.Helper()
	m := servingAddr.FindAllStringSubmatch(p.log.String(), -1)
	if len(m) != 1 {
		t.Fatalf("serve's log names its address %d times, want once:\n%s", len(m), p.log.String())
	}
	return "http://" + m[0][1]
}

// durabilityEnv is serve's configuration for the durability tests: the
// healing tests' (nothing is loaded here) with the log at info level,
// where serve says that it serves.
func durabilityEnv(t *testing.T, dbURL string) map[string]string {
	return healEnv(dbURL, newHealDouble(t), map[string]string{"BOOKBRIDGE_LOG_LEVEL": "info"})
}

// TestIntakeSurvivesKill9 kills serve with SIGKILL while 8 senders post
// new deals, newer versions and redeliveries, and starts it again on the
// same database: every deal answered 2xx before the kill is stored once
// with the version answered (or a newer one posted); each deal left
// without an answer is answered 201 or 200 when redelivered, as the store
// says it was committed or not; older versions are answered 409.
func TestIntakeSurvivesKill9(t *testing.T) {
	bin := buildServe(t)
	dbURL := dbtest.PostgresURL(t)
	env := durabilityEnv(t, dbURL)
	serve := startServeProcess(t, bin, env)
	deals := newDealMaker(t, "006KD")
	p := newDealPoster(t, serveURL(t, serve), intakeKey(t, env), deals)

	start := time.Now()
	s := startStream(p)
	s.waitSent(t, 1500*time.Millisecond)
	serve.kill(t)
	killed := time.Now()
	s.stop()
	streamed := s.ledger.snapshot()
	during := checkStream(t, streamed)
	if during.created == 0 {
		t.Fatal("no deal was answered 201 before the kill")
	}

	p.base = serveURL(t, startServeProcess(t, bin, env))
	restarted := time.Now()
	stored := readStored(t, dbURL, deals)
	checkCommitted(t, streamed, stored)
	again, committedUnanswered := redeliver(t, p, streamed, stored, s.ledger)
	final := readStored(t, dbURL, deals)
	all := s.ledger.snapshot()
	checkFinal(t, all, final)
	stale := checkOlderRefused(t, p, final)
	checkFinal(t, all, readStored(t, dbURL, deals))

	t.Logf("kill -9 after %s of intake; before it %s", killed.Sub(start).Round(10*time.Millisecond), during)
	t.Logf("serve serving again %s after the kill; %d deals stored then; redelivered %s (%d of them committed though never answered 2xx)",
		restarted.Sub(killed).Round(10*time.Millisecond), len(stored), again, committedUnanswered)
	t.Logf("older versions: %s", stale)
}

// TestIntakeSurvivesPostgresRestart restarts serve's Postgres (a cluster of
// the test's own) while 8 senders post deals: /readyz says 503 while the
// database is down, intake answers 503 (or waits and succeeds), and it
// resumes by itself once the database is back; then the promises of
// TestIntakeSurvivesKill9 hold.
func TestIntakeSurvivesPostgresRestart(t *testing.T) {
	pg := startPGCluster(t)
	bin := buildServe(t)
	env := durabilityEnv(t, pg.URL())
	serve := startServeProcess(t, bin, env)
	deals := newDealMaker(t, "006PG")
	p := newDealPoster(t, serveURL(t, serve), intakeKey(t, env), deals)
	if st := p.ready(); st != http.StatusOK {
		t.Fatalf("/readyz answered %d before the restart, want 200", st)
	}

	start := time.Now()
	s := startStream(p)
	s.waitSent(t, time.Second)
	pg.stop(t)
	stopped := time.Now()
	if st := p.ready(); st != http.StatusServiceUnavailable {
		t.Errorf("/readyz answered %d while Postgres was down, want 503", st)
	}
	s.pause(time.Until(stopped.Add(time.Second)))
	pg.start(t)
	up := time.Now()

	// Intake resumes by itself: a deal sent after Postgres is back is
	// answered 2xx. The bound is generous; the summary gives the time.
	var resumed time.Time
	waitUntil(t, "intake to resume after Postgres came back", 30*time.Second, func() bool {
		var ok bool
		resumed, ok = s.ledger.firstCommittedAfter(up)
		return ok
	})
	waitUntil(t, "/readyz to answer 200 after Postgres came back", 30*time.Second, func() bool { return p.ready() == http.StatusOK })
	readyAt := time.Now()
	s.pause(500 * time.Millisecond)
	s.stop()
	streamed := s.ledger.snapshot()
	during := checkStream(t, streamed)
	met := 0
	for _, as := range streamed {
		for _, a := range as {
			if a.unanswered() && a.sent.After(stopped) && a.sent.Before(up) {
				met++
			}
		}
	}
	if met == 0 {
		t.Error("no deal posted while Postgres was down went unanswered or was answered 503: the outage met no request")
	}

	stored := readStored(t, pg.URL(), deals)
	checkCommitted(t, streamed, stored)
	again, committedUnanswered := redeliver(t, p, streamed, stored, s.ledger)
	final := readStored(t, pg.URL(), deals)
	all := s.ledger.snapshot()
	checkFinal(t, all, final)
	stale := checkOlderRefused(t, p, final)
	checkFinal(t, all, readStored(t, pg.URL(), deals))

	t.Logf("Postgres stopped after %s of intake, down for %s; %d posts met the outage; stream: %s",
		stopped.Sub(start).Round(10*time.Millisecond), up.Sub(stopped).Round(10*time.Millisecond), met, during)
	t.Logf("intake resumed %s after Postgres was back (the first answer of 2xx), /readyz 200 after %s; redelivered %s (%d of them committed though never answered 2xx)",
		resumed.Sub(up).Round(time.Millisecond), readyAt.Sub(up).Round(time.Millisecond), again, committedUnanswered)
	t.Logf("older versions: %s", stale)
}
