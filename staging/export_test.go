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
