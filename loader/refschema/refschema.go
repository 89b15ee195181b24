// Package refschema is the reference ServiceNow schema of bookbridge's
// domain notes: the tables the reference mapping rules load into, their
// fields, and the block-number choices the demo starts with. The SQL
// target creates these tables, and the ServiceNow test double serves them.
//
// Every field holds a string, as on ServiceNow. Each table also has the
// system fields sys_id (the record's id, 32 lowercase hex digits) and
// sys_created_on, which are not listed here.
package refschema

import "maps"

// System fields every table has.
const (
	SysID        = "sys_id"
	SysCreatedOn = "sys_created_on"
)

var tables = map[string][]string{
	"core_company": {
		"name", "u_ecc_id", "u_product", "u_status", "u_industry",
		"street", "city", "state", "zip", "country",
		"u_ims_org_id", "u_tenant_id", "u_start_date", "u_end_date",
		"u_customer_contact", "u_account_manager", "u_product_specialist",
		"u_active", "u_block_number", "u_sla", "u_author_sla",
		"u_aem_sites", "u_aem_assets", "u_aem_screens", "u_aem_forms",
		"u_jee", "u_osgi", "u_commerce", "u_aem_basic_option",
		"u_customer_success_engineer",
	},
	"u_ams_finance_names": {"u_company", "u_finance_name"},
	"u_managed_services_sales_order": {
		"u_company", "u_dr_number", "u_sales_order_number", "u_closing_date",
		"u_contract_number", "u_total_contract_value", "u_start_date", "u_end_date",
	},
	"u_sales_skus": {
		"u_adobe_sku", "u_product", "u_customer", "u_dr_number", "u_qty",
		"u_currency", "u_sales_order_number", "u_start_date", "u_end_date",
		"u_adobe_contract_number", "u_reportable_amount",
	},
	"problem": {
		"short_description", "description", "priority", "state", "due_date",
		"assigned_to", "company", "work_notes",
	},
	"sys_choice": {"name", "element", "value", "label", "inactive"},
}

// Tables returns the reference tables and their fields (a fresh copy).
func Tables() map[string][]string {
	out := maps.Clone(tables)
	for k, v := range out {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// BlockNumberChoices are the sys_choice rows of core_company.u_block_number
// the demo starts with: active block numbers 1 to 3 and an inactive 9, so
// the highest active number is 3.
func BlockNumberChoices() []map[string]string {
	var rows []map[string]string
	for _, c := range []struct{ value, inactive string }{{"1", "false"}, {"2", "false"}, {"3", "false"}, {"9", "true"}} {
		rows = append(rows, map[string]string{
			"name": "core_company", "element": "u_block_number",
			"value": c.value, "label": "Block " + c.value, "inactive": c.inactive,
		})
	}
	return rows
}
