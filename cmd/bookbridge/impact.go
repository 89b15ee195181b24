package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/staging"
)

func init() {
	register("mapping impact", "show what a rule file would change in every loaded record's plan (no ServiceNow call)", cmdMappingImpact)
	register("email reparse", "parse the kept emails of records again with the parser in use and apply what changes", cmdEmailReparse)
}

// parseStates reads --state: a comma-separated list of staging states.
func parseStates(s string) ([]staging.State, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []staging.State
	for _, p := range strings.Split(s, ",") {
		st := staging.State(strings.TrimSpace(p))
		if !st.Valid() {
			return nil, fmt.Errorf("--state: unknown state %q (states: %v)", st, staging.States())
		}
		out = append(out, st)
	}
	return out, nil
}

// compileRulesFile compiles a rule file as the server compiles its own,
// with the CLI's configuration (BOOKBRIDGE_RULE_PARAMS, BOOKBRIDGE_TIMEZONE).
func compileRulesFile(c *cli, path string) (*mapping.Rules, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError("--rules: %v", err)
	}
	r, err := app.CompileRules(cfg, path, data)
	if err != nil {
		return nil, usageError("--rules %s:\n%v", path, err)
	}
	return r, nil
}

func cmdMappingImpact(ctx context.Context, c *cli) error {
	fs := c.flags("mapping impact", "--rules NEW.yaml")
	rulesPath := fs.String("rules", "", "the changed rule file to compare with the rules in use (BOOKBRIDGE_RULES)")
	states := fs.String("state", "", "plan the records in these states, comma-separated (default: every record that has been loaded)")
	atNow := fs.Bool("now", false, "plan at the current time instead of each record's original load time")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := c.parse(fs); err != nil {
		return err
	}
	if *rulesPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError("mapping impact needs --rules NEW.yaml and no other argument")
	}
	sts, err := parseStates(*states)
	if err != nil {
		return usageError("%v", err)
	}
	next, err := compileRulesFile(c, *rulesPath)
	if err != nil {
		return err
	}
	a, err := c.openApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.Flow.Impact(ctx, next, bookbridge.ImpactOptions{States: sts, AtNow: *atNow})
	if err != nil {
		return usageError("impact: %v", err)
	}
	if *asJSON {
		if err := printJSON(c, rep); err != nil {
			return err
		}
	} else {
		printImpact(c.stdout, rep)
	}
	if rep.Failed > 0 {
		return silentExit(exitInvalid)
	}
	return nil
}

// printImpact writes an impact report for people.
func printImpact(w io.Writer, rep *bookbridge.ImpactReport) {
	when := "each record's load time"
	if rep.AtNow {
		when = "the current time"
	}
	fmt.Fprintf(w, "rules in use: %s (sha256 %s)\nnew rules:    %s (sha256 %s)\nplanned at %s\n",
		rep.Current.Name, rep.Current.Hash, rep.New.Name, rep.New.Hash, when)
	fmt.Fprintf(w, "%d record(s) checked, %d change, %d fail under the new rules\n", rep.Checked, rep.Changed, rep.Failed)
	for _, t := range rep.Tables {
		fmt.Fprintf(w, "  %s: %d row(s) added, %d no longer written\n", t.Table, t.RowsAdded, t.RowsNoLongerWritten)
		for _, f := range t.Fields {
			fmt.Fprintf(w, "    %-40s %d row(s) change\n", f.Field, f.Rows)
		}
	}
	for _, r := range rep.Records {
		fmt.Fprintf(w, "%s (%s, planned at %s):\n", r.Number, r.State, r.Now.Format("2006-01-02 15:04 MST"))
		if r.Error != "" {
			fmt.Fprintf(w, "  plan fails: %s\n", r.Error)
		}
		if r.CurrentError != "" {
			fmt.Fprintf(w, "  the rules in use fail: %s\n", r.CurrentError)
		}
		for _, row := range r.Added {
			fmt.Fprintf(w, "  + %s\n", row.Key)
		}
		for _, row := range r.NoLongerWritten {
			fmt.Fprintf(w, "  - %s (no longer written; a reload keeps it)\n", row.Key)
		}
		for _, f := range r.Fields {
			fmt.Fprintf(w, "  ~ %s %s: %s -> %s\n", f.Row, f.Field, shown(f.Old, f.OldSet), shown(f.New, f.NewSet))
		}
	}
}

func shown(v string, set bool) string {
	if !set {
		return "(not set)"
	}
	return fmt.Sprintf("%q", v)
}

// confirm asks question on a terminal; without one it refuses unless yes.
func (c *cli) confirm(question string, yes bool) error {
	if yes {
		return nil
	}
	if !isTerminal(c.stdin) {
		return usageError("%s: standard input is not a terminal to confirm on; pass --yes to reload without asking", question)
	}
	fmt.Fprintf(c.stdout, "%s [y/N] ", question)
	line, _ := bufio.NewReader(c.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return usageError("not confirmed: nothing was reloaded")
	}
	return nil
}

