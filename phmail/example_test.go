package phmail_test

import (
	"errors"
	"fmt"

	"github.com/bookbridge/bookbridge/phmail"
)

func ExampleParse() {
	raw := []byte("From: Provisioning Hub <noreply@ph.example.com>\r\n" +
		"Subject: FW: To Be Provisioned - Acme Corp DR00004711\r\n" +
		"Message-ID: <42@ph.example.com>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" +
		"- ECC ID: 0001234567\r\n" +
		"- Sales Order Number: 4500012345, 4500012399\r\n" +
		"- Marketing Cloud Org ID: 1A2B3C4D5E6F7A8B9C0D1E2F\r\n")
	m, err := phmail.Parse(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	f := m.Fields()
	fmt.Println(f["company_name"], "|", f["dr_number"], "|", f["ecc_id"], "|", f["sales_order_number"])
	fmt.Println(f["ims_org_id"])
	// Output:
	// Acme Corp | DR00004711 | 0001234567 | 4500012345
	// 1A2B3C4D5E6F7A8B9C0D1E2F@AdobeOrg
}

func ExampleParse_rejected() {
	_, err := phmail.Parse([]byte("Subject: Lunch?\r\n\r\nECC ID: 1\r\n"))
	fmt.Println(errors.Is(err, phmail.ErrNotPH))

	_, err = phmail.Parse([]byte("Subject: To Be Provisioned - Acme DR00004711\r\n\r\nHello\r\n"))
	var mf *phmail.MissingFieldsError
	if errors.As(err, &mf) {
		fmt.Println(mf.Fields, mf.Labels)
	}
	// Output:
	// true
	// [ecc_id] [ECC ID:]
}

// A team whose Provisioning Hub uses another template changes the
// configuration, not the code.
func ExampleNewParser() {
	p, err := phmail.NewParser(phmail.WithConfig(phmail.Config{
		Labels: map[string][]string{phmail.FieldECCID: {"ERP Customer No", "ECC ID"}},
	}), phmail.WithLimits(phmail.Limits{MaxMessageBytes: 10 << 20}))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := p.Parse([]byte("Subject: To Be Provisioned - Acme DR00004711\n\n* ERP customer  no: 0001234567\n"))
	fmt.Println(m.ECCID, err)
	// Output:
	// 0001234567 <nil>
}
