package staging

import (
	"fmt"
	"strings"
	"unicode"
)

// normKeys are keys in the form they are compared in: trimmed, upper case,
// and for the SAP numbers (ECC id, sales order number) without the leading
// zeros SAP pads them with, so "0001234567" and "1234567" are the same id.
type normKeys struct {
	ECC, DR, SO string
}

func normalize(k Keys) normKeys {
	return normKeys{ECC: normSAP(k.ECCID), DR: normText(k.DRNumber), SO: normSAP(k.SalesOrderNumber)}
}

func normText(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func normSAP(s string) string {
	s = normText(s)
	if s == "" {
		return s
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return s
		}
	}
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

// normName compares company names: case-folded, runs of spaces collapsed.
func normName(s string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " "))
}

// narrow applies the email's DR number, then its sales order number, to
// the records with its ECC id; each step only when the email has that key.
func narrow(email normKeys, candidates []*Record) []*Record {
	out := candidates
	if email.DR != "" {
		out = filter(out, func(r *Record) bool { return normalize(r.Keys).DR == email.DR })
	}
	if email.SO != "" {
		out = filter(out, func(r *Record) bool { return normalize(r.Keys).SO == email.SO })
	}
	return out
}

// agree reports whether a payload's keys fit an email's: the same ECC id,
// and the same DR number and sales order number wherever both have one.
func agree(payload, email normKeys) bool {
	if payload.ECC == "" || payload.ECC != email.ECC {
		return false
	}
	if payload.DR != "" && email.DR != "" && payload.DR != email.DR {
		return false
	}
	if payload.SO != "" && email.SO != "" && payload.SO != email.SO {
		return false
	}
	return true
}

func filter(rs []*Record, keep func(*Record) bool) []*Record {
	var out []*Record
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// mismatchWarnings compares what Salesforce and the PH email state. The
// load takes Salesforce's values; the differences are shown.
func mismatchWarnings(p *PayloadData, ph *PHData) []string {
	if p == nil || ph == nil {
		return nil
	}
	var out []string
	diff := func(label, sf, email string, norm func(string) string) {
		if strings.TrimSpace(email) == "" || norm(sf) == norm(email) {
			return
		}
		out = append(out, fmt.Sprintf("%s differs: Salesforce %q, PH email %q (the load uses Salesforce's)", label, sf, email))
	}
	diff("company name", p.CompanyName, ph.Fields[FieldCompanyName], normName)
	diff("ECC id", p.Keys.ECCID, ph.Fields[FieldECCID], normSAP)
	diff("DR number", p.Keys.DRNumber, ph.Fields[FieldDRNumber], normText)
	diff("sales order number", p.Keys.SalesOrderNumber, ph.Fields[FieldSalesOrderNumber], normSAP)
	return out
}
