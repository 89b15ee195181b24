// Command intakebench measures bookbridge's deal intake against a floor: a
// minimal Go + pgx handler that only inserts the raw JSON. Both run as
// separate processes on the same Postgres, on loopback, and are loaded in
// turn by the same client with the full example deal (a new Salesforce id
// per request), at each connection count, for a bounded time.
//
//	go run ./cmd/intakebench -db postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//
// It prints requests per second, the 50th and 99th percentile latency and
// the CPU time per request of the server process and of Postgres (read from
// /proc on Linux; "-" elsewhere) of each, and bookbridge's throughput as a
// share of the floor's: best round against best round, then round by round
// with the median (in a round the two ran one after the other, the floor
// first in odd rounds and bookbridge first in even ones), then all rounds
// together. CPU per request varies less than throughput when other
// work shares the machine. Where the machine's speed drifts, many short
// rounds give the steadier figures:
//
//	go run ./cmd/intakebench -conns 16 -rounds 30 -duration 3s -warmup 1s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "floor-server" {
		if err := runFloorServer(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "floor-server:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "intakebench:", err)
		os.Exit(2)
	}
}

type options struct {
	db         string
	duration   time.Duration
	warmup     time.Duration
	conns      []int
	rounds     int
	payload    string
	bookbridge string
	logLevel   string
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("intakebench", flag.ContinueOnError)
	var o options
	var conns string
	fs.StringVar(&o.db, "db", envOr("BOOKBRIDGE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "Postgres URL (loopback); each server gets a fresh schema")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per server and connection count")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.StringVar(&conns, "conns", "16,64", "comma-separated connection counts")
	fs.IntVar(&o.rounds, "rounds", 2, "rounds (up to 30); servers alternate within each round to even out drift, and many short rounds even it out best")
	fs.StringVar(&o.payload, "payload", "examples/payloads/deal-full.json", "deal to post (its Id is replaced per request)")
	fs.StringVar(&o.bookbridge, "bookbridge", "", "bookbridge binary (default: go build ./cmd/bookbridge into a temporary directory)")
	fs.StringVar(&o.logLevel, "log-level", "info", "bookbridge's BOOKBRIDGE_LOG_LEVEL during the run (info writes an access log line per request)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, c := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 512 {
			return fmt.Errorf("-conns: %q is not a count from 1 to 512", c)
		}
		o.conns = append(o.conns, n)
	}
	if o.duration <= 0 || o.duration > 10*time.Minute || o.rounds < 1 || o.rounds > 30 {
		return fmt.Errorf("-duration must be in (0, 10m] and -rounds in [1, 30]")
	}
	if err := checkLoopback(o.db); err != nil {
		return err
	}
	body, err := os.ReadFile(o.payload)
	if err != nil {
		return err
	}
	gen, err := newDealGenerator(body)
	if err != nil {
		return err
	}
	servers, cleanup, err := startServers(ctx, o)
	defer cleanup()
	if err != nil {
		return err
	}
	results := map[string]map[int][]result{}
	for round := 1; round <= o.rounds; round++ {
		for _, n := range o.conns {
			for _, s := range inTurn(servers, round) {
				if err := ctx.Err(); err != nil {
					return err
				}
				load(ctx, s, gen, n, o.warmup)
				r := load(ctx, s, gen, n, o.duration)
				fmt.Fprintf(os.Stderr, "round %d  %-10s %3d conns  %s\n", round, s.name, n, r)
				if results[s.name] == nil {
					results[s.name] = map[int][]result{}
				}
				results[s.name][n] = append(results[s.name][n], r)
			}
		}
	}
	report(os.Stdout, o, servers, results)
	return nil
}

// inTurn returns the servers in the order they run in round: as given in
// odd rounds, reversed in even ones. Were one always second, a machine that
// slows down over the run would count against it in every round.
func inTurn(servers []target, round int) []target {
	if round%2 == 1 {
		return servers
	}
	r := slices.Clone(servers)
	slices.Reverse(r)
	return r
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