// reloadLoad is "load --reload": one record, or every record the impact
// of a rule file lists as changed. The reload uses the rules the CLI's
// own BOOKBRIDGE_RULES names.
func (c *cli) reloadLoad(ctx context.Context, number, impactOf string, dry, asJSON, yes bool, by string) error {
	a, err := c.openApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if impactOf != "" {
		return c.reloadImpact(ctx, a, impactOf, dry, asJSON, yes, by)
	}
	rec, err := a.Flow.FindRecord(ctx, number)
	if err != nil {
		return usageError("%v", err)
	}
	p, err := a.Flow.PreviewReload(ctx, rec)
	if err != nil {
		return usageError("dry run of the reload of %s: %v", rec.Number, err)
	}
	if asJSON && dry {
		return printJSON(c, p)
	}
	fmt.Fprintf(c.stdout, "reload of %s with rules %s (sha256 %s):\n", rec.Number, p.Rules.Name, p.Rules.Hash)
	fmt.Fprint(c.stdout, p.Diff.String())
	for _, r := range p.NoLongerWritten {
		fmt.Fprintf(c.stdout, "  kept, no longer written: %s\n", r.Key)
	}
	if dry {
		return nil
	}
	if err := c.confirm("reload "+rec.Number+" with these rules?", yes); err != nil {
		return err
	}
	rec, err = a.Flow.Reload(ctx, rec.ID, by, staging.Via("cli"))
	if err != nil {
		return usageError("reload of %s: %v", number, err)
	}
	if asJSON {
		return printJSON(c, rec.Load)
	}
	printLoadResult(c, a.Flow, rec)
	if rec.State != staging.StateLoaded {
		return silentExit(exitInvalid)
	}
	return nil
}

// reloadImpact shows the impact of rule file path against the plans the
// records were last loaded with, then reloads the records that change.
// The reload writes with the rules in use (BOOKBRIDGE_RULES), so they must
// be path's rules.
func (c *cli) reloadImpact(ctx context.Context, a *app.App, path string, dry, asJSON, yes bool, by string) error {
	next, err := compileRulesFile(c, path)
	if err != nil {
		return err
	}
	current := a.Flow.Rules()
	if err := a.Flow.CheckRulesInUse(bookbridge.RulesInfoOf(next)); err != nil {
		return usageError("--impact-of %s: BOOKBRIDGE_RULES names other rules (%s, sha256 %s); the reload writes with BOOKBRIDGE_RULES, so set it to %s first",
			path, current.Name(), current.Hash(), path)
	}
	rep, err := a.Flow.Impact(ctx, next, bookbridge.ImpactOptions{AgainstLastLoad: true})
	if err != nil {
		return usageError("impact: %v", err)
	}
	ids := rep.ReloadIDs()
	if asJSON && dry {
		return printJSON(c, rep)
	}
	printImpact(c.stdout, rep)
	if dry {
		return nil
	}
	if len(ids) == 0 {
		fmt.Fprintln(c.stdout, "no record changes: nothing to reload")
		return nil
	}
	if err := c.confirm(fmt.Sprintf("reload %d record(s) with rules %s?", len(ids), current.Name()), yes); err != nil {
		return err
	}
	out, err := a.Flow.ReloadImpact(ctx, rep, by, true)
	if err != nil {
		return usageError("reload: %v", err)
	}
	if asJSON {
		return printJSON(c, out)
	}
	code := exitOK
	for _, o := range out {
		line := fmt.Sprintf("%s: %s", o.Number, o.State)
		if o.Error != "" {
			line += " (" + o.Error + ")"
			code = exitInvalid
		}
		fmt.Fprintln(c.stdout, line)
	}
	if code != exitOK {
		return silentExit(code)
	}
	return nil
}

func cmdEmailReparse(ctx context.Context, c *cli) error {
	fs := c.flags("email reparse", "NUMBER... | --all")
	all := fs.Bool("all", false, "every record that holds a PH email")
	dry := fs.Bool("dry-run", false, "show what changes, write nothing")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	by := fs.String("by", "cli", "who re-parses (kept in the record's history)")
	if err := c.parse(fs); err != nil {
		return err
	}
	if *all == (fs.NArg() > 0) {
		fs.Usage()
		return usageError("email reparse needs record NUMBERs or --all, not both")
	}
	a, err := c.openApp(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	var ids []int64
	if *all {
		// The records in the states that allow a re-parse (staging's rule)
		// that hold an email.
		states := staging.AllowedFrom(staging.ActionReparseEmail)
		for after := int64(0); ; {
			page, err := a.Store.Scan(ctx, staging.ScanFilter{States: states, AfterID: after, Limit: 500})
			if err != nil {
				return usageError("listing records: %v", err)
			}
			for _, r := range page {
				if r.PH != nil {
					ids = append(ids, r.ID)
				}
			}
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
	} else {
		for _, n := range fs.Args() {
			rec, err := a.Flow.FindRecord(ctx, n)
			if err != nil {
				return usageError("%v", err)
			}
			ids = append(ids, rec.ID)
		}
	}
	var results []bookbridge.ReparseResult
	code := exitOK
	for _, id := range ids {
		res, err := a.Flow.Reparse(ctx, id, *dry, staging.By(*by), staging.Via("cli"))
		if err != nil {
			var te *staging.TransitionError
			if !errors.As(err, &te) && !phmail.IsRejection(err) {
				return usageError("%s: %v", res.Number, err)
			}
			fmt.Fprintf(c.stderr, "%s: not re-parsed: %v\n", res.Number, err)
			code = exitInvalid
			continue
		}
		results = append(results, res)
	}
	if *asJSON {
		if err := printJSON(c, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			state := "unchanged"
			switch {
			case r.Applied:
				state = "updated"
			case r.Changed():
				state = "would change (dry run)"
			}
			fmt.Fprintf(c.stdout, "%s (email %d): %s\n", r.Number, r.EmailID, state)
			for _, f := range r.Fields {
				fmt.Fprintf(c.stdout, "  %s: %q -> %q\n", f.Field, f.Old, f.New)
			}
			for _, f := range r.Attachments {
				fmt.Fprintf(c.stdout, "  file %s: %s\n", f.FileName, f.Change)
			}
			if r.ChangedSinceLoad {
				fmt.Fprintln(c.stdout, "  changed since load: it can be loaded again")
			}
		}
	}
	if code != exitOK {
		return silentExit(code)
	}
	return nil
}
