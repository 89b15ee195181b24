package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
)

// help is what a command's usage shows beside its flags.
type help struct {
	examples []string
	// more, when set, writes a further section (serve: the settings).
	more func(w io.Writer)
}

// helps holds every command's examples; a test checks each registered
// command has one.
var helps = map[string]help{
	"demo":        {examples: []string{"bookbridge demo --dir /tmp/bb-demo"}},
	"serve":       {examples: []string{"BOOKBRIDGE_DATABASE_URL=postgres://bb@127.0.0.1:5432/bb bookbridge serve"}, more: printSettings},
	"migrate":     {examples: []string{"BOOKBRIDGE_DATABASE_URL=/var/lib/bookbridge/bookbridge.db bookbridge migrate"}},
	"validate":    {examples: []string{"bookbridge validate --json examples/payloads/deal-full.json"}},
	"send":        {examples: []string{"BOOKBRIDGE_API_KEY=bbk_... bookbridge send --url http://127.0.0.1:8080/api/v1/deals examples/payloads/deal-full.json"}},
	"email parse": {examples: []string{"bookbridge email parse examples/emails/ph-deal-full.eml"}},
	"ingest":      {examples: []string{"bookbridge ingest examples/emails/ph-deal-full.eml"}},
	"load": {examples: []string{"bookbridge load --dry-run BB0001002", "bookbridge load BB0001002", "bookbridge load --retry-failed --older-than 1h --dry-run",
		"bookbridge load --reload --dry-run BB0001002", "BOOKBRIDGE_RULES=examples/mappings/reference-next.yaml bookbridge load --reload --impact-of examples/mappings/reference-next.yaml"}},
	"mapping impact": {examples: []string{"bookbridge mapping impact --rules examples/mappings/reference-next.yaml", "bookbridge mapping impact --rules NEW.yaml --state loaded,load_failed --now --json"}},
	"email reparse":  {examples: []string{"bookbridge email reparse --dry-run BB0001002", "bookbridge email reparse --all"}},
	"mapping check":  {examples: []string{"bookbridge mapping check examples/mappings/*.yaml"}},
	"mapping plan": {examples: []string{"bookbridge mapping plan --rules examples/mappings/reference.yaml " +
		"--payload examples/payloads/deal-full.json --email examples/emails/ph-deal-full.eml --now 2026-12-07T09:30:00Z"}},
	"apikey create": {examples: []string{"bookbridge apikey create salesforce-prod --role intake"}},
	"apikey list":   {examples: []string{"bookbridge apikey list"}},
	"apikey revoke": {examples: []string{"bookbridge apikey revoke salesforce-old"}},
	"user add":      {examples: []string{"bookbridge user add olga --role operator --password-file olga.pw"}},
	"user list":     {examples: []string{"bookbridge user list"}},
	"user set":      {examples: []string{"bookbridge user set olga --role admin"}},
	"user disable":  {examples: []string{"bookbridge user disable olga"}},
	"user enable":   {examples: []string{"bookbridge user enable olga"}},
	"user remove":   {examples: []string{"bookbridge user remove olga"}},
	"config dump":   {examples: []string{"BOOKBRIDGE_CONFIG=bookbridge.yaml bookbridge config dump"}},
	"reconcile":     {examples: []string{"bookbridge reconcile", "bookbridge reconcile --json BB0001002 BB0001003"}},
}

// servesLogs reports whether the command is a server, which logs at
// BOOKBRIDGE_LOG_LEVEL always; the others are one-shot commands that log
// warnings and errors only unless -v.
func servesLogs(name string) bool { return name == "serve" || name == "demo" }

// printCommandUsage writes the usage of the command name: its arguments,
// what it does, its flags and its examples.
func printCommandUsage(w io.Writer, fs *flag.FlagSet, name, argsUsage string) {
	flags := 0
	fs.VisitAll(func(*flag.Flag) { flags++ })
	line := "usage: bookbridge " + name
	if flags > 0 {
		line += " [flags]"
	}
	if argsUsage != "" {
		line += " " + argsUsage
	}
	fmt.Fprintln(w, line)
	if cmd, ok := commands[name]; ok {
		fmt.Fprintf(w, "\n%s\n", cmd.summary)
	}
	if flags > 0 {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	h := helps[name]
	if len(h.examples) > 0 {
		fmt.Fprintln(w, "\nexample:")
		for _, ex := range h.examples {
			fmt.Fprintf(w, "  %s\n", ex)
		}
	}
	fmt.Fprintln(w)
	if h.more != nil {
		h.more(w)
		return
	}
	fmt.Fprintln(w, "Settings come from BOOKBRIDGE_* variables (bookbridge serve --help lists them); bookbridge config dump prints them.")
}

// printSettings lists every setting with its default, for serve's usage.
func printSettings(w io.Writer) {
	fmt.Fprintln(w, "settings (environment variables, or keys of the BOOKBRIDGE_CONFIG file; bookbridge config dump prints the effective values):")
	for _, s := range config.Settings() {
		def := s.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(w, "  %s=%s\n      %s\n", s.Env, def, s.Doc)
	}
}
