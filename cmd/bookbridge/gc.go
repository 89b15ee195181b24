package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The server's live heap is small next to the garbage each deal leaves, so
// a target relative to the live heap alone (GOGC) has the collector run
// every few megabytes under a steady intake. serve and demo let the heap
// grow to BOOKBRIDGE_GC_MIN_HEAP before a collection, and to
// serverGCPercent above the live heap once that is the larger; the
// README's Operations section gives the measured effect.
const (
	// serverGCPercent is the collector's target (as GOGC) once the live
	// heap is too large for the minimum heap goal to matter.
	serverGCPercent = 200
	// gcMaxPercent bounds the target while the live heap is tiny, as it is
	// at start, before the server has warmed up: a heap of 2 MB would make
	// any later growth of the live heap thirty times as large.
	gcMaxPercent = 1000
	// gcTuneEvery is how often the target follows the live heap.
	gcTuneEvery = time.Second
)

// gcPercentFor returns the collector's target (as GOGC) that puts the heap
// goal at minGoal, and never below serverGCPercent. Go sets the goal
// at live + (live + roots) * GOGC/100, where live is the heap the last
// collection found live and roots the goroutine stacks and globals it
// scanned.
func gcPercentFor(live, roots, minGoal uint64) int {
	if live == 0 || live >= minGoal {
		return serverGCPercent
	}
	p := (minGoal - live) * 100 / (live + roots)
	return int(min(max(p, serverGCPercent), gcMaxPercent))
}

// gcSamples are what the collector found at its last run.
var gcSamples = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// heapAtLastGC returns the live heap and the stacks and globals scanned
// at the last collection (zeros before the first one).
func heapAtLastGC() (live, roots uint64) {
	s := make([]metrics.Sample, len(gcSamples))
	for i, name := range gcSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	var v [3]uint64
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = s[i].Value.Uint64()
		}
	}
	return v[0], v[1] + v[2]
}

// gcTuner keeps the collector's target in step with the live heap.
type gcTuner struct {
	minGoal uint64                      // BOOKBRIDGE_GC_MIN_HEAP
	heap    func() (live, roots uint64) // heapAtLastGC
	set     func(int) int               // debug.SetGCPercent
	percent int                         // the target last set
}

// adjust sets the target for the current live heap when it changed.
func (g *gcTuner) adjust() {
	live, roots := g.heap()
	if p := gcPercentFor(live, roots, g.minGoal); p != g.percent {
		g.set(p)
		g.percent = p
	}
}

// run adjusts the target every interval until ctx ends.
func (g *gcTuner) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.adjust()
		}
	}
}

// tuneGC keeps the collector's heap goal at minHeap bytes or more until ctx
// ends, unless minHeap is 0 or the operator set GOGC, which Go itself has
// then applied.
func tuneGC(ctx context.Context, minHeap int64, getenv func(string) string, log *slog.Logger) {
	if v := getenv("GOGC"); v != "" || minHeap <= 0 {
		log.Debug("garbage collector target as Go sets it", "gogc", v)
		return
	}
	g := &gcTuner{minGoal: uint64(minHeap), heap: heapAtLastGC, set: debug.SetGCPercent}
	g.adjust()
	log.Debug("garbage collector target follows the live heap", "min_heap_goal_mb", minHeap>>20, "gogc", g.percent)
	go g.run(ctx, gcTuneEvery)
}
