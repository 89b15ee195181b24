// Command render-gateway writes the nginx.conf of bookbridge's gateway from
// examples/gateway/nginx/gateway.conf.tmpl, for an operator who runs nginx
// as the gateway in front of bookbridge.
//
//	go run ./examples/gateway/cmd/render-gateway \
//	    -listen 0.0.0.0:443 -upstream 127.0.0.1:8080 \
//	    -conf-dir /etc/bookbridge-gateway -runtime-dir /var/lib/bookbridge-gateway \
//	    -user www-data -cert /etc/bookbridge-gateway/tls/fullchain.pem \
//	    -key /etc/bookbridge-gateway/tls/privkey.pem > /etc/bookbridge-gateway/nginx.conf
//
// With -check NGINX it also creates the runtime directory and runs
// "NGINX -t" on the result. Exit status: 0 done, 1 refused by nginx, 2 bad
// flags or config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bookbridge/bookbridge/examples/gateway"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render-gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c gateway.Config
	var cert, key, clientCA, check string
	fs.StringVar(&c.Listen, "listen", "", "address nginx listens on, host:port (required)")
	fs.StringVar(&c.Upstream, "upstream", "", "bookbridge's address, host:port (required)")
	fs.StringVar(&c.ConfDir, "conf-dir", "", "absolute directory with api-keys.map and allowlist.conf (required)")
	fs.StringVar(&c.RuntimeDir, "runtime-dir", "", "absolute directory for the pid file and temporary files (required)")
	fs.StringVar(&c.ErrorLog, "error-log", "", "error log file or stderr (default RUNTIME-DIR/error.log)")
	fs.StringVar(&c.AccessLog, "access-log", "", "access log file or off (default RUNTIME-DIR/access.log)")
	fs.StringVar(&c.User, "user", "", "account of the worker processes when nginx starts as root, like www-data")
	fs.StringVar(&c.MaxBodySize, "max-body-size", gateway.DefaultMaxBodySize, "largest request body")
	fs.StringVar(&c.Rate, "rate", gateway.DefaultRate, "steady request rate per API key, like 10r/s")
	fs.IntVar(&c.Burst, "burst", gateway.DefaultBurst, "requests above the rate one key may send at once (-1 for none)")
	fs.StringVar(&cert, "cert", "", "TLS certificate chain (PEM); without it the gateway speaks plain HTTP, for loopback only")
	fs.StringVar(&key, "key", "", "TLS private key (PEM)")
	fs.StringVar(&clientCA, "client-ca", "", "CA of the client certificate to require (mutual TLS)")
	fs.StringVar(&check, "check", "", "nginx binary to run -t with on the result (such as /usr/sbin/nginx)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "render-gateway: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cert != "" || key != "" || clientCA != "" {
		c.TLS = &gateway.TLS{Certificate: cert, CertificateKey: key, ClientCA: clientCA}
	}
	if err := gateway.Render(stdout, c); err != nil {
		fmt.Fprintln(stderr, "render-gateway:", err)
		return 2
	}
	if check != "" {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := gateway.Check(ctx, check, c); err != nil {
			fmt.Fprintln(stderr, "render-gateway:", err)
			if errors.Is(err, gateway.ErrInvalidConfig) {
				return 2
			}
			return 1
		}
	}
	return 0
}
