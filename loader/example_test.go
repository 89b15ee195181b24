package loader_test

import (
	"context"
	"fmt"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/memory"
)

func examplePlan() *loader.Plan {
	return &loader.Plan{
		Record: "BB0000042",
		Steps: []loader.Step{
			{
				ID: "company", Name: "company", Table: "core_company",
				Match:    map[string]loader.Value{"u_ecc_id": loader.Lit("0000000042"), "u_product": loader.Lit("AEM")},
				Fields:   map[string]loader.Value{"u_customer_contact": loader.Lit("buyer@example.com")},
				OnInsert: map[string]loader.Value{"name": loader.Lit("Example GmbH")},
			},
			{
				ID: "finance", Name: "finance", Table: "u_ams_finance_names",
				Match:     map[string]loader.Value{"u_company": loader.RefTo("company"), "u_finance_name": loader.Lit("Example Finance")},
				DependsOn: []string{"company"},
			},
		},
	}
}

func ExampleApply() {
	ctx := context.Background()
	target := memory.New(memory.Options{})
	var saved loader.Journal // the staging store keeps this
	opts := loader.Options{OnWrite: func(_ context.Context, j loader.Journal) error { saved = j; return nil }}

	res, err := loader.Apply(ctx, examplePlan(), target, loader.Journal{}, opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Summary())
	fmt.Println(len(saved.Writes), "writes journaled")

	// Pressing the button again changes nothing.
	res, err = loader.Apply(ctx, examplePlan(), target, loader.Journal{}, opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Summary())
	// Output:
	// BB0000042: loaded: 2 inserted
	// 2 writes journaled
	// BB0000042: loaded: 2 unchanged; nothing to change
}

func ExamplePreview() {
	ctx := context.Background()
	target := memory.New(memory.Options{})
	if _, err := loader.Apply(ctx, examplePlan(), target, loader.Journal{}, loader.Options{}); err != nil {
		panic(err)
	}
	plan := examplePlan()
	plan.Steps[0].Fields["u_customer_contact"] = loader.Lit("new-buyer@example.com")
	diff, err := loader.Preview(ctx, plan, target, loader.Options{})
	if err != nil {
		panic(err)
	}
	for _, s := range diff.Steps {
		fmt.Println(s.ID, s.Action, s.Changes)
	}
	// Output:
	// company update [{u_customer_contact buyer@example.com new-buyer@example.com}]
	// finance unchanged []
}
