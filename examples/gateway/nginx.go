package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// tempDirs are the directories nginx writes request bodies and proxy
// buffers to; Start creates them under RuntimeDir.
var tempDirs = []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}

// Gateway is a running nginx started by Start.
type Gateway struct {
	cfg      Config
	confPath string
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
}

// Prepare creates RuntimeDir and its temporary directories and writes
// RuntimeDir/nginx.conf; it returns that file's path. The key and allowlist
// files must already be in ConfDir.
func Prepare(c Config) (string, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return "", err
	}
	for _, name := range []string{"api-keys.map", "allowlist.conf"} {
		if _, err := os.Stat(filepath.Join(c.ConfDir, name)); err != nil {
			return "", fmt.Errorf("gateway: %s is missing from ConfDir %s: write it with WriteKeys/WriteAllowlist or copy it from examples/gateway/nginx: %w", name, c.ConfDir, err)
		}
	}
	for _, d := range append([]string{""}, tempDirs...) {
		if err := os.MkdirAll(filepath.Join(c.RuntimeDir, d), 0o755); err != nil {
			return "", fmt.Errorf("gateway: creating the runtime directory: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := Render(&buf, c); err != nil {
		return "", err
	}
	confPath := filepath.Join(c.RuntimeDir, "nginx.conf")
	if err := os.WriteFile(confPath, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("gateway: writing nginx.conf: %w", err)
	}
	return confPath, nil
}

// Check prepares c and runs "nginx -t" on it, returning nginx's own words
// when the configuration is refused.
func Check(ctx context.Context, nginxPath string, c Config) error {
	c = c.WithDefaults()
	confPath, err := Prepare(c)
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, nginxPath, "-t", "-q", "-p", c.RuntimeDir, "-c", confPath, "-e", "stderr").CombinedOutput()
	if err != nil {
		return fmt.Errorf("gateway: nginx -t refused %s: %v\n%s", confPath, err, out)
	}
	return nil
}

// Start checks and starts nginx (in the foreground, in a process group of
// its own) on c and waits until it accepts connections on c.Listen, for at
// most 10 seconds. Stop ends it.
func Start(ctx context.Context, nginxPath string, c Config) (*Gateway, error) {
	c = c.WithDefaults()
	if err := Check(ctx, nginxPath, c); err != nil {
		return nil, err
	}
	confPath := filepath.Join(c.RuntimeDir, "nginx.conf")
	errLog := c.ErrorLog
	cmd := exec.Command(nginxPath, "-p", c.RuntimeDir, "-c", confPath, "-e", errLog, "-g", "daemon off;")
	setProcessGroup(cmd)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("gateway: starting nginx: %w", err)
	}
	g := &Gateway{cfg: c, confPath: confPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		g.waitErr = cmd.Wait()
		close(g.exited)
	}()

	deadline := time.Now().Add(10 * time.Second)
	for attempt := 0; attempt < 200; attempt++ {
		select {
		case <-g.exited:
			return nil, fmt.Errorf("gateway: nginx exited at start (%v): %s%s", g.waitErr, stderr.String(), g.ErrorLog())
		case <-ctx.Done():
			g.kill()
			return nil, ctx.Err()
		default:
		}
		conn, err := net.DialTimeout("tcp", c.Listen, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return g, nil
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.kill()
	return nil, fmt.Errorf("gateway: nginx did not accept connections on %s within 10s: %s", c.Listen, g.ErrorLog())
}

// Config returns the configuration the gateway runs with, defaults filled in.
func (g *Gateway) Config() Config { return g.cfg }

// Addr is the address the gateway listens on.
func (g *Gateway) Addr() string { return g.cfg.Listen }

// URL is the gateway's base URL, http:// or https://.
func (g *Gateway) URL() string {
	scheme := "http"
	if g.cfg.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + g.cfg.Listen
}

// ErrorLog returns the contents of nginx's error log (empty when it logs
// to stderr).
func (g *Gateway) ErrorLog() string {
	if g.cfg.ErrorLog == "stderr" {
		return ""
	}
	b, err := os.ReadFile(g.cfg.ErrorLog)
	if err != nil {
		return ""
	}
	return string(b)
}

// AccessLog returns the contents of nginx's access log.
func (g *Gateway) AccessLog() string {
	if g.cfg.AccessLog == "off" {
		return ""
	}
	b, err := os.ReadFile(g.cfg.AccessLog)
	if err != nil {
		return ""
	}
	return string(b)
}

// Stop asks nginx to shut down fast (SIGTERM to the master it started) and
// waits until it has exited; when ctx ends first, it kills the process
// group that Start created.
func (g *Gateway) Stop(ctx context.Context) error {
	select {
	case <-g.exited:
		return nil
	default:
	}
	if err := terminate(g.cmd); err != nil && !errors.Is(err, os.ErrProcessDone) {
		g.kill()
	}
	select {
	case <-g.exited:
		return nil
	case <-ctx.Done():
		g.kill()
		<-g.exited
		return fmt.Errorf("gateway: nginx did not stop in time and was killed: %w", ctx.Err())
	}
}

func (g *Gateway) kill() {
	killGroup(g.cmd)
}

// Reload asks the running nginx to re-read its configuration and the key
// and allowlist files (SIGHUP), as an operator does after editing them.
func (g *Gateway) Reload() error {
	if _, err := Prepare(g.cfg); err != nil {
		return err
	}
	return reload(g.cmd)
}

// String describes the gateway for logs.
func (g *Gateway) String() string {
	return fmt.Sprintf("nginx gateway %s -> %s (%s)", g.URL(), g.cfg.Upstream, strings.TrimSpace(g.confPath))
}
