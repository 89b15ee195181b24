package servicenow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/bookbridge/bookbridge/loader"
)

var (
	_ loader.BatchGetter           = (*Target)(nil)
	_ loader.BatchAttachmentLister = (*Target)(nil)
)

// validIDs keeps the ids that are sys_ids, once each. The others cannot
// name a ServiceNow record, and could not be put safely into an encoded
// query (a comma would split an IN list, a ^ add a condition).
func validIDs(ids []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if checkID(id) == nil && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Get implements loader.BatchGetter with GET /api/now/table/{table} and
// the encoded query sys_idINa,b,c, loader.MaxBatch ids per call, with
// sysparm_fields limited to sys_id and fields. Since ServiceNow may
// compare ignoring case, only records whose sys_id is exactly one of ids
// are kept.
func (t *Target) Get(ctx context.Context, table string, ids []string, fields []string) ([]loader.Record, error) {
	if err := checkName("table", table); err != nil {
		return nil, err
	}
	names := map[string]bool{"sys_id": true}
	for _, f := range fields {
		if err := checkName("field", f); err != nil {
			return nil, err
		}
		names[f] = true
	}
	ids = validIDs(ids)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []loader.Record
	for chunk := range slices.Chunk(ids, loader.MaxBatch) {
		v := url.Values{}
		v.Set("sysparm_query", "sys_idIN"+strings.Join(chunk, ","))
		v.Set("sysparm_fields", strings.Join(sortedKeys(names), ","))
		v.Set("sysparm_limit", strconv.Itoa(len(chunk)))
		v.Set("sysparm_exclude_reference_link", "true")
		body, err := t.c.do(ctx, request{method: http.MethodGet, path: "/api/now/table/" + table, query: v, table: table, idempotent: true})
		if err != nil {
			return nil, err
		}
		recs, _, err := decodeRecords(body)
		if err != nil {
			return nil, fmt.Errorf("servicenow: GET %s: %w", table, err)
		}
		for _, r := range recs {
			if want[r.ID] {
				delete(want, r.ID)
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// AttachmentsOf implements loader.BatchAttachmentLister with GET
// /api/now/attachment and the query table_name=...^table_sys_idIN...,
// loader.MaxBatch records per call (read page by page when they hold
// more files than one answer carries).
func (t *Target) AttachmentsOf(ctx context.Context, table string, ids []string) (map[string][]loader.AttachmentInfo, error) {
	if err := checkName("table", table); err != nil {
		return nil, err
	}
	out := map[string][]loader.AttachmentInfo{}
	for chunk := range slices.Chunk(validIDs(ids), loader.MaxBatch) {
		want := map[string]bool{}
		for _, id := range chunk {
			want[id] = true
		}
		list, err := t.listFiles(ctx, "table_name="+table+"^table_sys_idIN"+strings.Join(chunk, ","), want)
		if err != nil {
			return nil, err
		}
		for id, files := range list {
			out[id] = files
		}
	}
	return out, nil
}

// listFiles reads the attachment records the encoded query selects, page
// by page, and returns those on the records of want, by record sys_id (a
// file without table_sys_id belongs to the one record of a query for one),
// each list sorted by attachment sys_id. Where an instance leaves hash
// empty the file is downloaded and hashed.
func (t *Target) listFiles(ctx context.Context, query string, want map[string]bool) (map[string][]loader.AttachmentInfo, error) {
	out := map[string][]loader.AttachmentInfo{}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("servicenow: GET attachment: more than %d files match %s", maxPages*pageSize, query)
		}
		v := url.Values{}
		v.Set("sysparm_query", query)
		v.Set("sysparm_limit", strconv.Itoa(pageSize))
		if page > 0 {
			v.Set("sysparm_offset", strconv.Itoa(page*pageSize))
		}
		ans, err := t.c.do(ctx, request{method: http.MethodGet, path: "/api/now/attachment", query: v, table: "attachment", idempotent: true})
		if err != nil {
			return nil, err
		}
		var list struct {
			Result []map[string]json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(ans, &list); err != nil {
			return nil, fmt.Errorf("servicenow: GET attachment: the answer is not a result list: %w", err)
		}
		for _, raw := range list.Result {
			info, err := attachmentInfo(raw)
			if err != nil {
				return nil, err
			}
			owner, _ := fieldValue(raw["table_sys_id"])
			if raw["table_sys_id"] == nil && len(want) == 1 {
				for id := range want { // the query named the one record
					owner = id
				}
			}
			if !want[owner] {
				continue
			}
			if !hexSHA256.MatchString(info.SHA256) {
				content, err := t.c.do(ctx, request{method: http.MethodGet, path: "/api/now/attachment/" + url.PathEscape(info.ID) + "/file", table: "attachment", idempotent: true})
				if err != nil {
					return nil, err
				}
				sum := sha256.Sum256(content)
				info.SHA256 = hex.EncodeToString(sum[:])
			}
			out[owner] = append(out[owner], info)
		}
		if len(list.Result) < pageSize {
			break
		}
	}
	for id := range out {
		slices.SortFunc(out[id], func(a, b loader.AttachmentInfo) int { return strings.Compare(a.ID, b.ID) })
	}
	return out, nil
}
