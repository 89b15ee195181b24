package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/staging"
)

func init() {
	register("ingest", "process PH emails (.eml files) into the staging store now", cmdIngest)
	register("load", "load a staged record into the target now (or --dry-run to preview)", cmdLoad)
}

// openApp opens the whole app for a command that works in-process.
func (c *cli) openApp(ctx context.Context) (*app.App, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	if err := c.requireDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, cfg, app.Options{Logger: c.logger(cfg)})
	if err != nil {
		return nil, usageError("%v", err)
	}
	return a, nil
}

func cmdIngest(ctx context.Context, c *cli) error {
	fs := c.flags("ingest", "FILE.eml...")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("ingest needs at least one FILE.eml")
	}
	a, err := c.openApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	code := exitOK
	for _, file := range fs.Args() {
		raw, err := os.ReadFile(file)
		if err != nil {
			return usageError("%v", err)
		}
		res, err := a.Flow.ProcessEmail(ctx, raw, "cli")
		if err != nil {
			return usageError("%s: %v", file, err)
		}
		line := fmt.Sprintf("%s: %s", file, res.Outcome)
		if res.Number != "" {
			line += " -> " + res.Number
		}
		if res.Detail != "" {
			line += " (" + res.Detail + ")"
		}
		fmt.Fprintln(c.stdout, line)
		if res.Outcome == "not_ph" || res.Outcome == string(staging.EmailQuarantined) {
			code = exitInvalid
		}
	}
	if code != exitOK {
		return silentExit(code)
	}
	return nil
}

func cmdLoad(ctx context.Context, c *cli) error {
	fs := c.flags("load", "NUMBER | --retry-failed")
	dry := fs.Bool("dry-run", false, "show what the load would change (with --retry-failed: which loads), write nothing")
	asJSON := fs.Bool("json", false, "print the diff or result as JSON")
	by := fs.String("by", "cli", "who loads (kept in the record's history)")
	retryFailed := fs.Bool("retry-failed", false, "load every load_failed record again now, each resuming from its journal")
	olderThan := fs.Duration("older-than", 0, "with --retry-failed: only loads that failed at least this long ago, such as 1h")
	errorText := fs.String("error-contains", "", "with --retry-failed: only loads whose failure reason contains this text")
	reload := fs.Bool("reload", false, "load a loaded record again with the rules in use (BOOKBRIDGE_RULES); asks first on a terminal")
	impactOf := fs.String("impact-of", "", "with --reload: show the impact of this rule file (which BOOKBRIDGE_RULES must name), then reload every record it changes")
	yes := fs.Bool("yes", false, "with --reload: do not ask for confirmation")
	if err := c.parse(fs); err != nil {
		return err
	}
	if *impactOf != "" && !*reload {
		return usageError("--impact-of needs --reload")
	}
	if *reload {
		switch {
		case *retryFailed:
			return usageError("--reload and --retry-failed do not go together")
		case *impactOf == "" && fs.NArg() != 1:
			fs.Usage()
			return usageError("load --reload needs one record NUMBER, or --impact-of NEW.yaml")
		case *impactOf != "" && fs.NArg() != 0:
			return usageError("load --reload --impact-of takes no record NUMBER")
		}
		return c.reloadLoad(ctx, fs.Arg(0), *impactOf, *dry, *asJSON, *yes, *by)
	}
	if *retryFailed {
		if fs.NArg() != 0 {
			fs.Usage()
			return usageError("load --retry-failed takes no record NUMBER")
		}
		return c.retryFailedLoads(ctx, bookbridge.RetryFilter{OlderThan: *olderThan, ErrorContains: *errorText}, *dry, *asJSON, *by)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("load needs one record NUMBER (such as BB0001001), or --retry-failed")
	}
	a, err := c.openApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	rec, err := a.Flow.FindRecord(ctx, fs.Arg(0))
	if err != nil {
		return usageError("%v", err)
	}
	if *dry {
		p, err := a.Flow.Preview(ctx, rec)
		if err != nil {
			return usageError("dry run of %s: %v", rec.Number, err)
		}
		if *asJSON {
			return printJSON(c, p)
		}
		if !p.Loadable {
			fmt.Fprintf(c.stdout, "note: %s cannot be loaded now: %s\n", rec.Number, p.Reason)
		}
		printProgress(c, p.Progress)
		fmt.Fprint(c.stdout, p.Diff.String())
		return nil
	}
	if rec.State == staging.StateLoading {
		printLoading(c, a.Flow, rec)
		return silentExit(exitInvalid)
	}
	rec, err = a.Flow.Load(ctx, rec.ID, *by, staging.Via("cli"))
	if err != nil {
		return usageError("load of %s: %v", fs.Arg(0), err)
	}
	if *asJSON {
		return printJSON(c, rec.Load)
	}
	printLoadResult(c, a.Flow, rec)
	if rec.State != staging.StateLoaded {
		return silentExit(exitInvalid)
	}
	return nil
}

