package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/console"
)

func init() {
	register("user add", "add a console user: user add NAME --role viewer|operator|admin [--password-file FILE]", cmdUserAdd)
	register("user list", "list console users and their roles", cmdUserList)
	register("user set", "change a console user: user set NAME [--role R] [--password-file FILE]", cmdUserSet)
	register("user disable", "keep a console user from logging in and end their sessions now: user disable NAME", cmdUserDisable)
	register("user enable", "let a disabled console user log in again: user enable NAME", cmdUserEnable)
	register("user remove", "delete a console user and end their sessions now: user remove NAME", cmdUserRemove)
}

// maxPasswordBytes bounds what is read as a password.
const maxPasswordBytes = 4096

// firstLine returns the first line of r (without its line end), reading at
// most maxPasswordBytes.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordBytes)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readPasswordFile reads a password from the first line of a file.
func readPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	defer f.Close()
	pw, err := firstLine(f)
	if err != nil {
		return "", fmt.Errorf("--password-file %s: %w", path, err)
	}
	if pw == "" {
		return "", fmt.Errorf("--password-file %s is empty: put the password on its first line", path)
	}
	return pw, nil
}

// isTerminal reports whether r is an interactive terminal (then a password
// is not read from it: it would echo).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newUserPassword is the password of "user add": from --password-file, else
// the first line of standard input when it is not a terminal, else a
// generated one (generated is then true and the caller shows it once).
func (c *cli) newUserPassword(file string) (password string, generated bool, err error) {
	if file != "" {
		pw, err := readPasswordFile(file)
		return pw, false, err
	}
	if c.stdin != nil && !isTerminal(c.stdin) {
		pw, err := firstLine(c.stdin)
		if err != nil {
			return "", false, fmt.Errorf("reading the password from standard input: %w", err)
		}
		if pw != "" {
			return pw, false, nil
		}
	}
	return console.GeneratePassword(), true, nil
}

func cmdUserAdd(ctx context.Context, c *cli) error {
	fs := c.flags("user add", "NAME")
	role := fs.String("role", "viewer", "what the user may do: viewer (read), operator (also load and resolve), admin (also users and keys)")
	pwFile := fs.String("password-file", "", "file whose first line is the password (else standard input when piped, else one is generated and printed once)")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("user add needs one NAME")
	}
	r, err := auth.ParseUserRole(*role)
	if err != nil {
		return usageError("%v", err)
	}
	password, generated, err := c.newUserPassword(*pwFile)
	if err != nil {
		return usageError("%v", err)
	}
	a, err := c.openStores(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	name := fs.Arg(0)
	if err := a.Auth.AddUser(ctx, name, password, r); err != nil {
		return usageError("%v", err)
	}
	if generated {
		fmt.Fprintln(c.stdout, password)
		fmt.Fprintf(c.stderr, "user %q (%s) added with the password above. It is shown only now: give it to %s through a safe channel.\n", name, r, name)
		return nil
	}
	fmt.Fprintf(c.stdout, "user %q (%s) added\n", name, r)
	return nil
}

func cmdUserList(ctx context.Context, c *cli) error {
	fs := c.flags("user list", "")
	if err := c.parse(fs); err != nil {
		return err
	}
	a, err := c.openStores(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	users, err := a.Auth.ListUsers(ctx)
	if err != nil {
		return usageError("%v", err)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tSTATUS")
	for _, u := range users {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.Format(time.RFC3339), status)
	}
	return tw.Flush()
}

func cmdUserSet(ctx context.Context, c *cli) error {
	fs := c.flags("user set", "NAME")
	role := fs.String("role", "", "the user's new role: viewer, operator or admin (default: unchanged)")
	pwFile := fs.String("password-file", "", "file whose first line is the new password (default: unchanged)")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("user set needs one NAME")
	}
	if *role == "" && *pwFile == "" {
		fs.Usage()
		return usageError("user set needs --role, --password-file or both")
	}
	var newRole auth.Role
	if *role != "" {
		r, err := auth.ParseUserRole(*role)
		if err != nil {
			return usageError("%v", err)
		}
		newRole = r
	}
	password := ""
	if *pwFile != "" {
		pw, err := readPasswordFile(*pwFile)
		if err != nil {
			return usageError("%v", err)
		}
		password = pw
	}
	a, err := c.openStores(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	name := fs.Arg(0)
	if newRole == "" {
		users, err := a.Auth.ListUsers(ctx)
		if err != nil {
			return usageError("%v", err)
		}
		for _, u := range users {
			if u.Name == name {
				newRole = u.Role
			}
		}
		if newRole == "" {
			return usageError("no user named %q: see bookbridge user list", name)
		}
	}
	if err := a.Auth.SetUser(ctx, name, password, newRole); err != nil {
		return usageError("%v", err)
	}
	msg := fmt.Sprintf("user %q is %s", name, newRole)
	if password != "" {
		msg += "; password changed"
	}
	fmt.Fprintln(c.stdout, msg)
	return nil
}

func cmdUserDisable(ctx context.Context, c *cli) error {
	return c.changeUserAccess(ctx, "user disable", func(s *auth.Store) func(context.Context, string) error { return s.DisableUser },
		"user %q disabled: their sessions have ended and they cannot log in (bookbridge user enable %[1]s lets them again)")
}

func cmdUserEnable(ctx context.Context, c *cli) error {
	return c.changeUserAccess(ctx, "user enable", func(s *auth.Store) func(context.Context, string) error { return s.EnableUser },
		"user %q enabled: they can log in with their password")
}

func cmdUserRemove(ctx context.Context, c *cli) error {
	return c.changeUserAccess(ctx, "user remove", func(s *auth.Store) func(context.Context, string) error { return s.RemoveUser },
		"user %q removed: their sessions have ended")
}

// changeUserAccess runs one of user disable, enable and remove: change
// picks the store's method, done is the report (with the name's %q).
func (c *cli) changeUserAccess(ctx context.Context, name string, change func(*auth.Store) func(context.Context, string) error, done string) error {
	fs := c.flags(name, "NAME")
	if err := c.parse(fs); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("%s needs one NAME", name)
	}
	a, err := c.openStores(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	user := fs.Arg(0)
	if err := change(a.Auth)(ctx, user); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return usageError("no user named %q: see bookbridge user list", user)
		}
		return usageError("%v", err)
	}
	fmt.Fprintf(c.stdout, done+"\n", user)
	return nil
}
