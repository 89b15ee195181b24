package salesforce_test

import (
	"fmt"
	"reflect"

	"github.com/bookbridge/bookbridge/examples/salesforce"
	"github.com/bookbridge/bookbridge/sfdc"
)

// A query that forgets the sales team and a line-item field: Missing names
// what the payload type reads but the query does not select.
func ExampleMissing() {
	q, err := salesforce.ParseQuery(`SELECT Id, Name, StageName, LastModifiedDate,
		Account.Name, Account.BillingStreet, Account.BillingCity, Account.BillingState,
		Account.BillingPostalCode, Account.BillingCountry, Industry__c, End_User_ECC_ID__c,
		CloseDate, Service_Commence_Date__c, Service_End_Date__c, Total_Extended_Price__c,
		CurrencyIsoCode, Customer_Contact_Email__c, Deal_Registration_Id__c,
		ECC_Sales_Order_Number__c, ECC_ACM_Contract_Number__c, Organization_Name__c,
		(SELECT Name__c, PricebookEntry.Product2.Family, Adobe_SKU__c, Quantity, TotalPrice,
			New_Contract_Start_Date__c FROM OpportunityLineItems)
		FROM Opportunity WHERE Id IN :ids`)
	if err != nil {
		fmt.Println(err)
		return
	}
	missing, err := salesforce.Missing(q, reflect.TypeFor[sfdc.Opportunity]())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range missing {
		fmt.Println(p)
	}
	// Output:
	// Adobe_Sales_Team__r.Adobe_Role_Type__c
	// Adobe_Sales_Team__r.Sales_Team_Member__r.Name
	// OpportunityLineItems.New_Contract_End_Date__c
}
