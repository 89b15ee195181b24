package main

import (
	"context"
	"fmt"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
)

func init() {
	register("config dump", "print the effective settings, secrets redacted", cmdConfigDump)
}

func cmdConfigDump(ctx context.Context, c *cli) error {
	fs := c.flags("config dump", "")
	if err := c.parse(fs); err != nil {
		return err
	}
	cfg, err := config.Load(c.getenv)
	if err != nil {
		return usageError("%v", err)
	}
	for _, line := range cfg.Dump() {
		fmt.Fprintln(c.stdout, line)
	}
	return nil
}
