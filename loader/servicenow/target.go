package servicenow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/bookbridge/bookbridge/loader"
)

// Target is a loader.Target over a ServiceNow instance's Table API and
// Attachment API. It is safe for concurrent use.
type Target struct {
	c *client
}

var _ loader.Target = (*Target)(nil)

// Paging of Find: ServiceNow caps one answer, so longer results are read
// page by page, up to a bound.
const (
	pageSize = 1000
	maxPages = 20
)

// New returns a Target for the instance cfg names. It checks cfg (after
// WithDefaults) and makes no call.
func New(cfg Config) (*Target, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Target{c: newClient(cfg)}, nil
}

// CurrentRate is the pace the Target sends calls at now, in calls per
// second: Config.RateLimit, or less while the instance answers 429 (see
// the package doc); +Inf when RateLimit is negative (no limit). It is
// safe to read from any goroutine, for a metrics gauge say.
func (t *Target) CurrentRate() float64 { return t.c.gate.rate() }

// Find implements loader.Target with GET /api/now/table/{table}: an
// encoded query (see encodeQuery for what is accepted), sysparm_fields
// limited to sys_id, the match fields and q.Fields, and
// sysparm_exclude_reference_link=true so references come back as sys_ids.
//
// ServiceNow may compare strings ignoring case and ignores conditions on
// fields a table does not have; Find therefore checks every returned
// record against q exactly, drops the ones that differ (reading further
// pages when that leaves fewer than asked for), and fails with
// ErrUnknownField when a match field is missing from the answer.
func (t *Target) Find(ctx context.Context, q loader.Query) ([]loader.Record, error) {
	if err := checkName("table", q.Table); err != nil {
		return nil, err
	}
	enc, err := encodeQuery(q.Where)
	if err != nil {
		return nil, err
	}
	fields := map[string]bool{"sys_id": true}
	for _, f := range q.Fields {
		if err := checkName("field", f); err != nil {
			return nil, err
		}
		fields[f] = true
	}
	matchFields := map[string]bool{}
	for _, w := range q.Where {
		for k := range w {
			fields[k] = true
			matchFields[k] = true
		}
	}
	size := q.Limit
	if size <= 0 || size > pageSize {
		size = pageSize
	}
	var out []loader.Record
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("servicenow: GET %s: more than %d records match %s; narrow the match", q.Table, maxPages*size, enc)
		}
		v := url.Values{}
		v.Set("sysparm_query", enc)
		v.Set("sysparm_fields", strings.Join(sortedKeys(fields), ","))
		v.Set("sysparm_limit", strconv.Itoa(size))
		v.Set("sysparm_exclude_reference_link", "true")
		if page > 0 {
			v.Set("sysparm_offset", strconv.Itoa(page*size))
		}
		body, err := t.c.do(ctx, request{method: http.MethodGet, path: "/api/now/table/" + q.Table, query: v, table: q.Table, idempotent: true})
		if err != nil {
			return nil, err
		}
		recs, present, err := decodeRecords(body)
		if err != nil {
			return nil, fmt.Errorf("servicenow: GET %s: %w", q.Table, err)
		}
		for i, r := range recs {
			for f := range matchFields {
				if !present[i][f] {
					return nil, fmt.Errorf("%w: table %s has no field %s (ServiceNow ignored the condition on it); fix the mapping rule's match", ErrUnknownField, q.Table, f)
				}
			}
			if anyMatch(r, q.Where) {
				out = append(out, r)
				if q.Limit > 0 && len(out) == q.Limit {
					return out, nil
				}
			}
		}
		if len(recs) < size {
			return out, nil
		}
	}
}

