package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/uptrace/bun/dialect"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/server"
	"github.com/bookbridge/bookbridge/loader/memory"
	"github.com/bookbridge/bookbridge/loader/refschema"
	"github.com/bookbridge/bookbridge/sfdc"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// propertyRequests is how many random requests TestAPIProperty sends to
// each database after its sweep (half from each of its two seeds); FuzzAPI
// sends one per input.
const propertyRequests = 200

// TestAPIProperty sends requests generated from openapi.yaml (valid,
// boundary and invalid parameters and bodies, every operation) to a server
// in this process with an in-memory target, on each database, from fixed
// seeds, and reports every request that breaks a rule of the API at once:
// see apiFuzzEnv.send for the rules.
func TestAPIProperty(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		propertyRun(t, newAPIFuzzEnv(t, dbURL))
	})
}

func propertyRun(t *testing.T, e *apiFuzzEnv) {
	var failures []string
	sweep := (&reqGen{t: t, c: randChooser{rand.New(rand.NewPCG(0, 22))}, e: e}).sweep()
	for i, r := range sweep {
		if msg := e.send(t, r); msg != "" {
			failures = append(failures, fmt.Sprintf("sweep request %d: %s", i, msg))
		}
	}
	for _, seed := range []uint64{1, 2} {
		g := &reqGen{t: t, c: randChooser{rand.New(rand.NewPCG(seed, 22))}, e: e}
		ops := g.operations()
		for i := range propertyRequests / 2 {
			// Every operation in turn, so that each gets its share.
			r := g.requestFor(ops[i%len(ops)])
			if msg := e.send(t, r); msg != "" {
				failures = append(failures, fmt.Sprintf("seed %d request %d: %s", seed, i, msg))
			}
		}
	}
	reportFailures(t, failures)
	t.Logf("answers by operation and status: %v", e.answered)
}

// FuzzAPI reads each input as the choices of one generated request (see
// reqGen) and fails on what TestAPIProperty fails on. The inputs share one
// server, so an input may meet what earlier ones staged. CI runs its seeds
// only; run it with go test -run '^$' -fuzz FuzzAPI -fuzztime 20000x
// ./cmd/bookbridge/.
func FuzzAPI(f *testing.F) {
	for seed := range uint64(24) {
		r := rand.New(rand.NewPCG(seed, 10))
		b := make([]byte, 64)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		f.Add(b)
	}
	e := newAPIFuzzEnv(f, dbtest.SQLiteURL(f))
	f.Fuzz(func(t *testing.T, choices []byte) {
		g := &reqGen{t: t, c: &byteChooser{b: choices}, e: e}
		if msg := e.send(t, g.request()); msg != "" {
			t.Error(msg)
		}
	})
}

// reportFailures fails t with each distinct failure once (the same
// operation failing the same way is shown with its first request).
func reportFailures(t *testing.T, failures []string) {
	t.Helper()
	seen := map[string]int{}
	var order []string
	for _, f := range failures {
		key := failureKey(f)
		if seen[key] == 0 {
			order = append(order, f)
		}
		seen[key]++
	}
	for _, f := range order {
		t.Errorf("%s (%d request(s) failed this way)", f, seen[failureKey(f)])
	}
}

// failureKey is the rule, the operation, the change of a sweep request
// and the start of the reason of a failure message, without the request's
// other values.
func failureKey(msg string) string {
	_, rest, _ := strings.Cut(msg, ": ")
	rule, rest, _ := strings.Cut(rest, ": ")
	method, rest, _ := strings.Cut(rest, " ")
	route, rest, _ := strings.Cut(rest, " ")
	note := ""
	if i := strings.Index(rest, " ["); i >= 0 {
		note, _, _ = strings.Cut(rest[i:], "]")
	}
	_, reason, _ := strings.Cut(rest, "]: ")
	if reason == "" {
		_, reason, _ = strings.Cut(rest, "): ")
	}
	head, tail, _ := strings.Cut(reason, ": ")
	tail, _, _ = strings.Cut(tail, ":")
	return clip([]byte(rule+": "+method+" "+route+note+": "+head+": "+tail), 160)
}

// apiFuzzEnv is a server of the API in this process on a fresh database
// and an in-memory target, with records in several states. It works no
// background jobs, so only a request changes the database or the target.
type apiFuzzEnv struct {
	t        testing.TB
	p        *process
	h        http.Handler
	contract *apiContract
	target   *memory.Target
	keys     map[auth.Role]string
	// refs are values of the record, job and attachment parameters that
	// name things the database has.
	refs map[string][]string
	// last is the state after the latest request.
	last state
	// answered counts the answers by operation and status.
	answered map[string]int
	// deal, email and rules are valid bodies the generator starts from.
	deal, email, rules, nextRules []byte
}

