package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{
		"-listen", "0.0.0.0:443", "-upstream", "127.0.0.1:8080",
		"-conf-dir", "/etc/bookbridge-gateway", "-runtime-dir", "/var/lib/bookbridge-gateway",
		"-cert", "/etc/bookbridge-gateway/tls/fullchain.pem", "-key", "/etc/bookbridge-gateway/tls/privkey.pem",
		"-rate", "5r/s", "-burst", "-1",
	}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"listen 0.0.0.0:443 ssl;",
		"server 127.0.0.1:8080;",
		"include /etc/bookbridge-gateway/api-keys.map;",
		"rate=5r/s;",
		"limit_req zone=bookbridge_per_key;",
		"ssl_protocols TLSv1.2 TLSv1.3;",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"-listen", "443"}, &out, &errOut); code != 2 {
		t.Errorf("bad flags: exit %d, want 2", code)
	}
	for _, field := range []string{"Listen", "Upstream", "ConfDir", "RuntimeDir"} {
		if !strings.Contains(errOut.String(), field) {
			t.Errorf("the error does not name %s: %s", field, errOut.String())
		}
	}
	if out.Len() != 0 {
		t.Errorf("wrote a config for bad flags")
	}
}
