package mapping

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/sfdc"
)

// helpers holds what the helper functions of one rule file need, all of it
// prepared when the file compiles: regular expressions and time zones
// named by literals or params. Nothing in it changes after compiling, so
// plans may be made concurrently.
type helpers struct {
	regexps map[string]*regexp.Regexp
	zones   map[string]*time.Location
}

func newHelpers() *helpers {
	return &helpers{
		regexps: map[string]*regexp.Regexp{},
		zones:   map[string]*time.Location{"UTC": time.UTC},
	}
}

// disabledBuiltins are expr builtins rules may not use: now reads the
// system clock (use the now variable), date and timezone read the
// machine's local zone (use parseDate and dateIn).
var disabledBuiltins = []string{"now", "date", "timezone"}

// helperNames lists the functions the rule language adds to expr's
// builtins; see the package doc for each.
var helperNames = []string{
	"regexFind", "parseDate", "addDays", "daysBetween", "dateIn", "weekday",
	"money", "moneyText", "coalesce", "omitEmpty", "lookup",
}

// options returns the expr options that register the helpers.
func (h *helpers) options() []expr.Option {
	opts := []expr.Option{
		expr.Function("regexFind", h.regexFind, new(func(string, string) string)),
		expr.Function("parseDate", parseDateFn, new(func(string) time.Time)),
		expr.Function("addDays", addDaysFn, new(func(time.Time, int) time.Time)),
		expr.Function("daysBetween", daysBetweenFn, new(func(time.Time, time.Time) int)),
		expr.Function("dateIn", h.dateIn, new(func(time.Time, string) time.Time)),
		expr.Function("weekday", weekdayFn, new(func(time.Time) string)),
		expr.Function("money", moneyFn, new(func(string, any) *Money)),
		expr.Function("moneyText", moneyTextFn, new(func(string, any) string)),
		expr.Function("coalesce", coalesceFn, new(func(...any) any)),
		expr.Function("omitEmpty", omitEmptyFn, new(func(any) any)),
		expr.Function("lookup", lookupFn,
			new(func(string, map[string]any, string, string) *loader.Value),
			new(func(string, map[string]any, string, string, string) *loader.Value)),
	}
	opts = append(opts, expr.Function(joinFn, joinTexts, new(func(...string) string)),
		expr.Function(textFn, textOf, new(func(any) string)))
	for _, b := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	return opts
}

func argString(fn string, i int, v any) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case json.Number:
		return s.String(), nil
	}
	return "", fmt.Errorf("%s: argument %d must be text, got %s", fn, i+1, describe(v))
}

func argTime(fn string, i int, v any) (time.Time, error) {
	if t, ok := v.(time.Time); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s: argument %d must be a date (use parseDate), got %s", fn, i+1, describe(v))
}

// regexFind returns the first match of pattern in s, or the text of its
// first capturing group when the pattern has one; "" when nothing matches.
func (h *helpers) regexFind(args ...any) (any, error) {
	s, err := argString("regexFind", 0, args[0])
	if err != nil {
		return nil, err
	}
	p, err := argString("regexFind", 1, args[1])
	if err != nil {
		return nil, err
	}
	re := h.regexps[p]
	if re == nil {
		if re, err = regexp.Compile(p); err != nil {
			return nil, fmt.Errorf("regexFind: the pattern %q is not a valid regular expression: %v", p, err)
		}
	}
	m := re.FindStringSubmatch(s)
	switch {
	case m == nil:
		return "", nil
	case len(m) > 1:
		return m[1], nil
	}
	return m[0], nil
}