func newAPIFuzzEnv(t testing.TB, dbURL string) *apiFuzzEnv {
	t.Helper()
	ctx := context.Background()
	target := memory.New(memory.Options{Tables: refschema.Tables()})
	cfg := testConfig(t, map[string]string{
		"BOOKBRIDGE_DATABASE_URL":   dbURL,
		"BOOKBRIDGE_LISTEN":         "127.0.0.1:0",
		"BOOKBRIDGE_MAX_BODY_BYTES": "200000",
	})
	p, err := startProcess(ctx, cfg, app.Options{Logger: testLogger(t), Target: target}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	e := &apiFuzzEnv{t: t, p: p, h: server.New(p.App).Handler(), contract: contract(t), target: target,
		keys: map[auth.Role]string{}, refs: map[string][]string{}, answered: map[string]int{}}
	for _, role := range []auth.Role{auth.RoleIntake, auth.RoleOperator, auth.RoleAdmin} {
		if e.keys[role], err = p.App.Auth.CreateKey(ctx, "fuzz-"+string(role), role); err != nil {
			t.Fatal(err)
		}
	}
	e.deal = must(os.ReadFile(examplePayload))
	e.email = must(os.ReadFile(exampleEmail))
	e.rules = must(os.ReadFile("../../examples/mappings/reference.yaml"))
	e.nextRules = must(os.ReadFile("../../examples/mappings/reference-next.yaml"))
	e.seed(ctx)
	e.watchWrites(ctx)
	return e
}

// readyRecords is how many ready records the environment stages: a load
// takes one, and the sweep gives each variant of a load request its own.
const readyRecords = 28

// seed stages, through the Flow at once, a loaded record (deal, email,
// load), readyRecords ready ones (deal and email), a received one (a deal
// alone) and one waiting for its payload (an email alone), and queues the
// job of one more email.
func (e *apiFuzzEnv) seed(ctx context.Context) {
	flow := e.p.App.Flow
	loaded := must(flow.AcceptDeal(ctx, e.deal))
	must(flow.ProcessEmail(ctx, e.email, "api"))
	must(flow.Load(ctx, loaded.Record.ID, "fuzz"))
	for n := 1; n <= readyRecords; n++ {
		must(flow.AcceptDeal(ctx, otherDeal(e.deal, n)))
		must(flow.ProcessEmail(ctx, otherEmail(e.email, n), "api"))
	}
	must(flow.AcceptDeal(ctx, otherDeal(e.deal, readyRecords+1)))
	alone := bytes.ReplaceAll(e.email, []byte("0001234567"), []byte("0009999999"))
	alone = bytes.ReplaceAll(alone, []byte("Message-ID: <"), []byte("Message-ID: <alone-"))
	must(flow.ProcessEmail(ctx, alone, "api"))
	acc := must(flow.AcceptEmail(ctx, bytes.ReplaceAll(alone, []byte("<alone-"), []byte("<queued-")), "api"))
	page := must(e.p.App.Store.List(ctx, staging.Filter{Limit: 200}))
	for _, r := range page.Records {
		e.refs["record"] = append(e.refs["record"], r.Number, strconv.FormatInt(r.ID, 10))
		if r.State == staging.StateReady {
			e.refs["ready"] = append(e.refs["ready"], r.Number)
		}
		for _, a := range must(e.p.App.Store.Get(ctx, r.ID)).Attachments {
			e.refs["attachment"] = append(e.refs["attachment"], strconv.FormatInt(a.ID, 10))
		}
	}
	if len(page.Records) != readyRecords+3 || len(e.refs["ready"]) != readyRecords {
		e.t.Fatalf("seeding staged %d records (%d ready), want %d (%d ready)", len(page.Records), len(e.refs["ready"]), readyRecords+3, readyRecords)
	}
	e.refs["job"] = []string{strconv.FormatInt(acc.JobID, 10)}
}

// otherDeal is deal with another Salesforce id and ECC id (n picks them).
func otherDeal(deal []byte, n int) []byte {
	id15 := fmt.Sprintf("006FZ%010d", n)
	out := bytes.ReplaceAll(deal, []byte("006Dn00000AbCdEIAV"), []byte(id15+sfdc.IDChecksum(id15)))
	return bytes.Replace(out, []byte(`"0001234567"`), []byte(fmt.Sprintf(`"8%09d"`, n)), 1)
}

// otherEmail is email for the deal otherDeal(deal, n) makes.
func otherEmail(email []byte, n int) []byte {
	out := bytes.ReplaceAll(email, []byte("0001234567"), []byte(fmt.Sprintf("8%09d", n)))
	return bytes.ReplaceAll(out, []byte("Message-ID: <"), []byte(fmt.Sprintf("Message-ID: <deal-%d-", n)))
}

// genRequest is one generated request and what the generator knows of it.
type genRequest struct {
	method, path, query string
	ctype               string
	key                 string
	body                []byte
	// op is the contract's operation ("" for a path outside it).
	op string
	// note says what a request of the sweep changed in the valid one.
	note string
}

// send serves r and returns why the answer breaks a rule ("" when none):
//   - no answer is a 5xx: nothing a client sends may fail the server, and
//     the in-memory target never fails;
//   - an answer to a path of the contract matches the contract (status,
//     content type, body schema); any other path under /api/ is a 404 with
//     an Error body;
//   - a request the contract refuses (a parameter or body its schemas
//     reject, a content type it does not list) is refused (4xx), and so is
//     a write (POST) with a query parameter its operation does not have;
//   - a refused request (4xx) changes nothing in the database or the target.
func (e *apiFuzzEnv) send(t testing.TB, r genRequest) string {
	target := r.path
	if r.query != "" {
		target += "?" + r.query
	}
	req, err := http.NewRequest(r.method, "http://127.0.0.1"+target, bytes.NewReader(r.body))
	if err != nil {
		return fmt.Sprintf("generator: %s %s %s: not a request: %v", r.method, r.op, target, err)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if r.key != "" {
		req.Header.Set("X-API-Key", r.key)
	}
	refusedByContract, why := e.contract.refuses(req, r.body)
	if r.method == http.MethodPost && !refusedByContract {
		if name := e.contract.unknownParam(req); name != "" {
			refusedByContract, why = true, "a write with the query parameter "+strconv.Quote(name)+", which the operation does not have"
		}
	}
	before := e.last
	if before == nil {
		before = e.snapshot(t)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	after := e.snapshot(t)
	e.last = after
	e.answered[r.method+" "+routeOf(r)+" "+strconv.Itoa(res.StatusCode)]++
	desc := fmt.Sprintf("%s %s %s (%s, %d bytes) answered %d", r.method, routeOf(r), clip([]byte(target), 200), r.ctype, len(r.body), res.StatusCode)
	if r.note != "" {
		desc += " [" + r.note + "]"
	}
	switch {
	case res.StatusCode >= 500:
		return fmt.Sprintf("5xx: %s: %s", desc, clip(body, 300))
	case r.op == "" && (res.StatusCode != http.StatusNotFound || !isErrorBody(body)):
		return fmt.Sprintf("outside the contract, not a 404 Error: %s: %s %s", desc, res.Header.Get("Location"), clip(body, 300))
	}
	if r.op != "" {
		if err := e.contract.check(req, res.StatusCode, res.Header, body); err != nil {
			return fmt.Sprintf("answer not in the contract: %s: %v: %s", desc, err, clip(body, 300))
		}
	}
	if refusedByContract && res.StatusCode < 400 {
		return fmt.Sprintf("accepted what the contract refuses: %s: %s", desc, why)
	}
	if res.StatusCode >= 400 {
		if changed := before.diff(after); changed != "" {
			return fmt.Sprintf("refused but wrote: %s: %s changed: %s", desc, changed, clip(body, 200))
		}
	}
	return ""
}

// routeOf names r's operation by its path template for messages.
func routeOf(r genRequest) string {
	if r.op == "" {
		return "(outside)"
	}
	return r.op
}

func isErrorBody(b []byte) bool {
	var body struct{ Error, Code string }
	return json.Unmarshal(b, &body) == nil && body.Error != "" && body.Code != ""
}

// refuses reports whether the contract rejects req (its parameters, body
// or content type), and why. A request to no operation is not judged here.
func (c *apiContract) refuses(req *http.Request, body []byte) (bool, string) {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return false, ""
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	err = openapi3filter.ValidateRequest(context.Background(), in)
	// ValidateRequest reads the body; the server reads it next.
	req.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return true, err.Error()
	}
	return false, ""
}

// unknownParam returns a query parameter of req that its operation does
// not declare ("" when there is none, or req has no operation).
func (c *apiContract) unknownParam(req *http.Request) string {
	route, _, err := c.router.FindRoute(req)
	if err != nil {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(req.URL.Query())) {
		if route.Operation.Parameters.GetByInAndName("query", name) == nil {
			return name
		}
	}
	return ""
}

// state is what a request may change: the rows written to each table of
// the database (counted by the triggers watchWrites installs) and every
// row and file of the target.
type state map[string]string

// refusalAudit is what a refused request may write: the column that
// records a key's last use (any authenticated request), the history entry
// of a deal answered stale (the record's history keeps it, by design), and
// SQLite's own tables.
var refusalAudit = struct {
	columns     []string
	eventKinds  []string
	tablePrefix string
}{[]string{"last_used_at"}, []string{string(staging.EventPayloadStale)}, "sqlite_"}

// watchWrites installs on every table of the database triggers that note
// each row inserted, updated or deleted in fuzz_writes, but for what
// refusalAudit allows, so that a snapshot is one small query.
func (e *apiFuzzEnv) watchWrites(ctx context.Context) {
	db := e.p.App.DB
	pg := db.Dialect().Name() == dialect.PG
	var tables []string
	list := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if pg {
		list = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	}
	if err := db.NewRaw(list).Scan(ctx, &tables); err != nil {
		e.t.Fatal(err)
	}
	ddl := []string{`CREATE TABLE fuzz_writes (tbl TEXT NOT NULL)`}
	if pg {
		ddl = append(ddl, `CREATE FUNCTION fuzz_note_write() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN INSERT INTO fuzz_writes VALUES (TG_TABLE_NAME); RETURN NULL; END $$`)
	}
	for _, table := range tables {
		if strings.HasPrefix(table, refusalAudit.tablePrefix) {
			continue
		}
		var cols []string
		if pg {
			if err := db.NewRaw(`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?`, table).Scan(ctx, &cols); err != nil {
				e.t.Fatal(err)
			}
		} else if err := db.NewRaw(`SELECT name FROM pragma_table_info(?)`, table).Scan(ctx, &cols); err != nil {
			e.t.Fatal(err)
		}
		var watched []string
		for _, c := range cols {
			if !slices.Contains(refusalAudit.columns, c) {
				watched = append(watched, `"`+c+`"`)
			}
		}
		insertWhen := ""
		if table == "staging_events" {
			insertWhen = "NEW.kind NOT IN ('" + strings.Join(refusalAudit.eventKinds, "', '") + "')"
		}
		for i, event := range []string{"INSERT", "UPDATE OF " + strings.Join(watched, ", "), "DELETE"} {
			name := fmt.Sprintf("fuzz_write_%d_%s", i, table)
			when := ""
			if i == 0 && insertWhen != "" {
				when = " WHEN (" + insertWhen + ")"
			}
			if pg {
				ddl = append(ddl, fmt.Sprintf(`CREATE TRIGGER %q AFTER %s ON %q FOR EACH ROW%s EXECUTE FUNCTION fuzz_note_write()`, name, event, table, when))
			} else {
				ddl = append(ddl, fmt.Sprintf(`CREATE TRIGGER %q AFTER %s ON %q FOR EACH ROW%s BEGIN INSERT INTO fuzz_writes VALUES ('%s'); END`, name, event, table, when, table))
			}
		}
	}
	if len(ddl) < 10 {
		e.t.Fatalf("found %d tables to watch: %v", len(tables), tables)
	}
	for _, q := range ddl {
		if _, err := db.ExecContext(ctx, q); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
	}
}

func (e *apiFuzzEnv) snapshot(t testing.TB) state {
	var rows []struct {
		Tbl string
		N   int
	}
	if err := e.p.App.DB.NewRaw(`SELECT tbl, count(*) AS n FROM fuzz_writes GROUP BY tbl`).Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	s := state{}
	for _, r := range rows {
		s["db."+r.Tbl] = strconv.Itoa(r.N) + " rows written"
	}
	for table, recs := range e.target.Dump() {
		h := sha256.New()
		for _, r := range recs {
			fmt.Fprintf(h, "%s %v %v\x00", r.ID, r.Fields, e.target.Files(table, r.ID))
		}
		s["target."+table] = fmt.Sprintf("%d rows %s", len(recs), hex.EncodeToString(h.Sum(nil))[:16])
	}
	return s
}

// diff names what differs between s and t ("" when nothing).
func (s state) diff(t state) string {
	var out []string
	for k, v := range s {
		if t[k] != v {
			out = append(out, k)
		}
	}
	for k := range t {
		if _, ok := s[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// chooser is where the generator's choices come from: a seeded random
// source (the property test) or the fuzzer's bytes.
type chooser interface {
	// intn returns a number in [0, n).
	intn(n int) int
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }

// byteChooser reads choices from b, two bytes each; past its end every
// choice is 0 (the first, most ordinary option).
type byteChooser struct {
	b   []byte
	off int
}

func (c *byteChooser) intn(n int) int {
	if c.off+2 > len(c.b) {
		return 0
	}
	v := binary.LittleEndian.Uint16(c.b[c.off:])
	c.off += 2
	return int(v) % n
}

// reqGen builds requests from the contract's operations. Half of them are
// valid throughout (the admin key, values the contract allows, a body of a
// type the operation takes), so that the answers of success are reached
// too; the others may be hostile in any part.
type reqGen struct {
	t testing.TB
	c chooser
	e *apiFuzzEnv
	// valid is set while a valid request is built.
	valid bool
}

func (g *reqGen) pick(n int) int { return g.c.intn(n) }

// oneIn is true one time in n.
func (g *reqGen) oneIn(n int) bool { return g.c.intn(n) == 0 }

// hostile is true one time in n while a hostile request is built, never
// while a valid one is.
func (g *reqGen) hostile(n int) bool { return !g.valid && g.oneIn(n) }

func pickOf[T any](g *reqGen, xs []T) T { return xs[g.pick(len(xs))] }

// operation is one method of one path of the contract.
type operation struct {
	method, path string
	op           *openapi3.Operation
}

func (g *reqGen) operations() []operation {
	var ops []operation
	doc := g.e.contract.doc
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			ops = append(ops, operation{method, path, op})
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.method+a.path, b.method+b.path) })
	return ops
}

// request generates one request: an operation of the contract with path
// and query parameters, a key and a body, each valid, at a boundary or
// invalid.
func (g *reqGen) request() genRequest { return g.requestFor(pickOf(g, g.operations())) }

// requestFor generates a request to op.
func (g *reqGen) requestFor(op operation) genRequest {
	g.valid = g.oneIn(2)
	return g.parts(op).request(op)
}

// reqParts are the parts of a request to one operation.
type reqParts struct {
	path  map[string]string
	query url.Values
	key   string
	ctype string
	body  []byte
}

func (p reqParts) clone() reqParts {
	p.path = maps.Clone(p.path)
	p.query = maps.Clone(p.query)
	return p
}

// parts generates the parts of a request to op.
func (g *reqGen) parts(op operation) reqParts {
	p := reqParts{path: map[string]string{}, query: url.Values{}}
	for _, pr := range op.op.Parameters {
		param := pr.Value
		switch param.In {
		case "path":
			p.path[param.Name] = g.pathValue(param)
		case "query":
			if g.oneIn(2) {
				continue
			}
			for range 1 + g.pick(3)/2 {
				p.query.Add(param.Name, pickOf(g, paramValues(param.Schema.Value, g.valid)))
			}
		}
	}
	if g.hostile(8) {
		p.query.Add(pickOf(g, []string{"unknown", "dryrun", "DRY_RUN", "limit[]"}), pickOf(g, []string{"1", "", "true"}))
	}
	p.key = g.key(op.op)
	if op.op.RequestBody != nil {
		p.ctype, p.body = g.body(op)
	} else if g.hostile(10) {
		p.ctype, p.body = "application/json", []byte(`{"records":["BB0001001"]}`)
	}
	return p
}

// request assembles the parts of a request to op.
func (p reqParts) request(op operation) genRequest {
	r := genRequest{method: op.method, op: op.path, query: p.query.Encode(), key: p.key, ctype: p.ctype, body: p.body}
	r.path = op.path
	for name, v := range p.path {
		r.path = strings.Replace(r.path, "{"+name+"}", url.PathEscape(v), 1)
	}
	// A path value that made another path (an empty or a dot segment) is
	// outside the contract.
	for _, seg := range strings.Split(r.path, "/")[1:] {
		if seg == "" || seg == "." || seg == ".." {
			r.op = ""
		}
	}
	return r
}

// sweep is, for each operation, a valid request without query parameters
// and that request changed in one part for each hostile value of that
// part: every boundary and invalid value of each parameter, an unknown
// parameter, each key but the admin's, and each other content type and
// malformed body.
func (g *reqGen) sweep() []genRequest {
	var out []genRequest
	for _, op := range g.operations() {
		g.valid = true
		base := g.parts(op)
		// The query parameters are all optional: the base has none, and
		// each variant adds one.
		base.query = url.Values{}
		out = append(out, base.request(op))
		ready := slices.Clone(g.e.refs["ready"])
		vary := func(note string, change func(*reqParts)) {
			p := base.clone()
			// A load takes its record: each variant of one gets a ready
			// record of its own while they last, so that what it is
			// answered depends on the change alone.
			taken := op.op.OperationID == "loadRecord" && len(ready) > 0
			if taken {
				p.path["id"] = ready[0]
			}
			change(&p)
			if taken && p.path["id"] == ready[0] {
				ready = ready[1:]
			}
			r := p.request(op)
			r.note = note
			out = append(out, r)
		}
		for _, pr := range op.op.Parameters {
			param := pr.Value
			switch param.In {
			case "path":
				for _, v := range sweepValues(g.e.pathValues(param, false)) {
					vary("path "+param.Name+"="+strconv.Quote(clip([]byte(v), 20)), func(p *reqParts) { p.path[param.Name] = v })
				}
			case "query":
				for _, v := range sweepValues(paramValues(param.Schema.Value, false)) {
					vary("query "+param.Name+"="+strconv.Quote(clip([]byte(v), 20)), func(p *reqParts) { p.query.Set(param.Name, v) })
				}
			}
		}
		if op.method == http.MethodPost {
			vary("unknown query parameter", func(p *reqParts) { p.query.Set("unknown", "1") })
		}
		if op.op.Security == nil || len(*op.op.Security) > 0 {
			for i, k := range []string{"", "bbk_unknown", g.e.keys[auth.RoleIntake], g.e.keys[auth.RoleOperator]} {
				vary("key "+[]string{"none", "unknown", "intake", "operator"}[i], func(p *reqParts) { p.key = k })
			}
		}
		if op.op.RequestBody == nil {
			continue
		}
		for _, ct := range []string{"", "text/html", "application/json", "application/x-www-form-urlencoded"} {
			vary("content type "+strconv.Quote(ct), func(p *reqParts) { p.ctype = ct })
		}
		for _, b := range malformedBodies {
			vary("body "+strconv.Quote(clip(b, 12)), func(p *reqParts) { p.body = b })
		}
		if op.op.OperationID == "postDeal" {
			for _, m := range g.dealMutations() {
				vary("deal "+m.note, func(p *reqParts) { p.body = m.body })
			}
		}
	}
	return out
}

// sweepValues are the values of vs the sweep sends: all of them, but for
// free text the kinds of hostile text once each (the random requests take
// the others).
func sweepValues(vs []string) []string {
	if !slices.Equal(vs, textValues(false)) {
		return vs
	}
	return []string{"", "BB9999999", "\x00", "\x1f", "\xff", "..", ".", "' OR 1=1 --", strings.Repeat("x", 300)}
}

// malformedBodies are bodies that are not what any content type says, or
// over the test server's size limit.
var malformedBodies = [][]byte{nil, []byte("{"), []byte("[1]"), []byte("null"), []byte("\xff\xfe"), []byte(`{"a":1,"a":2}`), bytes.Repeat([]byte("x"), 250000)}

// dealMutations is the sample deal (as a new record) with one hostile
// value in each of a few places the issue names: control characters in a
// name, a huge exponent and an over-long quantity, an impossible date, a
// string where a number belongs, a missing field.
func (g *reqGen) dealMutations() []struct {
	note string
	body []byte
} {
	var v any
	if err := json.Unmarshal(otherDeal(g.e.deal, 200), &v); err != nil {
		g.t.Fatal(err)
	}
	items := []any{"OpportunityLineItems", "records", 0}
	cases := []struct {
		path []any
		repl any
	}{
		{[]any{"Account", "Name"}, "M\x00ller"},
		{[]any{"Account", "Name"}, "M\x07ller"},
		{append(slices.Clone(items), "Quantity"), json.Number("1e100000")},
		{append(slices.Clone(items), "Quantity"), json.Number("1234567890123456789012")},
		{append(slices.Clone(items), "TotalPrice"), "12.5"},
		{[]any{"CloseDate"}, "2026-13-01"},
		{[]any{"StageName"}, "remove"},
		{[]any{"Id"}, strings.Repeat("x", 70000)},
	}
	var out []struct {
		note string
		body []byte
	}
	for _, c := range cases {
		var cp any
		if err := json.Unmarshal(must(json.Marshal(v)), &cp); err != nil {
			g.t.Fatal(err)
		}
		note := fmt.Sprintf("%v=%s", c.path, clip(must(json.Marshal(c.repl)), 24))
		out = append(out, struct {
			note string
			body []byte
		}{note, must(json.Marshal(setJSON(cp, c.path, c.repl)))})
	}
	return out
}

// key is mostly the admin key (which may do everything), sometimes none,
// an unknown one or a key of a lesser role.
func (g *reqGen) key(op *openapi3.Operation) string {
	if op.Security != nil && len(*op.Security) == 0 {
		return ""
	}
	if g.valid {
		return g.e.keys[auth.RoleAdmin]
	}
	switch g.pick(12) {
	case 0:
		return ""
	case 1:
		return "bbk_unknown"
	case 2:
		return g.e.keys[auth.RoleIntake]
	case 3:
		return g.e.keys[auth.RoleOperator]
	}
	return g.e.keys[auth.RoleAdmin]
}

// pathValue is a value of a path parameter: mostly one that names a thing
// of the database, else an unknown, boundary or hostile one.
func (g *reqGen) pathValue(p *openapi3.Parameter) string {
	if known := g.e.pathValues(p, true); len(known) > 0 && (g.valid || g.pick(3) > 0) {
		return pickOf(g, known)
	}
	return pickOf(g, g.e.pathValues(p, false))
}

// refsOf are the values naming things of the database that path
// parameter p takes.
func (e *apiFuzzEnv) refsOf(p *openapi3.Parameter) []string {
	switch {
	case p.Name == "id" && p.Schema.Value.Type.Is("integer"):
		return e.refs["job"]
	case p.Name == "id":
		return e.refs["record"]
	}
	return e.refs[p.Name]
}

// pathValues are the values of path parameter p that name things of the
// database (valid) or not: unknown, boundary and hostile values.
func (e *apiFuzzEnv) pathValues(p *openapi3.Parameter, valid bool) []string {
	if valid {
		return e.refsOf(p)
	}
	if p.Schema.Value.Type.Is("integer") {
		return integerValues(p.Schema.Value, false)
	}
	return textValues(false)
}

// paramValues are values of a query parameter of schema s: those the
// contract allows (valid), or those and boundary and invalid ones.
func paramValues(s *openapi3.Schema, valid bool) []string {
	switch {
	case len(s.Enum) > 0:
		var out []string
		for _, v := range s.Enum {
			out = append(out, fmt.Sprint(v))
		}
		if !valid {
			out = append(out, "nonsense", "", strings.ToUpper(out[0]), out[0]+",", "\x00")
		}
		return out
	case s.Type.Is("boolean") && valid:
		return []string{"true", "false"}
	case s.Type.Is("boolean"):
		return []string{"true", "false", "yes", "no", "", "1", "0", "TRUE", "on", "2", "true,false"}
	case s.Type.Is("integer"):
		return integerValues(s, valid)
	}
	return textValues(valid)
}

// integerValues are integers in the range of s (valid), or boundary and
// invalid ones.
func integerValues(s *openapi3.Schema, valid bool) []string {
	lo, hi := float64(math.MinInt64), float64(math.MaxInt64)
	if s.Min != nil {
		lo = *s.Min
	}
	if s.Max != nil {
		hi = *s.Max
	}
	if valid {
		var out []string
		for _, n := range []float64{1, 2, 50, 200, math.MaxInt32} {
			out = append(out, ftoa(math.Max(lo, math.Min(hi, n))))
		}
		return out
	}
	out := []string{"0", "-1", "abc", "", "1.5", "1e3", "99999999999999999999", "9223372036854775807", "0x10", " 1", "+1"}
	if s.Min != nil {
		out = append(out, ftoa(lo), ftoa(lo-1))
	}
	if s.Max != nil {
		out = append(out, ftoa(hi), ftoa(hi+1))
	}
	return out
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// textValues are string parameter values: ordinary words, durations and
// names (valid), or also hostile ones (control characters, invalid UTF-8,
// long, dot segments).
func textValues(valid bool) []string {
	if valid {
		return []string{"", "a", "BB0001001", "24h", "1h", "Müller", "0001234567", "rules.yaml", "received"}
	}
	return []string{
		"", "BB9999999", "-1h", "soon", "\x00", "a\x00b", "\x1f", "\t", "\r\n", "\xff", "%", "'", `"`, "\\", "*", "_",
		"' OR 1=1 --", "..", ".", strings.Repeat("x", 300), strings.Repeat("é", 2000), "received,loaded", "1e100000",
	}
}

// body is the content type and body of a request to op: mostly a type
// the operation takes with a body built for it, sometimes another type,
// none, or bytes that are not what the type says.
func (g *reqGen) body(op operation) (string, []byte) {
	content := op.op.RequestBody.Value.Content
	types := slices.Sorted(func(yield func(string) bool) {
		for k := range content {
			if !yield(k) {
				return
			}
		}
	})
	ctype := pickOf(g, types)
	switch pick := g.pick(12); {
	case g.valid:
	case pick == 0:
		ctype = pickOf(g, []string{"", "text/html", "application/json", "application/x-www-form-urlencoded", "multipart/form-data"})
	case pick == 1:
		return ctype, nil
	case pick == 2:
		return ctype, pickOf(g, [][]byte{[]byte("{"), []byte("[1]"), []byte("null"), []byte("\xff\xfe"), []byte(`{"a":1,"a":2}`), bytes.Repeat([]byte("x"), 250000)})
	}
	if ctype != "" && g.oneIn(6) {
		ctype += "; charset=utf-8"
	}
	base, _, _ := strings.Cut(ctype, ";")
	switch {
	case op.op.OperationID == "postDeal" && base == "application/json":
		return ctype, g.deal()
	case base == "message/rfc822":
		return ctype, g.emailBody()
	case (base == "application/yaml" || base == "text/yaml" || base == "text/plain") && g.valid:
		return ctype, pickOf(g, [][]byte{g.e.rules, g.e.nextRules})
	case base == "application/yaml" || base == "text/yaml" || base == "text/plain":
		return ctype, pickOf(g, [][]byte{g.e.rules, g.e.nextRules, []byte("version: 1\nsteps: [\n"), []byte(""), []byte("a: b\n"), []byte("\x00")})
	case base == "application/json":
		if mt := content.Get("application/json"); mt != nil && mt.Schema != nil {
			return ctype, must(json.Marshal(g.jsonValue(mt.Schema.Value, 0)))
		}
	}
	return ctype, []byte("{}")
}

// deal is the sample deal, mostly changed in one place: another
// Salesforce id (a new record), a later version, or a field set to a
// value of another type, a boundary or hostile value, or removed.
func (g *reqGen) deal() []byte {
	d := g.e.deal
	switch pick := g.pick(4); {
	case g.valid && pick < 2, pick == 0:
		return otherDeal(d, 100+g.pick(50))
	case g.valid, pick == 1:
		return bytes.Replace(d, []byte(`"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`),
			[]byte(fmt.Sprintf(`"LastModifiedDate": "2026-11-%02dT10:00:00.000+0000"`, 20+g.pick(10))), 1)
	}
	var v any
	if err := json.Unmarshal(d, &v); err != nil {
		g.t.Fatal(err)
	}
	var leaves [][]any
	walkJSON(v, nil, func(path []any) { leaves = append(leaves, slices.Clone(path)) })
	path := pickOf(g, leaves)
	repl := pickOf(g, []any{nil, "", "\x00", "a\x00b", "2026-13-01", "x", 1e300, json.Number("1e100000"), json.Number("-1"),
		json.Number("0.0000000000000000001"), json.Number("123456789012345678901234567890"), true, []any{}, map[string]any{},
		strings.Repeat("x", 70000), "\u202e", "remove"})
	v = setJSON(v, path, repl)
	return must(json.Marshal(v))
}

// walkJSON calls leaf with the path of every scalar of v.
func walkJSON(v any, path []any, leaf func([]any)) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range x {
				if !yield(k) {
					return
				}
			}
		}) {
			walkJSON(x[k], append(path, k), leaf)
		}
	case []any:
		for i, e := range x {
			walkJSON(e, append(path, i), leaf)
		}
	default:
		leaf(path)
	}
}

