package sntest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/refschema"
)

// Default credentials of the double.
const (
	DefaultUsername     = "bookbridge"
	DefaultPassword     = "bookbridge-test"
	DefaultClientID     = "bookbridge-client"
	DefaultClientSecret = "bookbridge-client-secret"
)

// Options configure a Server. The zero value serves the reference schema
// with the default credentials.
type Options struct {
	// Tables is the schema: table -> fields (sys_ fields are added).
	// Default: loader/refschema's tables.
	Tables map[string][]string
	// References name the reference fields ("table.field" -> referenced
	// table), returned as {"link","value"} objects unless the client asks
	// for sysparm_exclude_reference_link=true. Default: the reference
	// schema's references.
	References map[string]string
	// Username and Password for Basic auth; ClientID and ClientSecret for
	// OAuth client credentials at /oauth_token.do.
	Username, Password     string
	ClientID, ClientSecret string
	// Latency delays every request.
	Latency time.Duration
	// CaseSensitive makes = and IN compare exactly instead of ignoring
	// case.
	CaseSensitive bool
	// InvalidQueryReturnsNoRows models glide.invalid_query.returns_no_rows.
	InvalidQueryReturnsNoRows bool
	// SeedChoices adds the demo's block-number choices to sys_choice.
	SeedChoices bool
	// Now is the clock of sys_created_on; default time.Now.
	Now func() time.Time
}

// DefaultReferences are the reference fields of the reference schema.
func DefaultReferences() map[string]string {
	return map[string]string{
		"u_ams_finance_names.u_company":            "core_company",
		"u_managed_services_sales_order.u_company": "core_company",
		"u_sales_skus.u_customer":                  "core_company",
		"u_sales_skus.u_dr_number":                 "u_managed_services_sales_order",
		"problem.company":                          "core_company",
	}
}

// Call is one request the double received.
type Call struct {
	At     time.Time
	Method string
	Path   string
	Query  url.Values
	// Table is the table of a Table API call, or table_name of an
	// Attachment API call.
	Table  string
	Status int
	// Violations are things the request did that bookbridge must not
	// (non-string values, javascript: query values).
	Violations []string
}

// Fault is an answer injected instead of (or after) the normal one.
type Fault struct {
	// Method and PathPrefix select the requests ("" matches any).
	Method     string
	PathPrefix string
	// Status is the answer's status; Message and Detail its error JSON
	// (defaults per status).
	Status          int
	Message, Detail string
	// RetryAfter, when positive, is sent as Retry-After in whole seconds
	// (rounded up).
	RetryAfter time.Duration
	// Skip lets this many matching requests through before the fault.
	Skip int
	// Count is how many matching requests get the fault (default 1).
	Count int
	// AfterHandling lets the request take effect and then answers with
	// the fault: the client never learns that its write happened.
	AfterHandling bool
	// CloseConnection closes the connection instead of answering (Status
	// is then unused): before the request takes effect, or after it with
	// AfterHandling, a write whose answer is lost on the way.
	CloseConnection bool
}

// Stats are the double's counters since the start (or the last
// ResetCalls).
type Stats struct {
	// Calls is every request received, the OAuth token endpoint's
	// included; connections refused while the double is down never
	// arrive and are not counted.
	Calls int
	// RateLimited is the requests answered 429, by the rate limit
	// (SetRateLimit) or an injected fault.
	RateLimited int
	// Dropped is the connections closed without an answer
	// (Fault.CloseConnection).
	Dropped int
	// Writes counts the writes that took effect (also those whose answer
	// was lost), by table: inserts and updates under the record's table,
	// uploads under sys_attachment.
	Writes map[string]int
}

// Server is the double. Start one with NewServer.
type Server struct {
	opts Options
	// addr is the listening address, kept across Down and Up.
	addr      string
	transport *http.Transport

	// life guards hs, the HTTP server while the double is up.
	life sync.Mutex
	hs   *http.Server

	mu        sync.Mutex
	latency   time.Duration
	forbidden bool
	// The rate limit: at most perSecond requests in each window of one
	// second, which starts with its first request.
	perSecond   int
	windowStart time.Time
	windowCount int
	stats       Stats

	schema    map[string]map[string]bool
	tables    map[string]map[string]map[string]string
	order     map[string][]string
	files     map[string]*attachment
	fileOrder []string
	faults    []*Fault
	calls     []Call
	counter   uint64
	tokens    map[string]bool
	inFlight  int
	maxIn     int
}

type attachment struct {
	meta    map[string]string
	content []byte
}

// NewServer starts a double on a loopback port and stops it when t ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sntest: listening on a loopback port: %v", err)
	}
	s.addr = ln.Addr().String()
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.serve(ln)
	t.Cleanup(s.close)
	return s
}

func (s *Server) serve(ln net.Listener) {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.life.Lock()
	s.hs = hs
	s.life.Unlock()
	go func() { _ = hs.Serve(ln) }()
}

func (s *Server) close() {
	s.Down()
	s.transport.CloseIdleConnections()
}

// Down takes the double off the network, as in an outage: it stops
// listening and closes every connection, requests under way included
// (their clients get no answer, though a write may have taken effect).
// New connections are refused until Up. The data is kept.
func (s *Server) Down() {
	s.life.Lock()
	hs := s.hs
	s.hs = nil
	s.life.Unlock()
	if hs != nil {
		_ = hs.Close()
	}
}

// Up listens again on the same address after Down. It fails when another
// program took the port meanwhile, or for a double made with New.
func (s *Server) Up() error {
	if s.addr == "" {
		return fmt.Errorf("sntest: Up needs a double started with NewServer")
	}
	s.life.Lock()
	up := s.hs != nil
	s.life.Unlock()
	if up {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("sntest: listening again on %s: %w", s.addr, err)
	}
	s.serve(ln)
	return nil
}

