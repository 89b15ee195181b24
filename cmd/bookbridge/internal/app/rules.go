package app

import (
	"fmt"
	"maps"
	"os"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/mapping"
)

// loadRules compiles BOOKBRIDGE_RULES, or the embedded reference rules,
// with BOOKBRIDGE_RULE_PARAMS. When the rules declare a time_zone param and
// the parameters do not set it, BOOKBRIDGE_TIMEZONE fills it.
func loadRules(cfg *config.Config) (*mapping.Rules, error) {
	name, data := mappings.ReferenceName, mappings.Reference
	if cfg.Rules != "" {
		b, err := os.ReadFile(cfg.Rules)
		if err != nil {
			return nil, fmt.Errorf("BOOKBRIDGE_RULES: %w", err)
		}
		name, data = cfg.Rules, b
	}
	rules, err := CompileRules(cfg, name, data)
	if err != nil {
		return nil, fmt.Errorf("mapping rules (BOOKBRIDGE_RULES, BOOKBRIDGE_RULE_PARAMS): %w", err)
	}
	return rules, nil
}

// CompileRules compiles a rule file the way the server compiles its own,
// without putting it in use: with BOOKBRIDGE_RULE_PARAMS, and when the
// rules declare a time_zone param the params do not set, with
// BOOKBRIDGE_TIMEZONE. The API, the console and the CLI compile the rule
// files whose impact they show with it. A file that does not compile is a
// *mapping.CompileError with every FILE:LINE:COL problem.
func CompileRules(cfg *config.Config, name string, data []byte) (*mapping.Rules, error) {
	params := maps.Clone(cfg.RuleParams)
	if params == nil {
		params = map[string]string{}
	}
	rules, err := mapping.Compile(name, data, mapping.WithParams(params))
	if err != nil {
		return nil, err
	}
	if _, set := params["time_zone"]; !set && cfg.TimeZone != "" {
		for _, p := range rules.Params() {
			if p.Name == "time_zone" {
				params["time_zone"] = cfg.TimeZone
				return mapping.Compile(name, data, mapping.WithParams(params))
			}
		}
	}
	return rules, nil
}

// ReloadRules compiles the rule file again and puts it in use for the
// plans made from then on (a load uses the rules in use when it plans).
// When the file does not compile, the rules in use stay and the error
// names every problem.
func (a *App) ReloadRules() error {
	rules, err := loadRules(a.Cfg)
	if err != nil {
		return err
	}
	a.Flow.SetRules(rules)
	return nil
}
