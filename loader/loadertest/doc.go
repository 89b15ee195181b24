// Package loadertest helps test loader targets and the code that embeds the
// loader:
//
//   - RunConformance runs the one conformance suite every loader.Target
//     must pass (memory, SQL and ServiceNow run it in their tests; a team
//     writing its own target runs it too);
//   - ReferencePlan builds, by hand, the plan the reference rules make of
//     the example deal (company, finance name, sales order with the
//     contract PDF, one SKU per line item), with ReferenceFiles holding
//     the attachment bytes;
//   - Canonical renders a target's tables in a form that does not depend
//     on generated ids, so two loads can be compared row for row.
package loadertest
