package sntest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds request bodies (ServiceNow's default attachment limit is
// far larger; the double only needs to stay small).
const maxBody = 32 << 20

// recorder captures the status the handler answered with.
type recorder struct {
	http.ResponseWriter
	status int
	// drop closes the connection without an answer once the call is
	// recorded (so a client that sees the close also sees the record).
	drop bool
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.inFlight++
	if s.inFlight > s.maxIn {
		s.maxIn = s.inFlight
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	call := Call{At: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		call.Status = rec.status
		s.mu.Lock()
		s.calls = append(s.calls, call)
		s.stats.Calls++
		switch rec.status {
		case http.StatusTooManyRequests:
			s.stats.RateLimited++
		case 0:
			s.stats.Dropped++
		}
		s.mu.Unlock()
		if rec.drop {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	}()
	s.mu.Lock()
	latency, forbidden := s.latency, s.forbidden
	s.mu.Unlock()
	if d := latency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if r.URL.Path == "/oauth_token.do" {
		s.token(rec, r)
		return
	}
	if !s.authorized(r) {
		writeError(rec, http.StatusUnauthorized, "User Not Authenticated", "Required to provide Auth information")
		return
	}
	if forbidden {
		s.writeFault(rec, &Fault{Status: http.StatusForbidden})
		return
	}
	if wait, over := s.overLimit(); over {
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.limit()))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(wait).Unix()+1, 10))
		s.writeFault(rec, &Fault{Status: http.StatusTooManyRequests, RetryAfter: wait})
		return
	}
	f := s.takeFault(r)
	if f != nil && !f.AfterHandling {
		s.writeFault(rec, f)
		return
	}
	out := rec
	var buf *bufferedWriter
	if f != nil {
		buf = &bufferedWriter{header: http.Header{}}
		out = &recorder{ResponseWriter: buf, status: http.StatusOK}
	}
	s.route(out, r, &call)
	if f != nil {
		s.writeFault(rec, f)
	}
}

// overLimit counts the request against the rate limit and reports how
// long until its window ends when the request is beyond it.
func (s *Server) overLimit() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perSecond <= 0 {
		return 0, false
	}
	now := time.Now()
	if now.Sub(s.windowStart) >= time.Second {
		s.windowStart, s.windowCount = now, 0
	}
	if s.windowCount < s.perSecond {
		s.windowCount++
		return 0, false
	}
	return s.windowStart.Add(time.Second).Sub(now), true
}

func (s *Server) limit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perSecond
}

// bufferedWriter swallows the answer of a request whose answer is lost.
type bufferedWriter struct {
	header http.Header
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(int)             {}

func (s *Server) takeFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			if f.Skip > 0 {
				f.Skip--
				return nil
			}
			f.Count--
			if f.Count <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			c := *f
			return &c
		}
	}
	return nil
}

func (s *Server) writeFault(w *recorder, f *Fault) {
	if f.CloseConnection {
		// No answer at all: the client sees the connection end.
		w.status, w.drop = 0, true
		return
	}
	msg, detail := f.Message, f.Detail
	if msg == "" {
		switch f.Status {
		case http.StatusTooManyRequests:
			msg, detail = "Rate limit exceeded", "The rate limit of this user has been exceeded; retry after the time in Retry-After"
		case http.StatusForbidden:
			msg, detail = "Operation Failed", "ACL Exception Insert Failed due to security constraints"
		case http.StatusBadRequest:
			msg, detail = "Invalid request", "The request could not be processed"
		default:
			msg = http.StatusText(f.Status)
		}
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
	}
	if f.Status >= 500 && f.Status != http.StatusInternalServerError {
		// Gateways in front of an instance answer with HTML, not JSON.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.Status, http.StatusText(f.Status))
		return
	}
	writeError(w, f.Status, msg, detail)
}

func (s *Server) authorized(r *http.Request) bool {
	if user, pass, ok := r.BasicAuth(); ok {
		return subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.Username)) == 1 &&
			subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.Password)) == 1
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.tokens[tok]
	}
	return false
}