// parseDateFn reads a Salesforce date (2027-01-01) or datetime
// (2026-11-27T10:00:00.000+0000).
func parseDateFn(args ...any) (any, error) {
	s, err := argString("parseDate", 0, args[0])
	if err != nil {
		return nil, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("parseDate: the date is empty; test it first (x != \"\" ? parseDate(x) : nil)")
	}
	if d, err := sfdc.ParseDate(s); err == nil {
		return d.Time, nil
	}
	for _, layout := range []string{sfdc.DateTimeLayout, "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return nil, fmt.Errorf("parseDate: %q is neither a date (2006-01-02) nor a Salesforce datetime (2006-01-02T15:04:05.000+0000)", s)
}

func addDaysFn(args ...any) (any, error) {
	t, err := argTime("addDays", 0, args[0])
	if err != nil {
		return nil, err
	}
	n, ok := args[1].(int)
	if !ok {
		return nil, fmt.Errorf("addDays: argument 2 must be a whole number of days, got %s", describe(args[1]))
	}
	return t.AddDate(0, 0, n), nil
}

// calendarDay numbers t's date (in t's own location) in days since 1970.
func calendarDay(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// daysBetweenFn counts calendar days from a's date to b's date, each
// taken in its own location: negative when b is earlier.
func daysBetweenFn(args ...any) (any, error) {
	a, err := argTime("daysBetween", 0, args[0])
	if err != nil {
		return nil, err
	}
	b, err := argTime("daysBetween", 1, args[1])
	if err != nil {
		return nil, err
	}
	return int(calendarDay(b) - calendarDay(a)), nil
}

// dateIn returns t's calendar date in the named zone, as midnight UTC.
func (h *helpers) dateIn(args ...any) (any, error) {
	t, err := argTime("dateIn", 0, args[0])
	if err != nil {
		return nil, err
	}
	name, err := argString("dateIn", 1, args[1])
	if err != nil {
		return nil, err
	}
	loc := h.zones[name]
	if loc == nil {
		return nil, fmt.Errorf("dateIn: the time zone %q was not loaded when the rules compiled; name it with a text literal or a param so it is checked then", name)
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

func weekdayFn(args ...any) (any, error) {
	t, err := argTime("weekday", 0, args[0])
	if err != nil {
		return nil, err
	}
	return t.Weekday().String(), nil
}

// moneyFn makes an exact currency amount; a nil amount gives nil, so the
// field is left out.
func moneyFn(args ...any) (any, error) {
	cur, err := argString("money", 0, args[0])
	if err != nil {
		return nil, err
	}
	if args[1] == nil {
		return (*Money)(nil), nil
	}
	cur = strings.TrimSpace(cur)
	if cur == "" {
		return nil, fmt.Errorf("money: the currency is empty; pass the ISO 4217 code such as sfdc.CurrencyIsoCode")
	}
	d, err := exactDecimal(args[1])
	if err != nil {
		return nil, fmt.Errorf("money: %w", err)
	}
	return &Money{Currency: cur, Amount: d}, nil
}

// moneyTextFn is money's amount written for people ("EUR 25,000.00"), for
// warnings; "" when the amount is nil.
func moneyTextFn(args ...any) (any, error) {
	m, err := moneyFn(args...)
	if err != nil {
		return nil, fmt.Errorf("moneyText%s", strings.TrimPrefix(err.Error(), "money"))
	}
	if m.(*Money) == nil {
		return "", nil
	}
	return m.(*Money).Text(), nil
}

// isEmpty reports whether v is nil, "", an empty list or an empty object.
func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	if s, ok := v.(string); ok {
		return s == ""
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len() == 0
	case reflect.Pointer:
		return rv.IsNil()
	}
	return false
}

func coalesceFn(args ...any) (any, error) {
	for _, a := range args {
		if !isEmpty(a) {
			return a, nil
		}
	}
	return nil, nil
}

func omitEmptyFn(args ...any) (any, error) {
	if isEmpty(args[0]) {
		return nil, nil
	}
	return args[0], nil
}

// lookupFn describes a value the loader reads from the target when it
// applies the plan.
func lookupFn(args ...any) (any, error) {
	table, _ := args[0].(string)
	field, _ := args[2].(string)
	pick, _ := args[3].(string)
	if table == "" || field == "" {
		return nil, fmt.Errorf("lookup: the table and the field must be non-empty text")
	}
	switch loader.LookupPick(pick) {
	case loader.PickMaxNumber, loader.PickOnly:
	default:
		return nil, fmt.Errorf("lookup: pick must be %q or %q, got %q", loader.PickMaxNumber, loader.PickOnly, pick)
	}
	where, _ := args[1].(map[string]any)
	l := &loader.Lookup{Table: table, Field: field, Pick: loader.LookupPick(pick), Where: make(map[string]string, len(where))}
	for k, v := range where {
		s, ok, err := toText(v)
		if err != nil {
			return nil, fmt.Errorf("lookup: where %s: %w", k, err)
		}
		if !ok {
			return nil, fmt.Errorf("lookup: where %s is nil; every condition needs a value", k)
		}
		l.Where[k] = s
	}
	if len(args) > 4 {
		l.Warning, _ = args[4].(string)
	}
	return &loader.Value{Lookup: l}, nil
}
