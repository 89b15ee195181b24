package sqltarget_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/sqltarget"
	"github.com/bookbridge/bookbridge/staging/bundb"
)

func ExampleTarget_EnsureReferenceTables() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bookbridge-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := bundb.Open(ctx, filepath.Join(dir, "target.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()

	target := sqltarget.New(db, sqltarget.Options{})
	if err := target.EnsureReferenceTables(ctx); err != nil {
		panic(err)
	}
	res, err := loader.Apply(ctx, loadertest.ReferencePlan(2), target, loader.Journal{}, loader.Options{Attachments: loadertest.ReferenceFiles()})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Summary())
	recs, _, err := target.Dump(ctx, "core_company")
	if err != nil {
		panic(err)
	}
	fmt.Println(recs["core_company"][0].Fields["name"], recs["core_company"][0].Fields["u_block_number"])
	// Output:
	// BB0001001: loaded: 5 inserted, 1 file(s) uploaded
	// Müller & Søn Größe GmbH 3
}
