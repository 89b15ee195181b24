package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/bookbridge/bookbridge/sfdc"
)

func init() {
	register("validate", "check Salesforce deal payloads (JSON files) and print every problem", cmdValidate)
}

// validateReport is one file's result in --json output.
type validateReport struct {
	File     string         `json:"file"`
	Valid    bool           `json:"valid"`
	Error    string         `json:"error,omitempty"`
	Problems []sfdc.Problem `json:"problems,omitempty"`
}

func cmdValidate(ctx context.Context, c *cli) error {
	fs := c.flags("validate", "FILE...")
	asJSON := fs.Bool("json", false, "print the results as JSON (path, rule, message per problem)")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("validate needs at least one FILE")
	}
	code := exitOK
	var reports []validateReport
	for _, file := range fs.Args() {
		rep := validateReport{File: file}
		data, err := os.ReadFile(file)
		if err != nil {
			return usageError("%v", err)
		}
		// The intake's own check: every problem at once, wrong types included.
		_, err = sfdc.DecodeAndValidate[sfdc.Opportunity](data)
		var ve *sfdc.ValidationError
		switch {
		case err == nil:
			rep.Valid = true
		case errors.As(err, &ve):
			rep.Problems = ve.Problems
		default:
			rep.Error = err.Error()
		}
		if !rep.Valid {
			code = exitInvalid
		}
		reports = append(reports, rep)
		if !*asJSON {
			printValidateReport(c, rep)
		}
	}
	if *asJSON {
		if err := printJSON(c, reports); err != nil {
			return usageError("%v", err)
		}
	}
	if code != exitOK {
		return silentExit(code)
	}
	return nil
}

func printValidateReport(c *cli, rep validateReport) {
	switch {
	case rep.Valid:
		fmt.Fprintf(c.stdout, "%s: valid\n", rep.File)
	case rep.Error != "":
		fmt.Fprintf(c.stdout, "%s: invalid: %s\n", rep.File, rep.Error)
	default:
		fmt.Fprintf(c.stdout, "%s: %d problem(s)\n", rep.File, len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintf(c.stdout, "  %s: %s [%s]\n", p.Path, p.Message, p.Rule)
		}
	}
}
