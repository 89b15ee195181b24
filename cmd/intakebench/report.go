package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// report prints, per connection count, the best round of each server (the
// least disturbed by the machine's other work) and the ratio, then the
// ratio round by round (in a round the two servers ran one after the
// other, so each round's ratio is the least exposed to the machine's
// drift), and the ratio of all rounds taken together.
func report(w io.Writer, o options, servers []target, results map[string]map[int][]result) {
	fmt.Fprintf(w, "\nintake of %s, %d round(s) of %s (after %s warm-up), Postgres on loopback, %d CPUs, %s\n\n",
		o.payload, o.rounds, o.duration, o.warmup, runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "| conns | server | req/s (best round) | p50 ms | p99 ms | server CPU us/req | Postgres CPU us/req | errors | all rounds req/s |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range o.conns {
		best := map[string]result{}
		rounds := roundRatios(results["floor"][n], results["bookbridge"][n])
		for _, s := range servers {
			rs := slices.Clone(results[s.name][n])
			sort.Slice(rs, func(i, j int) bool { return rs[i].rps() > rs[j].rps() })
			all := ""
			errs := 0
			for i, r := range rs {
				if i > 0 {
					all += ", "
				}
				all += fmt.Sprintf("%.0f", r.rps())
				errs += r.errors
			}
			best[s.name] = rs[0]
			fmt.Fprintf(w, "| %d | %s | %.0f | %.2f | %.2f | %s | %s | %d | %s |\n", n, s.name, rs[0].rps(), ms(rs[0].p50), ms(rs[0].p99),
				strings.TrimSuffix(us(rs[0].serverCPU), "us"), strings.TrimSuffix(us(rs[0].pgCPU), "us"), errs, all)
		}
		if f, b := best["floor"], best["bookbridge"]; f.requests > 0 {
			fmt.Fprintf(w, "| %d | **bookbridge / floor** | **%.0f%%** | | | | | | |\n", n, 100*b.rps()/f.rps())
		}
		if len(rounds) > 0 {
			all := make([]string, len(rounds))
			for i, r := range rounds {
				all[i] = fmt.Sprintf("%.0f%%", r)
			}
			fmt.Fprintf(w, "| %d | bookbridge / floor, round by round | median %.0f%% | | | | | | %s |\n", n, median(rounds), strings.Join(all, ", "))
		}
		if f, b := overall(results["floor"][n]), overall(results["bookbridge"][n]); f > 0 && b >= 0 {
			fmt.Fprintf(w, "| %d | bookbridge / floor, all rounds together | %.0f%% | | | | | | |\n", n, 100*b/f)
		}
	}
}

// overall returns the requests per second of all rounds taken together
// (-1 without a round): on a machine whose speed drifts from one round to
// the next, the steadiest single figure once there are many short rounds.
func overall(rs []result) float64 {
	var n int
	var d time.Duration
	for _, r := range rs {
		n += r.requests
		d += r.elapsed
	}
	if d <= 0 {
		return -1
	}
	return float64(n) / d.Seconds()
}

// roundRatios returns bookbridge's throughput as a percentage of the
// floor's in each round both ran, in round order.
func roundRatios(floor, bookbridge []result) []float64 {
	var out []float64
	for i := range min(len(floor), len(bookbridge)) {
		if floor[i].requests > 0 {
			out = append(out, 100*bookbridge[i].rps()/floor[i].rps())
		}
	}
	return out
}

// median returns the median of v, which must not be empty.
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