// setJSON replaces the value at path ("remove" deletes an object's key).
func setJSON(v any, path []any, repl any) any {
	if len(path) == 0 {
		return repl
	}
	switch x := v.(type) {
	case map[string]any:
		k := path[0].(string)
		if len(path) == 1 && repl == "remove" {
			delete(x, k)
			return x
		}
		x[k] = setJSON(x[k], path[1:], repl)
	case []any:
		i := path[0].(int)
		x[i] = setJSON(x[i], path[1:], repl)
	}
	return v
}

// emailBody is the sample PH email: as it is, as a new message, cut
// short, with its headers only, or not a message at all.
func (g *reqGen) emailBody() []byte {
	m := g.e.email
	switch pick := g.pick(6); {
	case g.valid && pick < 3, pick == 0:
		return m
	case g.valid, pick == 1:
		return bytes.ReplaceAll(m, []byte("Message-ID: <"), []byte(fmt.Sprintf("Message-ID: <fuzz-%d-", g.pick(1000))))
	case pick == 2:
		return m[:len(m)/2]
	case pick == 3:
		head, _, _ := bytes.Cut(m, []byte("\n\n"))
		return head
	case pick == 4:
		return []byte("not a message\x00")
	}
	return bytes.ReplaceAll(m, []byte("Subject: To Be Provisioned"), []byte("Subject: Hello"))
}

