package servicenow_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/servicenow"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

func ExampleNew() {
	// A test double stands in for https://example.service-now.com.
	double := sntest.New(sntest.Options{})
	srv := httptest.NewServer(double)
	defer srv.Close()
	double.Inject(sntest.Fault{Status: 503})

	statuses := map[int]int{}
	var mu sync.Mutex
	target, err := servicenow.New(servicenow.Config{
		BaseURL:        srv.URL,
		Username:       sntest.DefaultUsername,
		Password:       sntest.DefaultPassword,
		RateLimit:      10,
		MaxConcurrency: 4,
		InitialBackoff: 10 * time.Millisecond,
		// The server turns these into Prometheus metrics.
		OnResponse: func(method, table string, status int, d time.Duration) {
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		},
	})
	if err != nil {
		panic(err)
	}
	recs, err := target.Find(context.Background(), loader.Query{
		Table: "core_company", Where: []map[string]string{{"u_ecc_id": "0001234567"}}, Fields: []string{"name"}, Limit: 2,
	})
	fmt.Println(len(recs), err, statuses[503], statuses[200])
	// Output: 0 <nil> 1 1
}

func ExampleTarget() {
	double := sntest.New(sntest.Options{SeedChoices: true})
	srv := httptest.NewServer(double)
	defer srv.Close()
	target, err := servicenow.New(servicenow.Config{BaseURL: srv.URL, Username: sntest.DefaultUsername, Password: sntest.DefaultPassword})
	if err != nil {
		panic(err)
	}
	plan := loadertest.ReferencePlan(10)
	opts := loader.Options{Attachments: loadertest.ReferenceFiles()}
	for range 2 {
		res, err := loader.Apply(context.Background(), plan, target, loader.Journal{}, opts)
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Summary())
	}
	fmt.Println(len(double.Calls()), "requests")
	// Output:
	// BB0001001: loaded: 13 inserted, 1 file(s) uploaded
	// BB0001001: loaded: 13 unchanged; nothing to change
	// 22 requests
}
