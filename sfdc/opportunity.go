package sfdc

import "strings"

// StageClosedBooked is the stage at which Salesforce sends a deal.
const StageClosedBooked = "Closed Booked"

// Sales-team roles that the load reads.
const (
	RoleAccountManager    = "ACCOUNT MANAGER"
	RoleProductSpecialist = "PRODUCT SPECIALIST"
)

// Products derived from the managed-services lines.
const (
	ProductAEM      = "AEM"
	ProductAEMBasic = "AEM Basic"
)

// Opportunity is the reference payload: a "Closed Booked" deal with its
// account, sales team and line items, in Salesforce's JSON shape. The json
// tags are the Salesforce API names; the validate tags are the rules that
// Validate applies, and validate:"-" marks every field and part without
// rules, which the validator then does not visit (each visit costs it a
// reflective step, and a date or number an allocation).
type Opportunity struct {
	Attributes           Attributes               `json:"attributes,omitzero" validate:"-"`
	ID                   string                   `json:"Id" validate:"required,sfid"`
	Name                 string                   `json:"Name,omitempty" validate:"-"`
	StageName            string                   `json:"StageName" validate:"required,stage"`
	LastModifiedDate     DateTime                 `json:"LastModifiedDate" validate:"-"`
	Account              *Account                 `json:"Account" validate:"required"`
	Industry             string                   `json:"Industry__c" validate:"-"`
	EndUserECCID         string                   `json:"End_User_ECC_ID__c" validate:"required,max=40"`
	CloseDate            Date                     `json:"CloseDate" validate:"required"`
	ServiceCommenceDate  Date                     `json:"Service_Commence_Date__c" validate:"required"`
	ServiceEndDate       Date                     `json:"Service_End_Date__c" validate:"required,gtefield=ServiceCommenceDate"`
	TotalExtendedPrice   Decimal                  `json:"Total_Extended_Price__c" validate:"required,nonnegative,amount=CurrencyIsoCode"`
	CurrencyIsoCode      string                   `json:"CurrencyIsoCode" validate:"required,iso4217"`
	CustomerContactEmail string                   `json:"Customer_Contact_Email__c" validate:"omitempty,email"`
	SalesTeam            Records[SalesTeamMember] `json:"Adobe_Sales_Team__r" validate:"-"`
	DealRegistrationID   string                   `json:"Deal_Registration_Id__c" validate:"required,len=10"`
	SalesOrderNumber     string                   `json:"ECC_Sales_Order_Number__c" validate:"-"`
	ContractNumber       string                   `json:"ECC_ACM_Contract_Number__c" validate:"-"`
	OrganizationName     string                   `json:"Organization_Name__c" validate:"-"`
	LineItems            Records[LineItem]        `json:"OpportunityLineItems" validate:"has_records"`
}

// Account is the customer company.
type Account struct {
	Attributes        Attributes `json:"attributes,omitzero" validate:"-"`
	Name              string     `json:"Name" validate:"required"`
	BillingStreet     string     `json:"BillingStreet" validate:"-"`
	BillingCity       string     `json:"BillingCity" validate:"-"`
	BillingState      string     `json:"BillingState" validate:"-"`
	BillingPostalCode string     `json:"BillingPostalCode" validate:"-"`
	BillingCountry    string     `json:"BillingCountry" validate:"-"`
}

// SalesTeamMember is one row of the Adobe_Sales_Team__r relationship.
type SalesTeamMember struct {
	Attributes Attributes `json:"attributes,omitzero" validate:"-"`
	Role       string     `json:"Adobe_Role_Type__c" validate:"-"`
	Member     *NamedRef  `json:"Sales_Team_Member__r" validate:"-"`
}

// NamedRef is a lookup relationship of which only the name is sent.
type NamedRef struct {
	Attributes Attributes `json:"attributes,omitzero" validate:"-"`
	Name       string     `json:"Name" validate:"-"`
}

// LineItem is one OpportunityLineItem.
type LineItem struct {
	Attributes       Attributes      `json:"attributes,omitzero" validate:"-"`
	Name             string          `json:"Name__c" validate:"required"`
	PricebookEntry   *PricebookEntry `json:"PricebookEntry,omitempty" validate:"-"`
	SKU              string          `json:"Adobe_SKU__c" validate:"-"`
	Quantity         Decimal         `json:"Quantity" validate:"required,positive,amount=CurrencyIsoCode"`
	TotalPrice       Decimal         `json:"TotalPrice" validate:"required,amount=CurrencyIsoCode"`
	NewContractStart Date            `json:"New_Contract_Start_Date__c" validate:"-"`
	NewContractEnd   Date            `json:"New_Contract_End_Date__c" validate:"omitempty,gtefield=NewContractStart"`
}

// PricebookEntry carries the product of a line item.
type PricebookEntry struct {
	Attributes Attributes `json:"attributes,omitzero" validate:"-"`
	Product2   *Product2  `json:"Product2,omitempty" validate:"-"`
}

// Product2 is the product; only its family is sent.
type Product2 struct {
	Attributes Attributes `json:"attributes,omitzero" validate:"-"`
	Family     string     `json:"Family" validate:"-"`
}

// IsManagedServices reports whether the line is a managed-services line: its
// name contains "AEM" and also ":MS", ": MS" or "MANAGED". Only these lines
// are loaded.
func (l LineItem) IsManagedServices() bool {
	n := l.Name
	return strings.Contains(n, "AEM") &&
		(strings.Contains(n, ":MS") || strings.Contains(n, ": MS") || strings.Contains(n, "MANAGED"))
}

// ManagedServicesLines returns the managed-services line items in payload
// order.
func (o *Opportunity) ManagedServicesLines() []LineItem {
	var out []LineItem
	for _, l := range o.LineItems.Records {
		if l.IsManagedServices() {
			out = append(out, l)
		}
	}
	return out
}

// Product is "AEM Basic" when any managed-services line name, upper-cased,
// contains "MS BASIC", and "AEM" otherwise.
func (o *Opportunity) Product() string {
	for i := range o.LineItems.Records {
		l := &o.LineItems.Records[i]
		if l.IsManagedServices() && strings.Contains(strings.ToUpper(l.Name), "MS BASIC") {
			return ProductAEMBasic
		}
	}
	return ProductAEM
}

// AccountManagers returns the names of the sales-team members with the role
// ACCOUNT MANAGER, in payload order.
func (o *Opportunity) AccountManagers() []string { return o.teamMembers(RoleAccountManager) }

// ProductSpecialists returns the names of the sales-team members with the
// role PRODUCT SPECIALIST, in payload order.
func (o *Opportunity) ProductSpecialists() []string { return o.teamMembers(RoleProductSpecialist) }

func (o *Opportunity) teamMembers(role string) []string {
	var out []string
	for _, m := range o.SalesTeam.Records {
		if strings.EqualFold(strings.TrimSpace(m.Role), role) && m.Member != nil && m.Member.Name != "" {
			out = append(out, m.Member.Name)
		}
	}
	return out
}
