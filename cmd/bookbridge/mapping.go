package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/bookbridge/bookbridge/mapping"
	"github.com/bookbridge/bookbridge/phmail"
	"github.com/bookbridge/bookbridge/sfdc"
)

func init() {
	register("mapping check", "compile mapping rule files and print every problem as FILE:LINE:COL: message", cmdMappingCheck)
	register("mapping plan", "print the load plan a rule file makes of a payload (and PH email) as JSON", cmdMappingPlan)
}

// paramFlags collects repeated --param NAME=VALUE flags.
type paramFlags map[string]string

func (p paramFlags) String() string {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (p paramFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	p[strings.TrimSpace(k)] = v
	return nil
}

func cmdMappingCheck(ctx context.Context, c *cli) error {
	fs := c.flags("mapping check", "FILE...")
	params := paramFlags{}
	fs.Var(params, "param", "set a rule param, NAME=VALUE (repeatable); needed for params without a default")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("mapping check needs at least one rule FILE")
	}
	code := exitOK
	for _, file := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return usageError("%v", err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return usageError("%v", err)
		}
		r, err := mapping.Compile(file, data, mapping.WithParams(params))
		var ce *mapping.CompileError
		switch {
		case err == nil:
			fmt.Fprintf(c.stdout, "%s: ok (%d steps: %s)\n", file, len(r.Steps()), strings.Join(r.Steps(), ", "))
		case errors.As(err, &ce):
			code = exitInvalid
			for _, p := range ce.Problems {
				fmt.Fprintln(c.stdout, p.String())
			}
		default:
			return usageError("%v", err)
		}
	}
	if code != exitOK {
		return silentExit(code)
	}
	return nil
}

func cmdMappingPlan(ctx context.Context, c *cli) error {
	fs := c.flags("mapping plan", "")
	rulesFile := fs.String("rules", "", "the mapping rule file (required)")
	payloadFile := fs.String("payload", "", "the Salesforce deal payload, a JSON file (required)")
	emailFile := fs.String("email", "", "a Provisioning Hub email (.eml): its fields and attachments join the record")
	phFile := fs.String("ph", "", "a JSON object of PH fields (company_name, deploy_to_email, ...); overrides --email's")
	nowText := fs.String("now", "", "the load time, RFC 3339 (default: the current time)")
	record := fs.String("record", "PREVIEW", "the staged record number the plan names")
	params := paramFlags{}
	fs.Var(params, "param", "set a rule param, NAME=VALUE (repeatable)")
	if err := c.parse(fs); err != nil {
		return err
	}
	if *rulesFile == "" || *payloadFile == "" || fs.NArg() > 0 {
		fs.Usage()
		return usageError("mapping plan needs --rules FILE and --payload FILE and no other arguments")
	}
	now := time.Now().UTC()
	if *nowText != "" {
		t, err := time.Parse(time.RFC3339, *nowText)
		if err != nil {
			return usageError("--now: %q is not an RFC 3339 time such as 2026-12-07T09:30:00Z", *nowText)
		}
		now = t
	}
	rules, err := mapping.LoadFile(*rulesFile, mapping.WithParams(params))
	if err != nil {
		var ce *mapping.CompileError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				fmt.Fprintln(c.stderr, p.String())
			}
			return silentExit(exitInvalid)
		}
		return usageError("%v", err)
	}
	in := mapping.Input{Now: now, Record: mapping.RecordInfo{ID: *record, Number: *record, State: "preview"}}
	if in.SFDC, err = readPayload(c, *payloadFile); err != nil {
		return err
	}
	if *emailFile != "" {
		raw, err := os.ReadFile(*emailFile)
		if err != nil {
			return usageError("%v", err)
		}
		m, err := phmail.Parse(raw)
		if m == nil {
			return usageError("--email %s: %v", *emailFile, err)
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "warning: %s: %v\n", *emailFile, err)
		}
		in.PH = m.Fields()
		for i, a := range m.Attachments {
			in.Record.Attachments = append(in.Record.Attachments, mapping.AttachmentInfo{
				ID: fmt.Sprintf("email-%d", i+1), FileName: a.FileName, ContentType: a.ContentType,
				SHA256: a.SHA256, Size: a.Size, Usable: a.Usable, Warnings: a.Warnings,
			})
		}
	}
	if *phFile != "" {
		data, err := os.ReadFile(*phFile)
		if err != nil {
			return usageError("%v", err)
		}
		var ph map[string]string
		if err := json.Unmarshal(data, &ph); err != nil {
			return usageError("--ph %s: want a JSON object of text fields: %v", *phFile, err)
		}
		if in.PH == nil {
			in.PH = map[string]string{}
		}
		for k, v := range ph {
			in.PH[k] = v
		}
	}
	plan, err := rules.Plan(in)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return silentExit(exitInvalid)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(plan); err != nil {
		return usageError("%v", err)
	}
	_, err = c.stdout.Write(buf.Bytes())
	return err
}

// readPayload decodes a payload strictly (sfdc.Decode) and reports
// validation problems on stderr without stopping: a plan of an invalid
// payload is still worth seeing.
func readPayload(c *cli, file string) (map[string]any, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, usageError("%v", err)
	}
	d, err := sfdc.Decode[sfdc.Opportunity](raw)
	if err != nil {
		return nil, usageError("--payload %s: %v", file, err)
	}
	var ve *sfdc.ValidationError
	if err := sfdc.Validate(&d.Value); errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintf(c.stderr, "warning: %s: %s: %s\n", file, p.Path, p.Message)
		}
	}
	m, err := mapping.SFDCFromJSON(raw)
	if err != nil {
		return nil, usageError("--payload %s: %v", file, err)
	}
	return m, nil
}
