package sntest

import (
	"strconv"
	"strings"
)

// Edit sets fields of a record directly, as a person editing it in the
// instance would: it is no API call and no counted write. Unknown fields
// are ignored. It reports whether the record exists.
func (s *Server) Edit(table, id string, fields map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.tables[table][id]
	if !ok {
		return false
	}
	for k, v := range fields {
		if s.schema[table][k] && !strings.HasPrefix(k, "sys_") {
			rec[k] = v
		}
	}
	n, _ := strconv.Atoi(rec["sys_mod_count"])
	rec["sys_mod_count"] = strconv.Itoa(n + 1)
	rec["sys_updated_on"] = s.stamp()
	return true
}

// Delete removes a record directly, as a person deleting it in the
// instance would (its attachments go with it). It reports whether the
// record existed.
func (s *Server) Delete(table, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables[table][id]; !ok {
		return false
	}
	delete(s.tables[table], id)
	s.order[table] = deleteString(s.order[table], id)
	for aid, a := range s.files {
		if a.meta["table_name"] == table && a.meta["table_sys_id"] == id {
			delete(s.files, aid)
			s.fileOrder = deleteString(s.fileOrder, aid)
		}
	}
	return true
}

// DeleteFile removes one attachment directly. It reports whether it
// existed.
func (s *Server) DeleteFile(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[id]; !ok {
		return false
	}
	delete(s.files, id)
	s.fileOrder = deleteString(s.fileOrder, id)
	return true
}

func deleteString(list []string, v string) []string {
	out := list[:0]
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