// token serves /oauth_token.do for the client credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed", "")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid request", err.Error())
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error_description":"unsupported grant type","error":"unsupported_grant_type"}`)
		return
	}
	if id != s.opts.ClientID || secret != s.opts.ClientSecret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error_description":"access_denied","error":"server_error"}`)
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "scope": "useraccount", "token_type": "Bearer", "expires_in": 1799})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, message, detail string) {
	var d any
	if detail != "" {
		d = detail
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": message, "detail": d}, "status": "failure"})
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, call *Call) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case strings.HasPrefix(path, "/api/now/table/"):
		rest := strings.TrimPrefix(path, "/api/now/table/")
		table, id, _ := strings.Cut(rest, "/")
		call.Table = table
		s.mu.Lock()
		_, known := s.schema[table]
		s.mu.Unlock()
		if !known {
			writeError(w, http.StatusBadRequest, "Invalid table "+table, "")
			return
		}
		switch {
		case id == "" && r.Method == http.MethodGet:
			s.list(w, r, table, call)
		case id == "" && r.Method == http.MethodPost:
			s.create(w, r, table, call)
		case id != "" && (r.Method == http.MethodPatch || r.Method == http.MethodPut):
			s.update(w, r, table, id, call)
		case id != "" && r.Method == http.MethodGet:
			s.get(w, r, table, id)
		default:
			writeError(w, http.StatusMethodNotAllowed, "Method not Supported", "")
		}
	case path == "/api/now/attachment/file" && r.Method == http.MethodPost:
		s.upload(w, r, call)
	case path == "/api/now/attachment" && r.Method == http.MethodGet:
		s.listFiles(w, r, call)
	case strings.HasPrefix(path, "/api/now/attachment/") && strings.HasSuffix(path, "/file") && r.Method == http.MethodGet:
		s.download(w, strings.TrimSuffix(strings.TrimPrefix(path, "/api/now/attachment/"), "/file"))
	default:
		writeError(w, http.StatusBadRequest, "Requested URI does not represent any resource", "")
	}
}

