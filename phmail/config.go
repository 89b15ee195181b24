package phmail

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Keys of the fields a PH email carries, shared by bookbridge's packages.
const (
	FieldCompanyName      = "company_name"
	FieldDRNumber         = "dr_number"
	FieldECCID            = "ecc_id"
	FieldSalesOrderNumber = "sales_order_number"
	FieldDeployToEmail    = "deploy_to_email"
	FieldTenantID         = "tenant_id"
	FieldIMSOrgID         = "ims_org_id"
	FieldTicketLink       = "ticket_link"
	FieldMessageID        = "message_id"
	FieldSubject          = "subject"
	FieldFrom             = "from"
	FieldDate             = "date"
)

// dataFields are the fields a PH email can carry, in report order.
var dataFields = []string{FieldCompanyName, FieldDRNumber, FieldECCID, FieldSalesOrderNumber,
	FieldDeployToEmail, FieldTenantID, FieldIMSOrgID, FieldTicketLink}

// Defaults of [Config].
const (
	DefaultSubjectPrefix = "To Be Provisioned"
	// DefaultSubjectPattern takes the DR number as the subject's last 10
	// characters and the company name as the text between
	// "Provisioned - " and it.
	DefaultSubjectPattern = `(?i)^To Be Provisioned\s*-\s*(?P<company_name>.*?)\s*(?P<dr_number>.{10})$`
	DefaultTicketEnd      = "Best Regards"
	DefaultIMSOrgSuffix   = "@AdobeOrg"
	DefaultIMSOrgMinLen   = 24
)

// DefaultReplyPrefixes are the reply and forward prefixes removed from the
// subject before the PH test (matched in any case, each followed by ":").
var DefaultReplyPrefixes = []string{"RE", "FW", "FWD", "AW", "WG"}

// DefaultRequired are the fields without which a PH email is rejected: the
// ECC id is the correlation key and the DR number narrows the match and
// keys the sales order.
var DefaultRequired = []string{FieldECCID, FieldDRNumber}

// DefaultLabels returns the labels of the reference PH template.
func DefaultLabels() map[string][]string {
	return map[string][]string{
		FieldECCID:            {"ECC ID"},
		FieldSalesOrderNumber: {"Sales Order Number"},
		FieldDeployToEmail:    {"Deploy-To Email"},
		FieldTenantID:         {"Marketing Cloud Tenant"},
		FieldIMSOrgID:         {"Marketing Cloud Org ID"},
		FieldTicketLink:       {"Provisioning Hub Ticket Details"},
	}
}

// Config describes a PH email template. The zero value means every default;
// set only what your template does differently.
type Config struct {
	// SubjectPrefix marks a PH email: the subject, once reply prefixes are
	// removed, must start with it (any case). Default DefaultSubjectPrefix.
	SubjectPrefix string
	// SubjectPattern is a regular expression (Go syntax) matched against the
	// subject without reply prefixes. Its named groups are field keys, such
	// as company_name and dr_number. Default DefaultSubjectPattern.
	SubjectPattern string
	// ReplyPrefixes are removed from the start of the subject, repeatedly,
	// in any case, each followed by a colon. Default DefaultReplyPrefixes.
	ReplyPrefixes []string
	// Labels maps a field key to the label texts that introduce it in the
	// body, without the colon. Matching ignores case, runs of spaces or
	// tabs, bullets and bold markers. Keys absent here keep their default
	// (DefaultLabels); an empty list turns a label off.
	Labels map[string][]string
	// Required lists the field keys without which an email is rejected with
	// a *MissingFieldsError. Default DefaultRequired. Set a non-nil empty
	// slice to require nothing.
	Required []string
	// TicketEnd ends the ticket details value, which may span lines.
	// Default DefaultTicketEnd.
	TicketEnd string
	// IMSOrgSuffix is appended to an IMS org id of at least IMSOrgMinLen
	// characters that lacks it. Defaults DefaultIMSOrgSuffix and
	// DefaultIMSOrgMinLen.
	IMSOrgSuffix string
	IMSOrgMinLen int
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.SubjectPattern == "" {
		c.SubjectPattern = DefaultSubjectPattern
	}
	if c.ReplyPrefixes == nil {
		c.ReplyPrefixes = slices.Clone(DefaultReplyPrefixes)
	}
	labels := DefaultLabels()
	for k, v := range c.Labels {
		labels[k] = slices.Clone(v)
	}
	c.Labels = labels
	if c.Required == nil {
		c.Required = slices.Clone(DefaultRequired)
	}
	if c.TicketEnd == "" {
		c.TicketEnd = DefaultTicketEnd
	}
	if c.IMSOrgSuffix == "" {
		c.IMSOrgSuffix = DefaultIMSOrgSuffix
	}
	if c.IMSOrgMinLen == 0 {
		c.IMSOrgMinLen = DefaultIMSOrgMinLen
	}
	return c
}

// Validate reports every problem of c (after WithDefaults) at once, each
// naming the field and what to do.
func (c Config) Validate() error {
	var errs []error
	re, err := regexp.Compile(c.SubjectPattern)
	if err != nil {
		errs = append(errs, fmt.Errorf("phmail.Config.SubjectPattern: %v; give a Go regular expression", err))
	} else {
		for _, name := range re.SubexpNames()[1:] {
			if name != "" && !slices.Contains(dataFields, name) {
				errs = append(errs, fmt.Errorf("phmail.Config.SubjectPattern: group %q is not a field key; use one of %s", name, strings.Join(dataFields, ", ")))
			}
		}
	}
	for _, p := range c.ReplyPrefixes {
		if strings.TrimSpace(p) == "" || strings.Contains(p, ":") {
			errs = append(errs, fmt.Errorf("phmail.Config.ReplyPrefixes: %q must be a word without the colon, such as \"RE\"", p))
		}
	}
	for k, labels := range c.Labels {
		if !slices.Contains(dataFields, k) {
			errs = append(errs, fmt.Errorf("phmail.Config.Labels: %q is not a field key; use one of %s", k, strings.Join(dataFields, ", ")))
		}
		for _, l := range labels {
			if strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), ":")) == "" {
				errs = append(errs, fmt.Errorf("phmail.Config.Labels[%q]: empty label; remove it", k))
			}
		}
	}
	for _, k := range c.Required {
		if !slices.Contains(dataFields, k) {
			errs = append(errs, fmt.Errorf("phmail.Config.Required: %q is not a field key; use one of %s", k, strings.Join(dataFields, ", ")))
		}
	}
	if c.IMSOrgMinLen < 0 {
		errs = append(errs, errors.New("phmail.Config.IMSOrgMinLen: must not be negative"))
	}
	return errors.Join(errs...)
}
