package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"
)

// report prints, per connection count, the best round of each server (the
// least disturbed by the machine's other work) and the ratio.
func report(w io.Writer, o options, servers []target, results map[string]map[int][]result) {
	fmt.Fprintf(w, "\nintake of %s, %d round(s) of %s (after %s warm-up), Postgres on loopback, %d CPUs, %s\n\n",
		o.payload, o.rounds, o.duration, o.warmup, runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "| conns | server | req/s (best round) | p50 ms | p99 ms | server CPU us/req | Postgres CPU us/req | errors | all rounds req/s |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range o.conns {
		best := map[string]result{}
		for _, s := range servers {
			rs := results[s.name][n]
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
	}
}