func anyMatch(r loader.Record, where []map[string]string) bool {
	for _, w := range where {
		ok := true
		for k, v := range w {
			if r.Fields[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// decodeRecords reads {"result":[...]}; present tells which fields each
// record had in the answer.
func decodeRecords(body []byte) ([]loader.Record, []map[string]bool, error) {
	var ans struct {
		Result []map[string]json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, nil, fmt.Errorf("the answer is not a result list: %w", err)
	}
	recs := make([]loader.Record, 0, len(ans.Result))
	present := make([]map[string]bool, 0, len(ans.Result))
	for _, raw := range ans.Result {
		r, p, err := decodeRecord(raw)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, r)
		present = append(present, p)
	}
	return recs, present, nil
}

func decodeRecord(raw map[string]json.RawMessage) (loader.Record, map[string]bool, error) {
	r := loader.Record{Fields: map[string]string{}}
	present := map[string]bool{}
	for k, v := range raw {
		s, err := fieldValue(v)
		if err != nil {
			return loader.Record{}, nil, fmt.Errorf("field %s: %w", k, err)
		}
		present[k] = true
		if k == "sys_id" {
			r.ID = s
			continue
		}
		r.Fields[k] = s
	}
	if r.ID == "" {
		return loader.Record{}, nil, fmt.Errorf("a record without sys_id")
	}
	return r, present, nil
}

// fieldValue reads a field as ServiceNow sends it: a string, or for a
// reference without sysparm_exclude_reference_link an object whose value
// is the sys_id.
func fieldValue(v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var ref struct {
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(v, &ref); err == nil && ref.Value != nil {
		return *ref.Value, nil
	}
	if string(v) == "null" {
		return "", nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return n.String(), nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return strconv.FormatBool(b), nil
	}
	return "", fmt.Errorf("unexpected value %s", v)
}

func writeQuery(fields map[string]string) url.Values {
	names := append([]string{"sys_id"}, sortedKeys(fields)...)
	v := url.Values{}
	v.Set("sysparm_fields", strings.Join(names, ","))
	v.Set("sysparm_exclude_reference_link", "true")
	return v
}

func checkFields(table string, fields map[string]string) error {
	if err := checkName("table", table); err != nil {
		return err
	}
	for k := range fields {
		if err := checkName("field", k); err != nil {
			return err
		}
	}
	return nil
}

// Insert implements loader.Target with POST /api/now/table/{table}. Every
// value is sent as a JSON string; the answer is limited to sys_id and the
// fields sent, so a field the table does not have (ServiceNow ignores it)
// is absent from the returned record.
func (t *Target) Insert(ctx context.Context, table string, fields map[string]string) (loader.Record, error) {
	if err := checkFields(table, fields); err != nil {
		return loader.Record{}, err
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return loader.Record{}, err
	}
	ans, err := t.c.do(ctx, request{method: http.MethodPost, path: "/api/now/table/" + table, query: writeQuery(fields),
		body: body, contentType: "application/json", table: table})
	if err != nil {
		return loader.Record{}, err
	}
	return decodeOne(ans, "POST", table)
}

// Update implements loader.Target with PATCH /api/now/table/{table}/{id}.
func (t *Target) Update(ctx context.Context, table, id string, fields map[string]string) (loader.Record, error) {
	if err := checkFields(table, fields); err != nil {
		return loader.Record{}, err
	}
	if err := checkID(id); err != nil {
		return loader.Record{}, fmt.Errorf("%w: %w", loader.ErrNotFound, err)
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return loader.Record{}, err
	}
	ans, err := t.c.do(ctx, request{method: http.MethodPatch, path: "/api/now/table/" + table + "/" + url.PathEscape(id), query: writeQuery(fields),
		body: body, contentType: "application/json", table: table, idempotent: true})
	if err != nil {
		return loader.Record{}, err
	}
	return decodeOne(ans, "PATCH", table)
}

func decodeOne(ans []byte, method, table string) (loader.Record, error) {
	var one struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(ans, &one); err != nil || one.Result == nil {
		return loader.Record{}, fmt.Errorf("servicenow: %s %s: the answer has no result record", method, table)
	}
	r, _, err := decodeRecord(one.Result)
	if err != nil {
		return loader.Record{}, fmt.Errorf("servicenow: %s %s: %w", method, table, err)
	}
	return r, nil
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// Attach implements loader.Target with POST /api/now/attachment/file, the
// file's bytes as the body and its content type.
func (t *Target) Attach(ctx context.Context, table, id string, f loader.File) (loader.AttachmentInfo, error) {
	if err := checkName("table", table); err != nil {
		return loader.AttachmentInfo{}, err
	}
	if err := checkID(id); err != nil {
		return loader.AttachmentInfo{}, fmt.Errorf("%w: %w", loader.ErrNotFound, err)
	}
	ct := f.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	v := url.Values{}
	v.Set("table_name", table)
	v.Set("table_sys_id", id)
	v.Set("file_name", f.Name)
	body := f.Content
	if body == nil {
		body = []byte{}
	}
	ans, err := t.c.do(ctx, request{method: http.MethodPost, path: "/api/now/attachment/file", query: v, body: body, contentType: ct, table: "attachment"})
	if err != nil {
		return loader.AttachmentInfo{}, err
	}
	var one struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(ans, &one); err != nil || one.Result == nil {
		return loader.AttachmentInfo{}, fmt.Errorf("servicenow: POST attachment: the answer has no result")
	}
	info, err := attachmentInfo(one.Result)
	if err != nil {
		return loader.AttachmentInfo{}, err
	}
	if !hexSHA256.MatchString(info.SHA256) {
		sum := sha256.Sum256(f.Content)
		info.SHA256 = hex.EncodeToString(sum[:])
	}
	return info, nil
}

func attachmentInfo(raw map[string]json.RawMessage) (loader.AttachmentInfo, error) {
	get := func(k string) string {
		s, _ := fieldValue(raw[k])
		if raw[k] == nil {
			return ""
		}
		return s
	}
	info := loader.AttachmentInfo{ID: get("sys_id"), Name: get("file_name"), ContentType: get("content_type"), SHA256: strings.ToLower(get("hash"))}
	if info.ID == "" {
		return info, fmt.Errorf("servicenow: attachment record without sys_id")
	}
	info.Size, _ = strconv.ParseInt(get("size_bytes"), 10, 64)
	return info, nil
}

// Attachments implements loader.Target with GET /api/now/attachment and
// the query table_name=...^table_sys_id=.... ServiceNow keeps the file's
// SHA-256 in hash; where an instance leaves it empty, the file is
// downloaded (GET /api/now/attachment/{sys_id}/file) and hashed. A record
// that does not exist simply has no files.
func (t *Target) Attachments(ctx context.Context, table, id string) ([]loader.AttachmentInfo, error) {
	if err := checkName("table", table); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("%w: %w", loader.ErrNotFound, err)
	}
	files, err := t.listFiles(ctx, "table_name="+table+"^table_sys_id="+id, map[string]bool{id: true})
	return files[id], err
}
