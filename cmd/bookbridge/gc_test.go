package main

import (
	"context"
	"runtime/debug"
	"testing"
	"time"
)

// gcMinHeapGoal is BOOKBRIDGE_GC_MIN_HEAP's default.
const gcMinHeapGoal = 64 << 20

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live, roots uint64
		want        int
	}{
		{0, 0, serverGCPercent},              // no collection yet
		{6 * mb, 0, 966},                     // goal 6 + 6*9.66 = 64 MB
		{5 * mb, 1 * mb, 983},                // goal 5 + 6*9.83 = 64 MB
		{16 * mb, 0, 300},                    // goal 16 + 16*3 = 64 MB
		{21 * mb, 0, 204},                    // just above serverGCPercent
		{22 * mb, 0, serverGCPercent},        // 64 MB would be below 200%
		{gcMinHeapGoal, mb, serverGCPercent}, // no headroom left
		{1 << 30, 2 * mb, serverGCPercent},   // a large live heap: the usual target
		{4 * mb, 0, gcMaxPercent},            // a small live heap: bounded
		{512 << 10, 512 << 10, gcMaxPercent}, // a tiny one too
	} {
		got := gcPercentFor(tc.live, tc.roots, gcMinHeapGoal)
		if got != tc.want {
			t.Errorf("live %d bytes, roots %d: target %d, want %d", tc.live, tc.roots, got, tc.want)
		}
		// Where the target is not bounded, Go's goal comes out at the minimum.
		if got > serverGCPercent && got < gcMaxPercent {
			goal := tc.live + (tc.live+tc.roots)*uint64(got)/100
			if goal > gcMinHeapGoal || gcMinHeapGoal-goal > (tc.live+tc.roots)/100 {
				t.Errorf("live %d bytes, roots %d: heap goal %d bytes, want %d", tc.live, tc.roots, goal, gcMinHeapGoal)
			}
		}
	}
}

// The target follows the live heap, and is set again only when it changes.
func TestGCTunerFollowsLiveHeap(t *testing.T) {
	const mb = 1 << 20
	lives := []uint64{0, 6 * mb, 6 * mb, 100 * mb, 8 * mb}
	var sets []int
	i := 0
	g := &gcTuner{
		minGoal: gcMinHeapGoal,
		heap:    func() (uint64, uint64) { v := lives[i]; i++; return v, 0 },
		set:     func(p int) int { sets = append(sets, p); return 0 },
	}
	for range lives {
		g.adjust()
	}
	want := []int{serverGCPercent, 966, serverGCPercent, 700}
	if len(sets) != len(want) {
		t.Fatalf("targets set %v, want %v", sets, want)
	}
	for k := range want {
		if sets[k] != want[k] {
			t.Fatalf("targets set %v, want %v", sets, want)
		}
	}
}

// The tuner runs until its context ends.
func TestGCTunerStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 100)
	g := &gcTuner{
		heap: func() (uint64, uint64) { calls <- struct{}{}; return 0, 0 },
		set:  func(int) int { return 0 },
	}
	done := make(chan struct{})
	go func() { g.run(ctx, time.Millisecond); close(done) }()
	<-calls // it adjusts on its own
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the tuner did not stop when its context ended")
	}
}

// serve and demo set the collector's target unless GOGC is set or the
// minimum heap is 0.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	debug.SetGCPercent(100)
	tuneGC(context.Background(), 0, func(string) string { return "" }, testLogger(t))
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("BOOKBRIDGE_GC_MIN_HEAP=0: target %d, want it left at 100", got)
	}
	for _, gogc := range []string{"", "100", "off"} {
		debug.SetGCPercent(100)
		ctx, cancel := context.WithCancel(context.Background())
		tuneGC(ctx, gcMinHeapGoal, func(k string) string {
			if k == "GOGC" {
				return gogc
			}
			return ""
		}, testLogger(t))
		cancel()
		got := debug.SetGCPercent(100)
		switch {
		case gogc != "" && got != 100: // Go applied GOGC itself; tuneGC leaves it
			t.Errorf("GOGC=%q: target %d, want it left at 100", gogc, got)
		case gogc == "" && (got < serverGCPercent || got > gcMaxPercent):
			t.Errorf("GOGC unset: target %d, want %d to %d", got, serverGCPercent, gcMaxPercent)
		}
	}
}
