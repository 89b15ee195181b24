package phmail_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/phmail"
)

func phEmail(subject, body string) []byte {
	return []byte("From: ph@ph.example.com\nSubject: " + subject + "\nMessage-ID: <t@x>\nDate: Tue, 03 Mar 2026 09:15:00 +0100\n" +
		"Content-Type: text/plain; charset=utf-8\n\n" + body)
}

func TestLabelVariants(t *testing.T) {
	cases := []struct {
		name, body  string
		field, want string
	}{
		{"plain", "ECC ID: 0001234567\n", "ecc_id", "0001234567"},
		{"bullet dash", "- ECC ID: 0001234567\n", "ecc_id", "0001234567"},
		{"bullet star", "* ECC ID: 0001234567\n", "ecc_id", "0001234567"},
		{"bullet dot", "• ECC ID: 0001234567\n", "ecc_id", "0001234567"},
		{"numbered", "3) ECC ID: 0001234567\n", "ecc_id", "0001234567"},
		{"indented tab", "\t\tECC ID: 0001234567\n", "ecc_id", "0001234567"},
		{"spaces in label", "ECC   \t ID   :    0001234567   \n", "ecc_id", "0001234567"},
		{"lower case", "ecc id: 0001234567\n", "ecc_id", "0001234567"},
		{"bold markdown", "**ECC ID:** 0001234567\n", "ecc_id", "0001234567"},
		{"bold enmime", "*ECC ID:* 0001234567\n", "ecc_id", "0001234567"},
		{"bold label only", "**ECC ID**: 0001234567\n", "ecc_id", "0001234567"},
		{"quoted", "> > - ECC ID: 0001234567\n", "ecc_id", "0001234567"},
		{"crlf", "ECC ID: 0001234567\r\nSales Order Number: 1\r\n", "ecc_id", "0001234567"},
		{"cr only", "ECC ID: 0001234567\rSales Order Number: 1\r", "sales_order_number", "1"},
		{"nbsp", "ECC\u00a0ID:\u00a00001234567\n", "ecc_id", "0001234567"},
		{"value below", "ECC ID:\n\n  0001234567\n", "ecc_id", "0001234567"},
		{"comma list", "Sales Order Number: 4500012345, 4500012399\n", "sales_order_number", "4500012345"},
		{"hyphen spaced", "Deploy - To Email: a@b.example\n", "deploy_to_email", "a@b.example"},
		{"email with name", "Deploy-To Email: Anna <a@b.example>\n", "deploy_to_email", "a@b.example"},
		{"email mailto", "Deploy-To Email: a@b.example <mailto:a@b.example>\n", "deploy_to_email", "a@b.example"},
		{"ims short", "Marketing Cloud Org ID: ABC123\n", "ims_org_id", "ABC123"},
		{"ims 24", "Marketing Cloud Org ID: 0123456789ABCDEF01234567\n", "ims_org_id", "0123456789ABCDEF01234567@AdobeOrg"},
		{"ims suffixed", "Marketing Cloud Org ID: 0123456789ABCDEF01234567@AdobeOrg\n", "ims_org_id", "0123456789ABCDEF01234567@AdobeOrg"},
		{"ticket multi-line", "Provisioning Hub Ticket Details:\nPH-1\nhttps://ph.example/PH-1\nBest Regards\n", "ticket_link", "PH-1 https://ph.example/PH-1"},
		{"ticket same line", "Provisioning Hub Ticket Details: https://ph.example/PH-1 best regards, PH\n", "ticket_link", "https://ph.example/PH-1"},
		{"ticket no end", "Provisioning Hub Ticket Details: https://ph.example/PH-1\nThanks\n", "ticket_link", "https://ph.example/PH-1"},
		{"not a label", "The ECC ID is 0001234567\nECC ID: 42\n", "ecc_id", "42"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			if c.field != "ecc_id" {
				body += "\nECC ID: 9\n"
			}
			m, err := phmail.Parse(phEmail("To Be Provisioned - Acme DR00000001", body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := m.Fields()[c.field]; got != c.want {
				t.Fatalf("%s = %q, want %q (warnings %q)", c.field, got, c.want, m.Warnings)
			}
		})
	}
}

func TestSubject(t *testing.T) {
	cases := []struct {
		subject     string
		ph          bool
		company, dr string
	}{
		{"To Be Provisioned - Acme GmbH DR00004711", true, "Acme GmbH", "DR00004711"},
		{"to be provisioned - Acme GmbH DR00004711", true, "Acme GmbH", "DR00004711"},
		{"RE: FW: Fwd: AW: WG: To Be Provisioned - Acme DR00004711", true, "Acme", "DR00004711"},
		{"re:fw:  TO BE PROVISIONED - A - B DR00004711  ", true, "A - B", "DR00004711"},
		{"RE[2]: To Be Provisioned - Acme DR00004711", true, "Acme", "DR00004711"},
		{"To  Be\tProvisioned - Acme DR00004711", true, "Acme", "DR00004711"},
		{"To Be Provisioned - DR00004711", true, "", "DR00004711"},
		{"Was: To Be Provisioned - Acme DR00004711", false, "", ""},
		{"Re: Lunch", false, "", ""},
		{"", false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.subject, func(t *testing.T) {
			m, err := phmail.Parse(phEmail(c.subject, "ECC ID: 1\n"))
			if !c.ph {
				if !errors.Is(err, phmail.ErrNotPH) {
					t.Fatalf("want ErrNotPH, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.CompanyName != c.company || m.DRNumber != c.dr {
				t.Fatalf("company %q dr %q", m.CompanyName, m.DRNumber)
			}
		})
	}
}

func TestMissingFieldsListsEveryLabel(t *testing.T) {
	_, err := phmail.Parse(phEmail("To Be Provisioned", "Hello\n"))
	var mf *phmail.MissingFieldsError
	if !errors.As(err, &mf) {
		t.Fatalf("got %v", err)
	}
	if strings.Join(mf.Fields, ",") != "ecc_id,dr_number" || !strings.Contains(err.Error(), "ECC ID:") || !strings.Contains(err.Error(), "DR number") {
		t.Fatalf("%+v: %v", mf, err)
	}
	if !phmail.IsRejection(err) || phmail.IsRejection(errors.New("disk full")) {
		t.Fatal("IsRejection")
	}
}

func TestCustomTemplate(t *testing.T) {
	p, err := phmail.NewParser(phmail.WithConfig(phmail.Config{
		SubjectPrefix:  "Provisioning Request",
		SubjectPattern: `(?i)^Provisioning Request #(?P<dr_number>\S+) for (?P<company_name>.+)$`,
		Labels: map[string][]string{
			phmail.FieldECCID:    {"Customer ERP Number", "ECC ID"},
			phmail.FieldTenantID: {"Tenant:"},
		},
		Required: []string{phmail.FieldECCID, phmail.FieldTenantID},
	}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Parse(phEmail("Fwd: Provisioning Request #DR1 for Acme", "Customer ERP number: 77\nTenant: t1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ECCID != "77" || m.TenantID != "t1" || m.DRNumber != "DR1" || m.CompanyName != "Acme" {
		t.Fatalf("%+v", m.Fields())
	}
	_, err = p.Parse(phEmail("Provisioning Request #DR1 for Acme", "ECC ID: 1\n"))
	var mf *phmail.MissingFieldsError
	if !errors.As(err, &mf) || mf.Labels[0] != "Tenant:" {
		t.Fatalf("%v", err)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	_, err := phmail.NewParser(phmail.WithConfig(phmail.Config{
		SubjectPattern: `(?P<nope>x`,
		ReplyPrefixes:  []string{"RE:"},
		Labels:         map[string][]string{"colour": {"Colour"}, phmail.FieldECCID: {" : "}},
		Required:       []string{"size"},
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"SubjectPattern", "ReplyPrefixes", `"colour"`, "empty label", `"size"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestLimits(t *testing.T) {
	big := phEmail("To Be Provisioned - A DR00000001", "ECC ID: 1\n"+strings.Repeat("x", 2000))
	manyParts := "Subject: To Be Provisioned - A DR00000001\nContent-Type: multipart/mixed; boundary=p\n\n" +
		strings.Repeat("--p\nContent-Type: text/plain\n\nECC ID: 1\n", 30) + "--p--\n"
	longHeader := "Subject: To Be Provisioned - A DR00000001\nX-Long: " + strings.Repeat("y", 1500) + "\n\nECC ID: 1\n"
	att := "Subject: To Be Provisioned - A DR00000001\nContent-Type: multipart/mixed; boundary=p\n\n--p\nContent-Type: text/plain\n\nECC ID: 1\n" +
		"--p\nContent-Type: application/zip; name=a.zip\nContent-Disposition: attachment\n\n" + strings.Repeat("z", 1500) + "\n--p--\n"
	lim := phmail.Limits{MaxMessageBytes: 1800, MaxHeaderBytes: 1024, MaxParts: 10, MaxDepth: 3, MaxAttachmentBytes: 1000}
	p, err := phmail.NewParser(phmail.WithLimits(lim), phmail.WithoutPDFCheck())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, raw, limit string
	}{
		{"size", string(big), phmail.LimitMessageSize},
		{"parts", manyParts, phmail.LimitParts},
		{"header", longHeader, phmail.LimitHeaderSize},
		{"attachment", att, phmail.LimitAttachmentSize},
		{"depth", string(readFixture(t, "14-deep-nesting.eml")), phmail.LimitDepth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lp := p
			if c.name == "depth" {
				lp, _ = phmail.NewParser(phmail.WithLimits(phmail.Limits{MaxDepth: 3}))
			}
			_, err := lp.Parse([]byte(c.raw))
			var le *phmail.LimitError
			if !errors.As(err, &le) || le.Limit != c.limit || le.Got <= le.Max {
				t.Fatalf("got %v, want a %s LimitError", err, c.limit)
			}
			if !strings.Contains(err.Error(), c.limit) {
				t.Fatalf("message does not name the limit: %v", err)
			}
		})
	}
}

func TestSanitizeFileName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"contract.pdf", "contract.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Windows\system32\evil.pdf`, "evil.pdf"},
		{"a\x00b\x1fc.pdf", "a_b_c.pdf"},
		{"...", "fallback"},
		{".hidden.pdf", "hidden.pdf"},
		{"name. . ", "name"},
		{"x<y>z:|?*.pdf", "x_y_z____.pdf"},
		{"\u202eevil\u202dfdp.exe", "_evil_fdp.exe"},
		{"", "fallback"},
		{strings.Repeat("ä", 200) + ".pdf", strings.Repeat("ä", 88) + ".pdf"},
		{strings.Repeat("0", 179) + " x", strings.Repeat("0", 179)},
	}
	for _, c := range cases {
		if got := phmail.SanitizeFileName(c.in, "fallback"); got != c.want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
