package main

import (
	"context"
	"fmt"

	"github.com/bookbridge/bookbridge"
)

func init() {
	register("reconcile", "compare loaded records with the live target and list each drift (reads only)", cmdReconcile)
}

// cmdReconcile compares loaded records with the target. It exits 0 when
// every record checked is in sync (or its drift was acknowledged), 1 when
// some record drifted, 2 on usage errors, a record that cannot be
// checked, or a target that failed.
func cmdReconcile(ctx context.Context, c *cli) error {
	fs := c.flags("reconcile", "[NUMBER...]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := c.parse(fs); err != nil {
		return err
	}
	a, err := c.openApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	var opts bookbridge.ReconcileOptions
	for _, ref := range fs.Args() {
		rec, err := a.Flow.FindRecord(ctx, ref)
		if err != nil {
			return usageError("%v", err)
		}
		opts.Records = append(opts.Records, rec.ID)
	}
	report, err := a.Flow.Reconcile(ctx, opts)
	if err != nil {
		return usageError("reconcile: %v", err)
	}
	if *asJSON {
		if err := printJSON(c, report); err != nil {
			return err
		}
	} else {
		printReconcile(c, report)
	}
	switch {
	case report.Errors > 0:
		return silentExit(exitUsage)
	case report.Drifted > 0:
		return silentExit(exitInvalid)
	}
	return nil
}

func printReconcile(c *cli, r bookbridge.ReconcileReport) {
	for _, rec := range r.Records {
		switch rec.Status {
		case bookbridge.ReconcileError:
			fmt.Fprintf(c.stdout, "%s: error: %s\n", rec.Number, rec.Error)
			continue
		case bookbridge.ReconcileAcknowledged:
			fmt.Fprintf(c.stdout, "%s: acknowledged by %s at %s (%d drift(s))\n", rec.Number, rec.Acknowledged.By,
				rec.Acknowledged.At.UTC().Format("2006-01-02 15:04:05 UTC"), len(rec.Drifts))
		default:
			fmt.Fprintf(c.stdout, "%s: %s (%d rows)\n", rec.Number, rec.Status, rec.Rows)
		}
		for _, d := range rec.Drifts {
			step := d.Step
			if d.Label != "" {
				step = d.Label
			}
			fmt.Fprintf(c.stdout, "  %-20s %s (%s)\n", d.Kind, d, step)
		}
	}
	fmt.Fprintf(c.stdout, "%d record(s) checked: %d in sync, %d drifted, %d acknowledged, %d error(s); %d target calls (%d reads, %d attachment listings), no writes\n",
		len(r.Records), r.InSync, r.Drifted, r.Acknowledged, r.Errors, r.Calls.Total(), r.Calls.Get, r.Calls.Attachments)
}