// SetRateLimit answers 429 with Retry-After (in whole seconds, as
// ServiceNow does) to the requests beyond perSecond in any one-second
// window, the window starting with its first request; 0 turns it off.
// ServiceNow's rate limit rules count per hour; the double counts per
// second so that tests stay short.
func (s *Server) SetRateLimit(perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perSecond = perSecond
	s.windowStart, s.windowCount = time.Time{}, 0
}

// SetLatency delays every request by d from now on (Options.Latency is
// the initial delay).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetForbidden answers 403 to every authenticated request while on, as
// an instance answers a user that lost its roles.
func (s *Server) SetForbidden(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden = on
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Writes = maps.Clone(s.stats.Writes)
	if st.Writes == nil {
		st.Writes = map[string]int{}
	}
	return st
}

// New returns a double that is not listening; serve it with your own
// http.Server (it is an http.Handler), or use NewServer.
func New(opts Options) *Server {
	if opts.Tables == nil {
		opts.Tables = refschema.Tables()
	}
	if opts.References == nil {
		opts.References = DefaultReferences()
	}
	if opts.Username == "" && opts.Password == "" {
		opts.Username, opts.Password = DefaultUsername, DefaultPassword
	}
	if opts.ClientID == "" && opts.ClientSecret == "" {
		opts.ClientID, opts.ClientSecret = DefaultClientID, DefaultClientSecret
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:    opts,
		latency: opts.Latency,
		schema:  map[string]map[string]bool{},
		tables:  map[string]map[string]map[string]string{},
		order:   map[string][]string{},
		files:   map[string]*attachment{},
		tokens:  map[string]bool{},
	}
	for table, fields := range opts.Tables {
		s.schema[table] = map[string]bool{}
		for _, f := range append(slices.Clone(fields), sysFields...) {
			s.schema[table][f] = true
		}
		s.tables[table] = map[string]map[string]string{}
	}
	if opts.SeedChoices {
		for _, c := range refschema.BlockNumberChoices() {
			s.Seed("sys_choice", c)
		}
	}
	return s
}

var sysFields = []string{"sys_id", "sys_created_on", "sys_created_by", "sys_updated_on", "sys_updated_by", "sys_mod_count"}

// URL is the base URL of the instance, such as http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.addr }

// Client returns an http.Client for the double.
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.transport} }

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Calls returns every request received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ResetCalls forgets the recorded requests and sets the counters to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.stats = Stats{}
	s.maxIn = s.inFlight
}

// CountCalls counts the recorded requests with method (any when "") whose
// path starts with prefix.
func (s *Server) CountCalls(method, prefix string) int {
	n := 0
	for _, c := range s.Calls() {
		if (method == "" || c.Method == method) && strings.HasPrefix(c.Path, prefix) {
			n++
		}
	}
	return n
}

// Violations returns every violation recorded, prefixed by its request.
func (s *Server) Violations() []string {
	var out []string
	for _, c := range s.Calls() {
		for _, v := range c.Violations {
			out = append(out, c.Method+" "+c.Path+": "+v)
		}
	}
	return out
}

// MaxInFlight is the largest number of requests handled at once since the
// start (or the last ResetCalls).
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

func (s *Server) newID() string {
	s.counter++
	sum := sha256.Sum256(fmt.Appendf(nil, "sntest-%d", s.counter))
	return hex.EncodeToString(sum[:16])
}

func (s *Server) stamp() string { return s.opts.Now().UTC().Format("2006-01-02 15:04:05") }

// Seed inserts a record directly and returns its sys_id. Unknown fields
// are ignored, as over the API.
func (s *Server) Seed(table string, fields map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.insert(table, fields)
	if err != nil {
		panic(err)
	}
	return rec["sys_id"]
}

func (s *Server) insert(table string, fields map[string]string) (map[string]string, error) {
	cols, ok := s.schema[table]
	if !ok {
		return nil, fmt.Errorf("sntest: no table %q", table)
	}
	rec := map[string]string{}
	for k, v := range fields {
		if cols[k] && !strings.HasPrefix(k, "sys_") {
			rec[k] = v
		}
	}
	id := s.newID()
	now := s.stamp()
	rec["sys_id"], rec["sys_created_on"], rec["sys_updated_on"] = id, now, now
	rec["sys_created_by"], rec["sys_updated_by"], rec["sys_mod_count"] = s.opts.Username, s.opts.Username, "0"
	s.tables[table][id] = rec
	s.order[table] = append(s.order[table], id)
	return rec, nil
}

// wrote counts a write that took effect; the caller holds mu.
func (s *Server) wrote(table string) {
	if s.stats.Writes == nil {
		s.stats.Writes = map[string]int{}
	}
	s.stats.Writes[table]++
}

// Dump returns every table's records (system fields included), in
// insertion order.
func (s *Server) Dump() map[string][]loader.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]loader.Record{}
	for table, ids := range s.order {
		for _, id := range ids {
			out[table] = append(out[table], loader.Record{ID: id, Fields: maps.Clone(s.tables[table][id])})
		}
	}
	return out
}

// Files returns the attachments of every record, by record sys_id, with
// the SHA-256 of their content.
func (s *Server) Files() map[string][]loader.AttachmentInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]loader.AttachmentInfo{}
	for _, id := range s.fileOrder {
		a := s.files[id]
		sum := sha256.Sum256(a.content)
		out[a.meta["table_sys_id"]] = append(out[a.meta["table_sys_id"]], loader.AttachmentInfo{
			ID: id, Name: a.meta["file_name"], ContentType: a.meta["content_type"],
			Size: int64(len(a.content)), SHA256: hex.EncodeToString(sum[:]),
		})
	}
	return out
}
