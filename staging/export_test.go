package staging

import "time"

// SchemaSteps is the number of schema migration steps, for the tests.
var SchemaSteps = len(schemaMigrations)

// TakeBatchSizes queues deals with payloads of the given sizes and returns
// the sizes of the batches the batcher takes from them, in order.
func TakeBatchSizes(payloadSizes []int) []int {
	var b intakeBatcher
	for _, n := range payloadSizes {
		b.queue = append(b.queue, &fastDeal{row: &recordRow{PayloadRaw: make([]byte, n)}})
	}
	var out []int
	for len(b.queue) > 0 {
		out = append(out, len(b.take()))
	}
	return out
}

// PipeNext sets up a batcher with busy writers writing batches, the last
// of which took last deals, one more writer (the caller) looking for work,
// and queued deals waiting. It starts arrive in a goroutine of its own
// (queue adds a deal as a caller would, answer ends a busy writer's batch)
// and returns how many deals the caller's next batch takes (0: the writer
// ends) and how many writers are then busy.
func PipeNext(queued, busy, last int, arrive func(queue, answer func())) (taken, busyAfter int) {
	b := &intakeBatcher{writers: busy + 1, busy: busy, last: last}
	b.wake.L = &b.mu
	for range queued {
		b.queue = append(b.queue, testDeal())
	}
	go arrive(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.add(testDeal())
	}, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.answered()
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.next()), b.busy
}

// WriterStarts reports whether a deal queued behind queued others, while
// writers run of which busy write a batch that took last deals, starts
// another writer.
func WriterStarts(queued, writers, busy, last int) bool {
	b := &intakeBatcher{writers: writers, busy: busy, last: last}
	for range queued {
		b.queue = append(b.queue, testDeal())
	}
	return b.add(testDeal())
}

func testDeal() *fastDeal { return &fastDeal{row: &recordRow{PayloadRaw: []byte("{}")}} }

// NumberedSearchText says whether numbering a record after its search text
// was made gives the search text of the numbered record.
func NumberedSearchText(r *Record, number string) (numbered, whole string) {
	unnumbered := *r
	unnumbered.Number = ""
	numberedRec := *r
	numberedRec.Number = number
	return numberedSearchText(searchText(&unnumbered), number), searchText(&numberedRec)
}

// FoldSearch and FoldSpelled are the search folding, for the tests.
var FoldSearch, FoldSpelled = foldSearch, foldSpelled

// SetSearchTextBatch sets how many records the search text migration reads
// at a time until the test ends.
func SetSearchTextBatch(t interface{ Cleanup(func()) }, n int) {
	old := searchTextBatch
	searchTextBatch = n
	t.Cleanup(func() { searchTextBatch = old })
}

// QueuedDeals returns how many new deals wait for a batch writer.
func QueuedDeals(s *Store) int {
	s.batcher.mu.Lock()
	defer s.batcher.mu.Unlock()
	return len(s.batcher.queue)
}

// SpareIDs keeps ids as drawn age ago and returns what a batch of n deals
// then takes of them.
func SpareIDs(ids []int64, age time.Duration, n int) []int64 {
	var b intakeBatcher
	b.putSpare(ids, time.Now().Add(-age))
	got, _ := b.takeSpare(n)
	return got
}

// BatchStatements is how many statements a batch writer prepares by name
// on its connection.
const BatchStatements = batchSteps

// BatchWriters is how many batch writers may run at once.
const BatchWriters = batchWriters

// MoreWithCommit returns how many of queued deals a busy writer sends with
// the commit of its batch of last deals (0: none, the next batch waits
// for the commit's answer).
func MoreWithCommit(queued, last int) int {
	b := &intakeBatcher{writers: 1, busy: 1, last: last}
	for range queued {
		b.queue = append(b.queue, testDeal())
	}
	return len(b.more())
}