// jsonValue builds a value for schema s: mostly valid (required fields
// present, values of the right type, enums from the list), sometimes a
// boundary or a wrong type.
func (g *reqGen) jsonValue(s *openapi3.Schema, depth int) any {
	if g.hostile(10) || depth > 4 {
		return pickOf(g, []any{nil, "x", 1, -1, true, []any{}, map[string]any{}, "\x00", 1e300})
	}
	switch {
	case len(s.Enum) > 0:
		return pickOf(g, s.Enum)
	case s.Type.Is("object"):
		out := map[string]any{}
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range s.Properties {
				if !yield(k) {
					return
				}
			}
		}) {
			if slices.Contains(s.Required, name) || g.pick(3) > 0 {
				out[name] = g.jsonValue(s.Properties[name].Value, depth+1)
			}
		}
		if g.hostile(8) {
			out["unknown"] = 1
		}
		return out
	case s.Type.Is("array"):
		var out []any
		for range g.pick(4) {
			out = append(out, g.jsonValue(s.Items.Value, depth+1))
		}
		return out
	case s.Type.Is("boolean"):
		return g.oneIn(2)
	case s.Type.Is("integer"):
		return pickOf(g, []any{0, 1, -1, math.MaxInt64})
	case s.Type.Is("string"):
		if len(g.e.refs["record"]) > 0 && g.oneIn(2) {
			return pickOf(g, g.e.refs["record"])
		}
		return pickOf(g, textValues(g.valid))
	}
	return nil
}