// project keeps the fields sysparm_fields names (all when empty) and
// shapes reference fields.
func (s *Server) project(r *http.Request, table string, rec map[string]string) map[string]any {
	want := map[string]bool{}
	if f := r.URL.Query().Get("sysparm_fields"); f != "" {
		for _, name := range strings.Split(f, ",") {
			want[strings.TrimSpace(name)] = true
		}
	}
	exclude := r.URL.Query().Get("sysparm_exclude_reference_link") == "true"
	out := map[string]any{}
	for f := range s.schema[table] {
		if len(want) > 0 && !want[f] {
			continue
		}
		v := rec[f]
		if target, isRef := s.opts.References[table+"."+f]; isRef && !exclude && v != "" {
			out[f] = map[string]string{"link": "http://" + r.Host + "/api/now/table/" + target + "/" + v, "value": v}
			continue
		}
		out[f] = v
	}
	return out
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, table string, call *Call) {
	q := r.URL.Query()
	limit, offset := 10000, 0
	if v := q.Get("sysparm_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "Invalid sysparm_limit", v)
			return
		}
		limit = n
	}
	if v := q.Get("sysparm_offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "Invalid sysparm_offset", v)
			return
		}
		offset = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pq := parseQuery(q.Get("sysparm_query"), s.schema[table])
	call.Violations = append(call.Violations, pq.violations...)
	var all []map[string]string
	if !(pq.invalid && s.opts.InvalidQueryReturnsNoRows) {
		for _, id := range s.order[table] {
			if rec := s.tables[table][id]; pq.matches(rec, !s.opts.CaseSensitive) {
				all = append(all, rec)
			}
		}
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(all)))
	result := []map[string]any{}
	for i := offset; i < len(all) && len(result) < limit; i++ {
		result = append(result, s.project(r, table, all[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": result})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, table, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.tables[table][id]
	if !ok {
		writeError(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": s.project(r, table, rec)})
}

// readFields reads a JSON object body into strings, noting values that
// were not sent as strings.
func readFields(w http.ResponseWriter, r *http.Request, call *Call) (map[string]string, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Unsupported media type", "Content-Type must be application/json")
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Exception while reading request", err.Error())
		return nil, false
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		writeError(w, http.StatusBadRequest, "Exception while reading request", "The payload is not valid JSON.")
		return nil, false
	}
	fields := map[string]string{}
	for k, v := range raw {
		var str string
		if err := json.Unmarshal(v, &str); err == nil {
			fields[k] = str
			continue
		}
		call.Violations = append(call.Violations, fmt.Sprintf("field %s was sent as %s, not as a string", k, v))
		fields[k] = strings.Trim(string(v), `"`)
	}
	return fields, true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, table string, call *Call) {
	fields, ok := readFields(w, r, call)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.insert(table, fields)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid table "+table, "")
		return
	}
	s.wrote(table)
	writeJSON(w, http.StatusCreated, map[string]any{"result": s.project(r, table, rec)})
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, table, id string, call *Call) {
	fields, ok := readFields(w, r, call)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, found := s.tables[table][id]
	if !found {
		writeError(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	for k, v := range fields {
		if s.schema[table][k] && !strings.HasPrefix(k, "sys_") {
			rec[k] = v
		}
	}
	n, _ := strconv.Atoi(rec["sys_mod_count"])
	rec["sys_mod_count"] = strconv.Itoa(n + 1)
	rec["sys_updated_on"] = s.stamp()
	s.wrote(table)
	writeJSON(w, http.StatusOK, map[string]any{"result": s.project(r, table, rec)})
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, call *Call) {
	q := r.URL.Query()
	table, id, name := q.Get("table_name"), q.Get("table_sys_id"), q.Get("file_name")
	call.Table = table
	if table == "" || id == "" || name == "" {
		writeError(w, http.StatusBadRequest, "Missing parameter", "table_name, table_sys_id and file_name are required")
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		writeError(w, http.StatusBadRequest, "Missing Content-Type", "Specify the file's content type")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Exception while reading request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.schema[table]; !ok {
		writeError(w, http.StatusBadRequest, "Invalid table "+table, "")
		return
	}
	if _, ok := s.tables[table][id]; !ok {
		writeError(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	sum := sha256.Sum256(body)
	aid := s.newID()
	now := s.stamp()
	meta := map[string]string{
		"sys_id": aid, "file_name": name, "content_type": ct, "size_bytes": strconv.Itoa(len(body)),
		"size_compressed": strconv.Itoa(len(body)), "compressed": "false",
		"table_name": table, "table_sys_id": id, "hash": hex.EncodeToString(sum[:]),
		"download_link":  "http://" + r.Host + "/api/now/attachment/" + aid + "/file",
		"sys_created_on": now, "sys_updated_on": now, "sys_created_by": s.opts.Username, "sys_updated_by": s.opts.Username,
		"sys_mod_count": "0", "image_width": "", "image_height": "", "average_image_color": "", "state": "available",
	}
	s.files[aid] = &attachment{meta: meta, content: body}
	s.fileOrder = append(s.fileOrder, aid)
	s.wrote("sys_attachment")
	writeJSON(w, http.StatusCreated, map[string]any{"result": maps.Clone(meta)})
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request, call *Call) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	cols := map[string]bool{}
	for f := range s.files {
		for k := range s.files[f].meta {
			cols[k] = true
		}
	}
	for _, k := range []string{"table_name", "table_sys_id", "file_name", "sys_id", "hash", "content_type"} {
		cols[k] = true
	}
	pq := parseQuery(q.Get("sysparm_query"), cols)
	call.Violations = append(call.Violations, pq.violations...)
	limit, offset := 1000, 0
	if v := q.Get("sysparm_limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			limit = n
		}
	}
	if v := q.Get("sysparm_offset"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			offset = n
		}
	}
	result := []map[string]string{}
	total := 0
	for _, id := range s.fileOrder {
		a := s.files[id]
		if !pq.matches(a.meta, !s.opts.CaseSensitive) {
			continue
		}
		total++
		if total > offset && len(result) < limit {
			result = append(result, maps.Clone(a.meta))
			call.Table = a.meta["table_name"]
		}
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	writeJSON(w, http.StatusOK, map[string]any{"result": result})
}

func (s *Server) download(w http.ResponseWriter, id string) {
	s.mu.Lock()
	a, ok := s.files[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	w.Header().Set("Content-Type", a.meta["content_type"])
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.content)
}
