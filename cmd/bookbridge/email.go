package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/bookbridge/bookbridge/phmail"
)

func init() {
	register("email parse", "parse Provisioning Hub emails (.eml files) and print their fields and attachments", cmdEmailParse)
}

// emailReport is one file's result in --json output.
type emailReport struct {
	File    string          `json:"file"`
	Parsed  bool            `json:"parsed"`
	Reason  string          `json:"reason,omitempty"`
	Kind    string          `json:"kind,omitempty"`
	Missing []string        `json:"missing,omitempty"`
	Message *phmail.Message `json:"message,omitempty"`
}

func cmdEmailParse(ctx context.Context, c *cli) error {
	fs := c.flags("email parse", "FILE.eml...")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("email parse needs at least one FILE.eml")
	}
	code := exitOK
	var reports []emailReport
	for _, file := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return usageError("%v", err)
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return usageError("%v", err)
		}
		m, err := phmail.Parse(raw)
		rep := emailReport{File: file, Parsed: err == nil, Message: m}
		if err != nil {
			code = exitInvalid
			rep.Reason, rep.Kind = err.Error(), rejectionKind(err)
			var mf *phmail.MissingFieldsError
			if errors.As(err, &mf) {
				rep.Missing = mf.Labels
			}
		}
		reports = append(reports, rep)
		if !*asJSON {
			printEmailReport(c, rep)
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

func rejectionKind(err error) string {
	var (
		mf *phmail.MissingFieldsError
		le *phmail.LimitError
		me *phmail.MalformedError
	)
	switch {
	case errors.Is(err, phmail.ErrNotPH):
		return "not_ph"
	case errors.As(err, &mf):
		return "missing_fields"
	case errors.As(err, &le):
		return "limit"
	case errors.As(err, &me):
		return "malformed"
	}
	return "error"
}

func printEmailReport(c *cli, rep emailReport) {
	w := c.stdout
	if rep.Parsed {
		fmt.Fprintf(w, "%s: parsed\n", rep.File)
	} else {
		fmt.Fprintf(w, "%s: rejected (%s): %s\n", rep.File, rep.Kind, rep.Reason)
		for _, l := range rep.Missing {
			fmt.Fprintf(w, "  missing: %s\n", l)
		}
	}
	m := rep.Message
	if m == nil {
		return
	}
	fields := m.Fields()
	keys := []string{phmail.FieldMessageID, phmail.FieldFrom, phmail.FieldDate, phmail.FieldSubject,
		phmail.FieldCompanyName, phmail.FieldDRNumber, phmail.FieldECCID, phmail.FieldSalesOrderNumber,
		phmail.FieldDeployToEmail, phmail.FieldTenantID, phmail.FieldIMSOrgID, phmail.FieldTicketLink}
	for _, k := range keys {
		if v, ok := fields[k]; ok {
			fmt.Fprintf(w, "  %-19s %s\n", k+":", v)
		}
	}
	fmt.Fprintf(w, "  %-19s %s\n", "content_sha256:", m.ContentHash)
	for _, a := range m.Attachments {
		state := "usable"
		if !a.Usable {
			state = "NOT USABLE"
		}
		kind := ""
		if a.PDF {
			kind = " pdf"
		}
		fmt.Fprintf(w, "  attachment: %s  %s  %d bytes  sha256=%s%s %s\n", a.FileName, a.ContentType, a.Size, a.SHA256, kind, state)
		for _, warn := range a.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", warn)
		}
	}
	for _, warn := range slices.Clip(m.Warnings) {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}
