package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The report gives the best round of each server, their ratio, the ratio
// of each round, in round order, with its median, and the ratio of all
// rounds together; the results it was given stay in round order.
func TestReportRoundByRound(t *testing.T) {
	rps := func(n int) result { return result{requests: n, elapsed: time.Second, serverCPU: -1, pgCPU: -1} }
	results := map[string]map[int][]result{
		"floor":      {16: {rps(4000), rps(5000), rps(4000)}},
		"bookbridge": {16: {rps(3600), rps(4600), rps(4000)}},
	}
	var b strings.Builder
	report(&b, options{conns: []int{16}, rounds: 3, duration: time.Second},
		[]target{{name: "floor"}, {name: "bookbridge"}}, results)
	out := b.String()
	for _, want := range []string{
		"| 16 | floor | 5000 |",
		"| 16 | bookbridge | 4600 |",
		"| 16 | **bookbridge / floor** | **92%** |",
		"| 16 | bookbridge / floor, round by round | median 92% | | | | | | 90%, 92%, 100% |",
		"| 16 | bookbridge / floor, all rounds together | 94% |", // 12200 / 13000 requests in 3 s each
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if got := results["bookbridge"][16][0].requests; got != 3600 {
		t.Errorf("the report reordered the results: the first round now has %d requests", got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{90}, 90},
		{[]float64{100, 90, 92}, 92},
		{[]float64{94, 88, 90, 96}, 92},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// The servers take turns at going first, so that a machine slowing down
// over the run does not count against the one that always runs second.
func TestServersTakeTurns(t *testing.T) {
	servers := []target{{name: "floor"}, {name: "bookbridge"}}
	for _, tc := range []struct {
		round int
		want  []string
	}{
		{1, []string{"floor", "bookbridge"}},
		{2, []string{"bookbridge", "floor"}},
		{3, []string{"floor", "bookbridge"}},
		{30, []string{"bookbridge", "floor"}},
	} {
		var got []string
		for _, s := range inTurn(servers, tc.round) {
			got = append(got, s.name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("round %d: order %v, want %v", tc.round, got, tc.want)
		}
	}
	if servers[0].name != "floor" {
		t.Errorf("inTurn reordered its argument: %v", servers)
	}
}
