package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/examples"
	"github.com/bookbridge/bookbridge/staging"
)

func init() {
	register("demo", "run a demo server on SQLite with sample deals and emails staged (nothing to install)", cmdDemo)
}

func cmdDemo(ctx context.Context, c *cli) error {
	fs := c.flags("demo", "")
	dir := fs.String("dir", ".", "directory for the demo's two SQLite files (recreated on every run)")
	if err := c.parse(fs); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return usageError("%v", err)
	}
	dbPath := filepath.Join(*dir, "bookbridge-demo.db")
	targetPath := filepath.Join(*dir, "bookbridge-demo-target.db")
	for _, p := range []string{dbPath, targetPath} {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(p + suffix); err != nil && !os.IsNotExist(err) {
				return usageError("removing the previous demo database: %v", err)
			}
		}
	}
	// The demo's own settings win over the environment's, except where to
	// listen and how to log.
	getenv := func(k string) string {
		switch k {
		case "BOOKBRIDGE_DATABASE_URL":
			return dbPath
		case "BOOKBRIDGE_TARGET":
			return "sql"
		case "BOOKBRIDGE_TARGET_URL":
			return targetPath
		case "BOOKBRIDGE_CONFIG", "BOOKBRIDGE_RULES":
			return ""
		}
		return c.getenv(k)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return usageError("%v", err)
	}
	logFile, err := os.Create(filepath.Join(*dir, "bookbridge-demo.log"))
	if err != nil {
		return usageError("%v", err)
	}
	defer logFile.Close()
	log := newLogger(cfg, logFile)
	tuneGC(ctx, cfg.GCMinHeap, c.getenv, log)
	p, err := startProcess(ctx, cfg, app.Options{Logger: log, Work: true}, mountConsole)
	if err != nil {
		return usageError("%v", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			fmt.Fprintln(c.stderr, "demo: shutdown:", err)
		}
	}()
	base := "http://" + p.Addr
	d, err := stageDemo(ctx, p.App, base)
	if err != nil {
		return usageError("demo: %v", err)
	}
	w := c.stdout
	fmt.Fprintf(w, "bookbridge demo is running at %s/\n\n", base)
	fmt.Fprintf(w, "  console login:       %s / %s   (role admin)\n", d.user, d.password)
	fmt.Fprintf(w, "  API key (intake):    %s\n", d.intakeKey)
	fmt.Fprintf(w, "  API key (operator):  %s\n", d.operatorKey)
	fmt.Fprintf(w, "  database:            %s   (target tables: %s, log: %s)\n\n", dbPath, targetPath, logFile.Name())
	fmt.Fprintln(w, "staged records:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range d.records {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Number, s.State, s.CompanyName, s.Keys.ECCID)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntry:\n")
	fmt.Fprintf(w, "  curl -s -H 'X-API-Key: %s' %s/api/v1/records\n", d.operatorKey, base)
	fmt.Fprintf(w, "  curl -s -X POST -H 'X-API-Key: %s' '%s/api/v1/records/%s/load?dry_run=true'\n", d.operatorKey, base, d.ready)
	fmt.Fprintf(w, "  curl -s -X POST -H 'X-API-Key: %s' %s/api/v1/records/%s/load\n", d.operatorKey, base, d.ready)
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
	return p.Wait(ctx)
}

type demoData struct {
	user, password         string
	intakeKey, operatorKey string
	records                []staging.Summary
	ready                  string
}

// stageDemo creates the login and keys, posts the sample deals as
// Salesforce would and hands over the sample emails as a gateway would.
func stageDemo(ctx context.Context, a *app.App, base string) (*demoData, error) {
	d := &demoData{user: "demo", password: randomPassword()}
	if err := a.Auth.AddUser(ctx, d.user, d.password, auth.RoleAdmin); err != nil {
		return nil, err
	}
	var err error
	if d.intakeKey, err = a.Auth.CreateKey(ctx, "demo-salesforce", auth.RoleIntake); err != nil {
		return nil, err
	}
	if d.operatorKey, err = a.Auth.CreateKey(ctx, "demo-operator", auth.RoleOperator); err != nil {
		return nil, err
	}
	for _, s := range examples.Payloads() {
		out, err := sendPayload(ctx, http.DefaultClient, base+"/api/v1/deals", d.intakeKey, s.Data, 3, 30*time.Second, nil)
		if err != nil {
			return nil, fmt.Errorf("posting %s: %w", s.Name, err)
		}
		if out.Status != http.StatusCreated && out.Status != http.StatusOK {
			return nil, fmt.Errorf("posting %s: %d %s", s.Name, out.Status, out.Body)
		}
	}
	for _, s := range examples.Emails() {
		if strings.Contains(s.Name, "forward") {
			continue // the same data as ph-deal-full.eml, forwarded: it would be a second copy
		}
		acc, err := postEmail(ctx, base, d.intakeKey, s.Data)
		if err != nil {
			return nil, fmt.Errorf("posting %s: %w", s.Name, err)
		}
		if err := waitForJob(ctx, a, acc.JobID); err != nil {
			return nil, fmt.Errorf("processing %s: %w", s.Name, err)
		}
	}
	page, err := a.Store.List(ctx, staging.Filter{Limit: 50})
	if err != nil {
		return nil, err
	}
	d.records = page.Records
	for _, r := range page.Records {
		if r.State == staging.StateReady {
			d.ready = r.Number
		}
	}
	return d, nil
}

func postEmail(ctx context.Context, base, key string, raw []byte) (bookbridge.EmailAccepted, error) {
	var acc bookbridge.EmailAccepted
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/emails", bytes.NewReader(raw))
	if err != nil {
		return acc, err
	}
	req.Header.Set("Content-Type", "message/rfc822")
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return acc, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return acc, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return acc, json.Unmarshal(b, &acc)
}

// waitForJob waits (at most a minute) for a job to finish.
func waitForJob(ctx context.Context, a *app.App, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := a.Flow.Job(ctx, id)
		if err != nil {
			return err
		}
		switch st.State {
		case "completed":
			return nil
		case "discarded", "cancelled":
			return fmt.Errorf("job %d ended %s: %v", id, st.State, st.Errors)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("job %d still %s after a minute", id, st.State)
		case <-tick.C:
		}
	}
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))[:20]
}
