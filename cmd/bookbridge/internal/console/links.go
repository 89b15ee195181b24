package console

import (
	"net/url"
	"strings"
)

// targetLink returns the address of a loaded record in the target's own
// user interface, or "" when there is none: ServiceNow records open on
// their form; the SQL target has no pages (the console shows table and id).
func (c *Console) targetLink(table, id string) string {
	if c.app.Cfg.Target != "servicenow" {
		return ""
	}
	return serviceNowLink(c.app.Cfg.ServiceNowURL, table, id)
}

// serviceNowLink is the record's form in the instance,
// base/<table>.do?sys_id=<id>. Only http(s) bases and plain table names and
// ids give a link, so neither can add a path or a query parameter.
func serviceNowLink(base, table, id string) string {
	if table == "" || id == "" || !plainName(table) || !plainName(id) {
		return ""
	}
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(base), "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	u.Path += "/" + table + ".do"
	u.RawPath = ""
	u.RawQuery = url.Values{"sys_id": {id}}.Encode()
	u.Fragment = ""
	return u.String()
}

// plainName accepts ServiceNow table names and sys_ids: letters, digits,
// underscores and hyphens.
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}
