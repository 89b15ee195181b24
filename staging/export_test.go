package staging

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

// PipeNext sets up a run with inPipe batches on their way, the last of
// which took last deals, and queued deals waiting, on a connection that
// keeps depth batches on their way. It starts arrive in a goroutine of its
// own (queue adds a deal as a caller would, answer answers the oldest
// batch as the receiver would) and returns how many deals the next batch
// takes (0: the run is over) and how many batches are then on their way.
func PipeNext(queued, inPipe, last, depth int, arrive func(queue, answer func())) (taken, onTheirWay int) {
	s := &Store{}
	b := &s.batcher
	r := &batchRun{s: s, depth: depth, inPipe: inPipe, last: last}
	deal := func() *fastDeal { return &fastDeal{row: &recordRow{PayloadRaw: []byte("{}")}} }
	b.mu.Lock()
	for range queued {
		b.add(deal())
	}
	b.running = true
	b.mu.Unlock()
	go arrive(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.add(deal())
	}, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		r.inPipe--
		b.wake.Signal()
	})
	batch := r.next()
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(batch), r.inPipe
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
