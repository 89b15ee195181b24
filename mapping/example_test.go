package mapping_test

import (
	"fmt"
	"time"

	"github.com/bookbridge/bookbridge/mapping"
)

func Example() {
	rules := []byte(`version: 1
vars:
  managers: |
    map(filter(sfdc.Adobe_Sales_Team__r.records, .Adobe_Role_Type__c == "ACCOUNT MANAGER"), .Sales_Team_Member__r.Name)
steps:
  - name: company
    table: core_company
    on_multiple: fail
    match:
      u_ecc_id: sfdc.End_User_ECC_ID__c
    on_insert:
      u_account_manager: vars.managers
      u_start_date: parseDate(sfdc.Service_Commence_Date__c)
  - name: order
    table: u_managed_services_sales_order
    on_multiple: fail
    match:
      u_company: ref.company
    fields:
      u_total_contract_value: money(sfdc.CurrencyIsoCode, sfdc.Total_Extended_Price__c)
`)
	r, err := mapping.Compile("example.yaml", rules)
	if err != nil {
		fmt.Println(err)
		return
	}
	sf, _ := mapping.SFDCFromJSON([]byte(`{"End_User_ECC_ID__c": "0001234567", "Service_Commence_Date__c": "2027-01-01",
	  "CurrencyIsoCode": "USD", "Total_Extended_Price__c": 12500,
	  "Adobe_Sales_Team__r": {"totalSize": 2, "done": true, "records": [
	    {"Adobe_Role_Type__c": "ACCOUNT MANAGER", "Sales_Team_Member__r": {"Name": "O'Brien, Siobhán"}},
	    {"Adobe_Role_Type__c": "ACCOUNT MANAGER", "Sales_Team_Member__r": {"Name": "José Álvarez"}}]}}`))
	plan, err := r.Plan(mapping.Input{SFDC: sf, Now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range plan.Steps {
		fmt.Println(s.ID, s.Table, s.Match, s.Fields, s.OnInsert, s.DependsOn)
	}
	// Output:
	// company core_company map[u_ecc_id:0001234567] map[] map[u_account_manager:O'Brien, Siobhán, José Álvarez u_ecc_id:0001234567 u_start_date:2027-01-01] []
	// order u_managed_services_sales_order map[u_company:ref:company] map[u_total_contract_value:USD;12500.00] map[u_company:ref:company] [company]
}

func ExampleCompile_errors() {
	_, err := mapping.Compile("broken.yaml", []byte(`version: 1
steps:
  - name: company
    table: core_company
    on_multiple: fail
    fields:
      u_status: Pre-Production
      u_sla: 'vars.sla'
    match:
      u_ecc_id: sfdc.End_User_ECC_ID__c
`))
	fmt.Println(err)
	// Output:
	// broken.yaml:7:17: step company, fields.u_status: unknown name Pre; every value is an expression: to send the text "Pre-Production", write it as an expression string inside YAML quotes: '"Pre-Production"'
	// broken.yaml:8:20: step company, fields.u_sla: unknown var "sla"; declare it under vars:
}