// printLoadResult prints the state a load left a record in, its steps,
// and for a failed load what it had written already.
func printLoadResult(c *cli, flow *bookbridge.Flow, rec *staging.Record) {
	fmt.Fprintf(c.stdout, "%s: %s\n", rec.Number, rec.State)
	if rec.Load.Error != "" {
		fmt.Fprintln(c.stdout, "error:", rec.Load.Error)
	}
	var res loader.Result
	if json.Unmarshal(rec.Load.Result, &res) == nil {
		for _, s := range res.Steps {
			name := s.ID
			if s.Label != "" {
				name = s.Label
			}
			fmt.Fprintf(c.stdout, "  %-44s %-32s %-10s %s\n", name, s.Table, s.Outcome, s.TargetID)
		}
	}
	printProgress(c, flow.Progress(rec))
}

// printLoading says what a load under way is doing.
func printLoading(c *cli, flow *bookbridge.Flow, rec *staging.Record) {
	l := rec.Load
	if l.Retrying() {
		fmt.Fprintf(c.stdout, "%s: loading, retrying after %d passing failure(s); next try at %s\nlast failure: %s\n",
			rec.Number, l.Retries, l.NextTryAt.UTC().Format("2006-01-02 15:04:05 UTC"), l.Error)
		fmt.Fprintln(c.stdout, "the load goes on by itself; the console and the API can retry it now or stop retrying")
	} else {
		fmt.Fprintf(c.stdout, "%s: loading since %s (attempt %d); wait for it to finish\n", rec.Number, l.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"), l.Attempts)
	}
	printProgress(c, flow.Progress(rec))
}

// printProgress lists the partial writes of a load that has not finished.
func printProgress(c *cli, p *bookbridge.LoadProgress) {
	if p == nil {
		return
	}
	fmt.Fprintf(c.stdout, "already written in the target (%d):\n", len(p.Written))
	for _, w := range p.Written {
		what := w.TargetID
		if w.Op == loader.OpAttach {
			what = w.FileName + " on " + w.TargetID
		}
		fmt.Fprintf(c.stdout, "  %-44s %-8s %-32s %s\n", cmp.Or(w.Label, w.Step), w.Op, w.Table, what)
	}
	fmt.Fprintf(c.stdout, "still to do (%d):\n", len(p.Pending))
	for _, s := range p.Pending {
		fmt.Fprintf(c.stdout, "  %-44s %s\n", cmp.Or(s.Label, s.ID), s.Table)
	}
}

// retryFailedLoads loads the load_failed records that match f again, now,
// one after the other; each resumes from its journal when its plan is
// unchanged. With dry it lists them.
func (c *cli) retryFailedLoads(ctx context.Context, f bookbridge.RetryFilter, dry, asJSON bool, by string) error {
	a, err := c.openApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	failed, err := a.Flow.FailedLoads(ctx, f)
	if err != nil {
		return usageError("listing failed loads: %v", err)
	}
	if dry {
		if asJSON {
			return printJSON(c, failed)
		}
		fmt.Fprintf(c.stdout, "%d failed load(s) would be loaded again:\n", len(failed))
		for _, l := range failed {
			fmt.Fprintf(c.stdout, "  %s  %s  failed %s: %s\n", l.Number, l.Company, l.FailedAt.UTC().Format("2006-01-02 15:04 UTC"), l.Error)
		}
		return nil
	}
	code := exitOK
	for _, l := range failed {
		rec, err := a.Flow.Load(ctx, l.ID, by, staging.Via("cli"))
		if err != nil {
			fmt.Fprintf(c.stdout, "%s: not loaded: %v\n", l.Number, err)
			code = exitInvalid
			continue
		}
		fmt.Fprintf(c.stdout, "%s: %s\n", rec.Number, rec.State)
		if rec.State != staging.StateLoaded {
			fmt.Fprintln(c.stdout, "  error:", rec.Load.Error)
			code = exitInvalid
		}
	}
	fmt.Fprintf(c.stdout, "%d failed load(s) tried again\n", len(failed))
	if code != exitOK {
		return silentExit(code)
	}
	return nil
}

func printJSON(c *cli, v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
