package sfdc_test

import (
	"errors"
	"fmt"

	"github.com/bookbridge/bookbridge/sfdc"
)

func ExampleDecode() {
	body := []byte(`{"Id":"006Dn00000AbCdEIAV","StageName":"Closed Booked",
		"Total_Extended_Price__c": 12500.10, "CloseDate":"2026-11-20",
		"OpportunityLineItems": null}`)
	d, err := sfdc.Decode[sfdc.Opportunity](body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Value.ID, d.Value.TotalExtendedPrice, d.Value.CloseDate, d.Value.LineItems.Len())
	// Output: 006Dn00000AbCdEIAV 12500.10 2026-11-20 0
}

func ExampleValidate() {
	body := []byte(`{"Id":"006Dn00000AbCdEAAA","StageName":"Closed Won"}`)
	d, _ := sfdc.Decode[sfdc.Opportunity](body)
	err := sfdc.Validate(&d.Value)
	var ve *sfdc.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems[:2] {
			fmt.Println(p.Path, p.Rule)
		}
	}
	// Output:
	// /Account required
	// /CloseDate required
}

// A team whose Salesforce org sends another shape declares its own struct
// with the same tags; Decode and Validate work on it unchanged.
func ExampleDecode_customPayload() {
	type Renewal struct {
		ID       string       `json:"Id" validate:"required,sfid"`
		Stage    string       `json:"StageName" validate:"required,stage"`
		Amount   sfdc.Decimal `json:"Amount" validate:"required,positive"`
		Currency string       `json:"CurrencyIsoCode" validate:"required,iso4217"`
		Starts   sfdc.Date    `json:"Start__c" validate:"required"`
		Contacts sfdc.Records[struct {
			Email string `json:"Email" validate:"required,email"`
		}] `json:"Contacts__r" validate:"has_records"`
	}
	body := []byte(`{"Id":"006Dn00000XyZ12IAF","StageName":"Closed Booked","Amount":0,
		"CurrencyIsoCode":"CHF","Start__c":"2027-01-01",
		"Contacts__r":{"totalSize":1,"done":true,"records":[{"Email":"nobody"}]}}`)
	d, err := sfdc.Decode[Renewal](body)
	if err != nil {
		fmt.Println(err)
		return
	}
	var ve *sfdc.ValidationError
	if errors.As(sfdc.Validate(d.Value), &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p.Path, "-", p.Message)
		}
	}
	// Output:
	// /Amount - must be a number greater than 0; got "0"
	// /Contacts__r/records/0/Email - must be an email address such as name@example.com; got "nobody"
}
