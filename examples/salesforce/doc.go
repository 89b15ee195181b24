// Package salesforce keeps bookbridge's Salesforce sender (the Salesforce DX
// project in this directory) honest in CI.
//
// The Apex code cannot run here, so two checks stand in for an org:
//
//   - every .cls and .trigger must parse with @apexdevtools/apex-parser
//     (scripts/parse-check.mjs, run by TestApexSourcesParse);
//   - the SOQL query of BookbridgeDealSender.cls must select every field
//     that bookbridge's reference payload type [sfdc.Opportunity] reads, so
//     the sender and the receiver cannot drift apart (TestSenderQueryCoversPayload).
//
// The drift check is built from three functions that also work for a team's
// own payload struct: [InlineQuery] finds an inline SOQL query in Apex
// source, [ParseQuery] reads its field list and subqueries, and [Missing]
// compares the result with the JSON fields of a Go type, walking nested
// objects and relationship lists ([sfdc.Records]) by their json tags.
//
// [sfdc.Opportunity]: https://pkg.go.dev/github.com/bookbridge/bookbridge/sfdc#Opportunity
// [sfdc.Records]: https://pkg.go.dev/github.com/bookbridge/bookbridge/sfdc#Records
package salesforce
