package sfdc

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// Problem is one validation failure.
type Problem struct {
	// Path is a JSON Pointer into the payload, such as
	// /OpportunityLineItems/records/2/Quantity.
	Path string `json:"path"`
	// Rule is the name of the rule that failed, such as "required" or "sfid".
	Rule string `json:"rule"`
	// Message says what is wrong and what was expected.
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message + " [" + p.Rule + "]" }

// ValidationError holds every problem found in one payload.
type ValidationError struct {
	Problems []Problem
	// Omitted counts the problems found beyond the MaxProblems that
	// Problems keeps.
	Omitted int
}

// Count is the number of problems found: those listed and those omitted.
func (e *ValidationError) Count() int { return len(e.Problems) + e.Omitted }

// errorListed is the most problems Error's text lists.
const errorListed = 20

func (e *ValidationError) Error() string {
	n := min(len(e.Problems), errorListed)
	parts := make([]string, n)
	for i, p := range e.Problems[:n] {
		parts[i] = p.String()
	}
	msg := fmt.Sprintf("sfdc: %d validation problem(s): %s", e.Count(), strings.Join(parts, "; "))
	if more := e.Count() - n; more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return msg
}

// Validator applies the validate tags of a payload struct. It is safe for
// concurrent use; build one with NewValidator or use the package-level
// Validate.
type Validator struct {
	v *validator.Validate
}

// NewValidator returns a Validator with bookbridge's Salesforce rules
// registered (see RuleMessages for the list).
func NewValidator() *Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	// Absent dates, datetimes and numbers look empty to "required"; present
	// ones compare as time.Time (gtefield) or by sign (positive).
	v.RegisterCustomTypeFunc(func(f reflect.Value) any {
		if d := valueOf[Date](f); d.Valid {
			return d.Time
		}
		return nil
	}, Date{})
	v.RegisterCustomTypeFunc(func(f reflect.Value) any {
		if d := valueOf[DateTime](f); d.Valid {
			return d.Time
		}
		return nil
	}, DateTime{})
	v.RegisterCustomTypeFunc(func(f reflect.Value) any {
		if d := valueOf[Decimal](f); d.Valid() {
			return d.String()
		}
		return nil
	}, Decimal{})
	must(v.RegisterValidation("sfid", func(fl validator.FieldLevel) bool {
		return ValidID(fl.Field().String())
	}))
	must(v.RegisterValidation("stage", func(fl validator.FieldLevel) bool {
		return fl.Field().String() == StageClosedBooked
	}))
	must(v.RegisterValidation("positive", func(fl validator.FieldLevel) bool {
		d, err := ParseDecimal(fl.Field().String())
		return err == nil && d.Sign() > 0
	}))
	must(v.RegisterValidation("nonnegative", func(fl validator.FieldLevel) bool {
		d, err := ParseDecimal(fl.Field().String())
		return err == nil && d.Sign() >= 0
	}))
	must(v.RegisterValidation("amount", func(fl validator.FieldLevel) bool {
		text := fl.Field().String()
		if len(text) > MaxAmountText {
			return false
		}
		d, err := ParseDecimal(text)
		if err != nil {
			return false
		}
		before, after := d.Digits()
		scale, known := minorUnits(currencyOf(fl))
		return before <= MaxAmountDigits && (!known || after <= int64(scale))
	}))
	must(v.RegisterValidation("has_records", func(fl validator.FieldLevel) bool {
		l, ok := fl.Field().Interface().(lenner)
		return ok && l.Len() > 0
	}, true))
	return &Validator{v: v}
}

// valueOf reads the T that f holds, through its address when it has one,
// which spares a copy on the heap for every date and number of a payload.
func valueOf[T any](f reflect.Value) T {
	if f.CanAddr() {
		return *f.Addr().Interface().(*T)
	}
	return f.Interface().(T)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

var (
	defaultValidator     *Validator
	defaultValidatorOnce sync.Once
)

// Validate checks payload (a struct or a pointer to one) with the default
// Validator. It returns nil or a *ValidationError listing every problem.
func Validate(payload any) error {
	return defaultValidatorInstance().Validate(payload)
}

func defaultValidatorInstance() *Validator {
	defaultValidatorOnce.Do(func() { defaultValidator = NewValidator() })
	return defaultValidator
}

// Validate checks payload and returns nil or a *ValidationError listing every
// problem, sorted by path.
func (v *Validator) Validate(payload any) error {
	err := v.v.Struct(payload)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("sfdc: cannot validate %T: %w", payload, err)
	}
	top := reflect.Indirect(reflect.ValueOf(payload))
	root := top.Type().Name()
	problems := make([]Problem, 0, len(verrs))
	for _, fe := range verrs {
		msg := message(fe)
		if fe.Tag() == "amount" {
			msg = amountMessage(fe, top)
		}
		problems = append(problems, Problem{
			Path:    namespaceToPointer(fe.Namespace(), root),
			Rule:    fe.Tag(),
			Message: msg,
		})
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Path < problems[j].Path })
	return &ValidationError{Problems: problems}
}

