package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

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
	fs := c.flags("load", "NUMBER")
	dry := fs.Bool("dry-run", false, "show what the load would change, write nothing")
	asJSON := fs.Bool("json", false, "print the diff or result as JSON")
	by := fs.String("by", "cli", "who loads (kept in the record's history)")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("load needs one record NUMBER (such as BB0001001)")
	}
	a, err := c.openApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	rec, err := a.Flow.FindRecord(ctx, fs.Arg(0))
	if err != nil {
		return usageError("record %s: %v", fs.Arg(0), err)
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
		fmt.Fprint(c.stdout, p.Diff.String())
		return nil
	}
	rec, err = a.Flow.Load(ctx, rec.ID, *by, staging.Via("cli"))
	if err != nil {
		return usageError("load of %s: %v", fs.Arg(0), err)
	}
	if *asJSON {
		return printJSON(c, rec.Load)
	}
	fmt.Fprintf(c.stdout, "%s: %s\n", rec.Number, rec.State)
	if rec.Load.Error != "" {
		fmt.Fprintln(c.stdout, "error:", rec.Load.Error)
	}
	var res loader.Result
	if json.Unmarshal(rec.Load.Result, &res) == nil {
		for _, s := range res.Steps {
			fmt.Fprintf(c.stdout, "  %-12s %-32s %-10s %s\n", s.ID, s.Table, s.Outcome, s.TargetID)
		}
	}
	if rec.State != staging.StateLoaded {
		return silentExit(exitInvalid)
	}
	return nil
}

func printJSON(c *cli, v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
