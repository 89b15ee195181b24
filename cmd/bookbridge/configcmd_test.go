package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestConfigDump(t *testing.T) {
	env := map[string]string{"BOOKBRIDGE_DATABASE_URL": "postgres://bb:hunter2@db/bb", "BOOKBRIDGE_IMAP_PASSWORD": "pw"}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"config", "dump"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	if err != nil {
		t.Fatal(err, errb.String())
	}
	s := out.String()
	if !strings.Contains(s, "BOOKBRIDGE_DATABASE_URL=postgres://bb:xxxxx@db/bb") || !strings.Contains(s, "BOOKBRIDGE_IMAP_PASSWORD=(set)") || strings.Contains(s, "hunter2") {
		t.Fatalf("dump:\n%s", s)
	}
	env["BOOKBRIDGE_TARGET"] = "nowhere"
	out.Reset()
	err = run(context.Background(), []string{"config", "dump"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "BOOKBRIDGE_TARGET") {
		t.Fatalf("bad config: %v", err)
	}
}