// namespaceToPointer turns validator's "Opportunity.OpportunityLineItems.records[2].Quantity"
// into "/OpportunityLineItems/records/2/Quantity".
func namespaceToPointer(ns, root string) string {
	ns = strings.TrimPrefix(ns, root)
	ns = strings.TrimPrefix(ns, ".")
	var b strings.Builder
	for _, seg := range strings.Split(ns, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		b.WriteString("/" + escapePointer(name))
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			b.WriteString("/" + escapePointer(idx))
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return b.String()
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// escapePointer escapes one JSON Pointer reference token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return pointerEscaper.Replace(s)
}

// RuleMessages describes each rule bookbridge registers on top of
// validator's own (required, len, max, email, iso4217, gtefield, ...).
var RuleMessages = map[string]string{
	"sfid":        "a Salesforce record id: 15 characters, or 18 whose last 3 are the case checksum of the first 15",
	"stage":       `the stage "` + StageClosedBooked + `"`,
	"positive":    "a number greater than 0",
	"nonnegative": "a number of 0 or more",
	"has_records": "at least one record in the relationship's records list",
	"amount":      "a number of at most 18 digits before the decimal point and no more after it than the currency's minor unit, written in at most 40 characters",
}

func message(fe validator.FieldError) string {
	got := describeValue(fe.Value())
	switch fe.Tag() {
	case "required":
		return "is required but missing or empty"
	case "has_records":
		return "must hold " + RuleMessages["has_records"] + "; it is empty or null"
	case "sfid":
		return fmt.Sprintf("must be %s; got %s", RuleMessages["sfid"], got)
	case "stage", "positive", "nonnegative":
		return fmt.Sprintf("must be %s; got %s", RuleMessages[fe.Tag()], got)
	case "len":
		return fmt.Sprintf("must be exactly %s characters long; got %s (%d characters)", fe.Param(), got, len([]rune(fmt.Sprint(fe.Value()))))
	case "max":
		return fmt.Sprintf("must be at most %s characters long; got %d", fe.Param(), len([]rune(fmt.Sprint(fe.Value()))))
	case "email":
		return fmt.Sprintf("must be an email address such as name@example.com; got %s", got)
	case "iso4217":
		return fmt.Sprintf("must be an ISO 4217 currency code such as USD or EUR; got %s", got)
	case "gtefield":
		return fmt.Sprintf("must not be before %s; got %s", fe.Param(), got)
	}
	if fe.Param() != "" {
		return fmt.Sprintf("fails rule %s=%s; got %s", fe.Tag(), fe.Param(), got)
	}
	return fmt.Sprintf("fails rule %s; got %s", fe.Tag(), got)
}

// amountMessage says what the amount rule wants, naming the currency when
// the payload's top level holds it (as the reference payload does).
func amountMessage(fe validator.FieldError, top reflect.Value) string {
	msg := fmt.Sprintf("must have at most %d digits before the decimal point", MaxAmountDigits)
	if cur, ok := stringField(top, fe.Param()); ok {
		if scale, known := minorUnits(cur); known {
			msg += fmt.Sprintf(" and at most %d after it (the minor unit of %s)", scale, cur)
		}
	}
	return msg + fmt.Sprintf(", written in at most %d characters; got %s", MaxAmountText, describeValue(fe.Value()))
}

func describeValue(v any) string {
	switch t := v.(type) {
	case nil:
		return "nothing"
	case string:
		return clip(strconv.Quote(t))
	case interface{ Format(string) string }: // time.Time
		return t.Format(DateLayout)
	}
	return fmt.Sprint(v)
}

// ValidID reports whether id is a well-formed Salesforce record id: 15
// alphanumeric characters, or 18 whose last three encode the case of the
// first fifteen.
func ValidID(id string) bool {
	if len(id) != 15 && len(id) != 18 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	if len(id) == 15 {
		return true
	}
	return id[15:] == IDChecksum(id[:15])
}

// IDChecksum returns the three-character suffix that turns a 15-character
// Salesforce id into its case-insensitive 18-character form.
func IDChecksum(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var out [3]byte
	for chunk := 0; chunk < 3; chunk++ {
		n := 0
		for j := 0; j < 5; j++ {
			if i := chunk*5 + j; i < len(id15) && id15[i] >= 'A' && id15[i] <= 'Z' {
				n |= 1 << j
			}
		}
		out[chunk] = alphabet[n]
	}
	return string(out[:])
}
