package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
)

func init() {
	register("apikey create", "create an API key: apikey create NAME --role intake|operator|admin", cmdAPIKeyCreate)
	register("apikey list", "list API keys (names, roles, prefixes; never the keys)", cmdAPIKeyList)
	register("apikey revoke", "revoke the API key NAME", cmdAPIKeyRevoke)
}

// openStores opens an existing database with its stores only.
func (c *cli) openStores(ctx context.Context) (*app.App, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	if err := c.requireDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, cfg, app.Options{Logger: c.logger(cfg), StoreOnly: true})
	if err != nil {
		return nil, usageError("%v", err)
	}
	return a, nil
}

func cmdAPIKeyCreate(ctx context.Context, c *cli) error {
	fs := c.flags("apikey create", "NAME")
	role := fs.String("role", "intake", "what the key may do: intake (post deals and emails), operator (also read and load), admin")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("apikey create needs one NAME")
	}
	r, err := auth.ParseKeyRole(*role)
	if err != nil {
		return usageError("%v", err)
	}
	a, err := c.openStores(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	key, err := a.Auth.CreateKey(ctx, fs.Arg(0), r)
	if err != nil {
		return usageError("%v", err)
	}
	fmt.Fprintln(c.stdout, key)
	fmt.Fprintf(c.stderr, "API key %q (%s) created. It is shown only now: store it where the caller reads it.\n", fs.Arg(0), r)
	return nil
}

func cmdAPIKeyList(ctx context.Context, c *cli) error {
	fs := c.flags("apikey list", "")
	if err := c.parse(fs); err != nil {
		return err
	}
	a, err := c.openStores(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	keys, err := a.Auth.ListKeys(ctx)
	if err != nil {
		return usageError("%v", err)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tPREFIX\tCREATED\tSTATUS")
	for _, k := range keys {
		status := "active"
		if k.RevokedAt != nil {
			status = "revoked " + k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\n", k.Name, k.Role, k.Prefix, k.CreatedAt.Format(time.RFC3339), status)
	}
	return tw.Flush()
}

func cmdAPIKeyRevoke(ctx context.Context, c *cli) error {
	fs := c.flags("apikey revoke", "NAME")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("apikey revoke needs one NAME")
	}
	a, err := c.openStores(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Auth.RevokeKey(ctx, fs.Arg(0)); err != nil {
		return usageError("%v", err)
	}
	fmt.Fprintf(c.stdout, "API key %q revoked\n", fs.Arg(0))
	return nil
}
