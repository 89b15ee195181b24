package queue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/queue"
	"github.com/bookbridge/bookbridge/staging/bundb"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

type noteArgs struct {
	N int `json:"n"`
}

func (noteArgs) Kind() string { return "test_note" }

type noteWorker struct {
	river.WorkerDefaults[noteArgs]
	mu   sync.Mutex
	seen map[int]int
	done chan int
}

func (w *noteWorker) Work(ctx context.Context, j *river.Job[noteArgs]) error {
	w.mu.Lock()
	w.seen[j.Args.N]++
	w.mu.Unlock()
	w.done <- j.Args.N
	return nil
}

func open(t *testing.T, url string) *bun.DB {
	db, err := bundb.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Jobs enqueued in a committed transaction run once; jobs in a rolled-back
// one never run.
func TestTransactionalEnqueue(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := open(t, url)
		if err := queue.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := queue.Migrate(ctx, db); err != nil {
			t.Fatalf("second migration: %v", err)
		}
		w := &noteWorker{seen: map[int]int{}, done: make(chan int, 16)}
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		q, err := queue.New(ctx, db, queue.Config{URL: url, FetchPollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Work(ctx, workers, nil); err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer q.Stop(ctx)

		var committed int64
		err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			res, err := q.Client().InsertTx(ctx, tx.Tx, noteArgs{N: 1}, nil)
			if err == nil {
				committed = res.Job.ID
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := q.Client().InsertTx(ctx, tx.Tx, noteArgs{N: 2}, nil); err != nil {
				t.Fatal(err)
			}
			return context.Canceled // roll back
		})
		if _, err := q.Client().Insert(ctx, noteArgs{N: 3}, nil); err != nil {
			t.Fatal(err)
		}
		got := map[int]bool{}
		timeout := time.After(30 * time.Second)
		for len(got) < 2 {
			select {
			case n := <-w.done:
				got[n] = true
			case <-timeout:
				t.Fatalf("jobs not worked in 30s; got %v", got)
			}
		}
		if !got[1] || !got[3] || got[2] {
			t.Fatalf("worked %v", got)
		}
		// The finished job can be looked up.
		var j *rivertype.JobRow
		for i := 0; i < 100; i++ {
			if j, err = q.Client().JobGet(ctx, committed); err == nil && j.State == rivertype.JobStateCompleted {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if j == nil || j.State != rivertype.JobStateCompleted {
			t.Fatalf("job state: %+v %v", j, err)
		}
		if _, err := q.Client().JobGet(ctx, 999999); !errors.Is(err, river.ErrNotFound) {
			t.Fatalf("unknown job: %v", err)
		}
	})
}
