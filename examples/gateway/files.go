package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
)

var (
	keyRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{32,256}$`)
	keyNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// ErrInvalidKey is wrapped by the errors of WriteKeys for a key or name it
// refuses.
var ErrInvalidKey = errors.New("gateway: invalid API key entry")

// KeysFile returns the api-keys.map text for keys (key -> client name):
// one "~^KEY$ NAME;" line per key, sorted by name. Keys must be 32 to 256
// characters of A-Z a-z 0-9 _ - (so they need no escaping in the regular
// expression that compares them exactly); names 1 to 64 of A-Z a-z 0-9 _ . -.
func KeysFile(keys map[string]string) (string, error) {
	type entry struct{ key, name string }
	var entries []entry
	var problems []string
	for k, n := range keys {
		if !keyRE.MatchString(k) {
			problems = append(problems, fmt.Sprintf("the key of %q must be 32 to 256 characters of A-Z a-z 0-9 _ - (make one with: openssl rand -hex 32)", n))
		}
		if !keyNameRE.MatchString(n) {
			problems = append(problems, fmt.Sprintf("client name %q must be 1 to 64 characters of A-Z a-z 0-9 _ . -", n))
		}
		entries = append(entries, entry{k, n})
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return "", fmt.Errorf("%w: %s", ErrInvalidKey, strings.Join(problems, "; "))
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].name != entries[j].name {
			return entries[i].name < entries[j].name
		}
		return entries[i].key < entries[j].key
	})
	var b strings.Builder
	b.WriteString("# Written by bookbridge's gateway package: ~^KEY$ NAME;\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "~^%s$ %s;\n", e.key, e.name)
	}
	return b.String(), nil
}

// WriteKeys writes KeysFile(keys) to path with mode 0600.
func WriteKeys(path string, keys map[string]string) error {
	text, err := KeysFile(keys)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text), 0o600)
}

// AllowlistFile returns the allowlist.conf text for addresses, each a CIDR
// prefix ("203.0.113.0/24") or a single address, one "PREFIX 1;" line each.
func AllowlistFile(addresses []string) (string, error) {
	var b strings.Builder
	b.WriteString("# Written by bookbridge's gateway package: CIDR 1;\n")
	var problems []string
	for _, a := range addresses {
		prefix, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				problems = append(problems, fmt.Sprintf("%q is neither an address nor a CIDR prefix", a))
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		fmt.Fprintf(&b, "%s 1;\n", prefix.Masked())
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("gateway: allowlist: %s", strings.Join(problems, "; "))
	}
	return b.String(), nil
}

// WriteAllowlist writes AllowlistFile(addresses) to path.
func WriteAllowlist(path string, addresses []string) error {
	text, err := AllowlistFile(addresses)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text), 0o644)
}