// TestAPIFuzzSeesWrites: the fingerprint the fuzz compares changes with a
// staged deal, a history entry, a row of the target and a file on it, and
// not with a stale deal's history entry alone.
func TestAPIFuzzSeesWrites(t *testing.T) {
	e := newAPIFuzzEnv(t, dbtest.SQLiteURL(t))
	ctx := context.Background()
	flow := e.p.App.Flow
	before := e.snapshot(t)
	must(flow.AcceptDeal(ctx, e.deal))
	if got := before.diff(e.snapshot(t)); got != "" {
		t.Errorf("a duplicate deal changed %s", got)
	}
	stale := bytes.Replace(e.deal, []byte(`"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`), []byte(`"LastModifiedDate": "2026-11-26T10:00:00.000+0000"`), 1)
	if out := must(flow.AcceptDeal(ctx, stale)); out.Outcome != staging.IntakeStale {
		t.Fatalf("the older deal was %s, want stale", out.Outcome)
	}
	if got := before.diff(e.snapshot(t)); got != "" {
		t.Errorf("a stale deal's history entry counted as a write: %s", got)
	}
	steps := []struct {
		name  string
		write func()
		want  []string
	}{
		{"a new deal", func() { must(flow.AcceptDeal(ctx, otherDeal(e.deal, 90))) }, []string{"db.staging_events", "db.staging_records"}},
		{"a row of the target", func() { e.target.Seed("core_company", map[string]string{"name": "x"}) }, []string{"target.core_company"}},
		{"a field of a row", func() {
			row := e.target.Dump()["core_company"][0]
			e.target.Set("core_company", row.ID, map[string]string{"u_tenant_id": "changed"})
		}, []string{"target.core_company"}},
	}
	for _, s := range steps {
		before := e.snapshot(t)
		s.write()
		got := strings.Split(before.diff(e.snapshot(t)), ", ")
		for _, w := range s.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s changed %q, want %s among them", s.name, got, w)
			}
		}
	}
}
