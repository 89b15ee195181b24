package loadertest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bookbridge/bookbridge/loader"
)

// Canonical renders tables (table -> records) and the files on records
// (record id -> attachments) as text that does not depend on generated
// ids: a field holding another record's id shows that record's content
// instead, and every table's rows are sorted. Two loads that leave the same
// data behind render the same; a duplicated row shows twice. System fields
// (sys_*) are left out.
func Canonical(tables map[string][]loader.Record, files map[string][]loader.AttachmentInfo) string {
	byID := map[string]loader.Record{}
	tableOf := map[string]string{}
	for table, recs := range tables {
		for _, r := range recs {
			byID[r.ID] = r
			tableOf[r.ID] = table
		}
	}
	memo := map[string]string{}
	var key func(id string, depth int) string
	key = func(id string, depth int) string {
		if k, ok := memo[id]; ok {
			return k
		}
		if depth > 32 {
			return "<cycle>"
		}
		r := byID[id]
		var parts []string
		for _, f := range slices.Sorted(maps.Keys(r.Fields)) {
			if strings.HasPrefix(f, "sys_") {
				continue
			}
			v := r.Fields[f]
			if _, isRef := byID[v]; isRef && v != "" {
				v = "->" + tableOf[v] + key(v, depth+1)
			} else {
				v = fmt.Sprintf("%q", v)
			}
			parts = append(parts, f+"="+v)
		}
		k := "{" + strings.Join(parts, " ") + "}"
		memo[id] = k
		return k
	}
	var b strings.Builder
	for _, table := range slices.Sorted(maps.Keys(tables)) {
		var rows []string
		for _, r := range tables[table] {
			row := key(r.ID, 0)
			var fl []string
			for _, f := range files[r.ID] {
				fl = append(fl, fmt.Sprintf("@%q sha256=%s size=%d", f.Name, f.SHA256, f.Size))
			}
			slices.Sort(fl)
			if len(fl) > 0 {
				row += " " + strings.Join(fl, " ")
			}
			rows = append(rows, row)
		}
		slices.Sort(rows)
		fmt.Fprintf(&b, "%s (%d)\n", table, len(rows))
		for _, row := range rows {
			fmt.Fprintf(&b, "  %s\n", row)
		}
	}
	return b.String()
}
