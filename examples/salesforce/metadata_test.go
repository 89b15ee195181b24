package salesforce

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// apiVersion is the Salesforce API version of the whole project.
const apiVersion = "62.0"

var sourceDirs = []string{"force-app", "scratch-org-schema"}

func readXML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestMetadataIsWellFormedXML reads every metadata file to its end.
func TestMetadataIsWellFormedXML(t *testing.T) {
	n := 0
	for _, dir := range sourceDirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".xml") {
				return err
			}
			n++
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			dec := xml.NewDecoder(f)
			for {
				if _, err := dec.Token(); errors.Is(err, io.EOF) {
					return nil
				} else if err != nil {
					t.Errorf("%s: %v", path, err)
					return nil
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 30 {
		t.Errorf("read only %d metadata files", n)
	}
}

// TestApexUsesOneAPIVersion checks that sfdx-project.json and every class
// and trigger use API version 62.0 and are active.
func TestApexUsesOneAPIVersion(t *testing.T) {
	var project struct {
		SourceAPIVersion string `json:"sourceApiVersion"`
	}
	b, err := os.ReadFile("sfdx-project.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &project); err != nil {
		t.Fatalf("sfdx-project.json: %v", err)
	}
	if project.SourceAPIVersion != apiVersion {
		t.Errorf("sfdx-project.json sourceApiVersion = %q, want %q", project.SourceAPIVersion, apiVersion)
	}
	for _, src := range apexSources(t, "force-app") {
		var meta struct {
			APIVersion string `xml:"apiVersion"`
			Status     string `xml:"status"`
		}
		readXML(t, src+"-meta.xml", &meta)
		if meta.APIVersion != apiVersion || meta.Status != "Active" {
			t.Errorf("%s-meta.xml: apiVersion %q status %q, want %s Active", src, meta.APIVersion, meta.Status, apiVersion)
		}
	}
}

type customField struct {
	FullName         string `xml:"fullName"`
	Type             string `xml:"type"`
	ReferenceTo      string `xml:"referenceTo"`
	RelationshipName string `xml:"relationshipName"`
	Values           []struct {
		FullName string `xml:"fullName"`
	} `xml:"valueSet>valueSetDefinition>value"`
}

// fieldsOf reads the field files of an object under root, by API name.
func fieldsOf(t *testing.T, root, object string) map[string]customField {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "main", "default", "objects", object, "fields", "*.field-meta.xml"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]customField)
	for _, p := range paths {
		var f customField
		readXML(t, p, &f)
		name := strings.TrimSuffix(filepath.Base(p), ".field-meta.xml")
		if f.FullName != name {
			t.Errorf("%s: fullName %q does not match the file name", p, f.FullName)
		}
		out[name] = f
	}
	return out
}

func readApex(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("force-app", "main", "default", "classes", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLogObjectMatchesTheApex checks the log object against the code that
// writes it: every field the Apex sets exists, every Outcome the Apex
// writes is a value of the restricted picklist (and no value is unused),
// and the permission set lets users read every field.
func TestLogObjectMatchesTheApex(t *testing.T) {
	fields := fieldsOf(t, "force-app", "Bookbridge_Log__c")
	apex := readApex(t, "BookbridgeDealOutcome.cls") + readApex(t, "BookbridgeDealTriggerHandler.cls")

	for _, m := range regexp.MustCompile(`\b(\w+__c)\s*=[^=]`).FindAllStringSubmatch(apex, -1) {
		if _, ok := fields[m[1]]; !ok {
			t.Errorf("the Apex sets Bookbridge_Log__c.%s, which has no field file", m[1])
		}
	}

	var written []string
	for _, m := range regexp.MustCompile(`LOG_\w+ = '([^']+)'`).FindAllStringSubmatch(apex, -1) {
		written = append(written, m[1])
	}
	var values []string
	for _, v := range fields["Outcome__c"].Values {
		values = append(values, v.FullName)
	}
	sort.Strings(written)
	sort.Strings(values)
	if len(written) == 0 || strings.Join(written, "|") != strings.Join(values, "|") {
		t.Errorf("Outcome__c values %q differ from the outcomes the Apex writes %q", values, written)
	}

	var perm struct {
		Fields []struct {
			Field    string `xml:"field"`
			Readable bool   `xml:"readable"`
		} `xml:"fieldPermissions"`
		Objects []struct {
			Object      string `xml:"object"`
			AllowCreate bool   `xml:"allowCreate"`
			AllowRead   bool   `xml:"allowRead"`
		} `xml:"objectPermissions"`
	}
	readXML(t, filepath.Join("force-app", "main", "default", "permissionsets", "Bookbridge_Sender.permissionset-meta.xml"), &perm)
	readable := make(map[string]bool)
	for _, f := range perm.Fields {
		readable[f.Field] = f.Readable
	}
	for name := range fields {
		if !readable["Bookbridge_Log__c."+name] {
			t.Errorf("the permission set does not let users read Bookbridge_Log__c.%s", name)
		}
	}
	if len(perm.Objects) != 1 || perm.Objects[0].Object != "Bookbridge_Log__c" || !perm.Objects[0].AllowCreate || !perm.Objects[0].AllowRead {
		t.Errorf("the permission set must grant create and read on Bookbridge_Log__c: %+v", perm.Objects)
	}
}

// TestCredentialChainIsConsistent follows callout:Bookbridge from the Apex
// to the Named Credential, its External Credential, the header formula and
// the principal the permission set grants. A typo anywhere breaks the
// callout only in a real org, so it is checked here.
func TestCredentialChainIsConsistent(t *testing.T) {
	base := filepath.Join("force-app", "main", "default")
	m := regexp.MustCompile(`'callout:(\w+)/api/v1/deals'`).FindStringSubmatch(readApex(t, "BookbridgeDealSender.cls"))
	if m == nil {
		t.Fatal("BookbridgeDealSender.cls has no 'callout:<Named Credential>/api/v1/deals' endpoint")
	}
	var nc struct {
		Type   string `xml:"namedCredentialType"`
		Params []struct {
			Name               string `xml:"parameterName"`
			Type               string `xml:"parameterType"`
			Value              string `xml:"parameterValue"`
			ExternalCredential string `xml:"externalCredential"`
		} `xml:"namedCredentialParameters"`
	}
	readXML(t, filepath.Join(base, "namedCredentials", m[1]+".namedCredential-meta.xml"), &nc)
	var ecName, url string
	for _, p := range nc.Params {
		switch p.Type {
		case "Authentication":
			ecName = p.ExternalCredential
		case "Url":
			url = p.Value
		}
	}
	if nc.Type != "SecuredEndpoint" || ecName == "" || !strings.HasPrefix(url, "https://") || strings.Count(url, "/") != 2 {
		t.Fatalf("Named Credential %s: type %q, external credential %q, url %q; want a SecuredEndpoint with an https URL without path and an external credential",
			m[1], nc.Type, ecName, url)
	}

	var ec struct {
		Protocol string `xml:"authenticationProtocol"`
		Params   []struct {
			Group string `xml:"parameterGroup"`
			Name  string `xml:"parameterName"`
			Type  string `xml:"parameterType"`
			Value string `xml:"parameterValue"`
		} `xml:"externalCredentialParameters"`
	}
	readXML(t, filepath.Join(base, "externalCredentials", ecName+".externalCredential-meta.xml"), &ec)
	var header, principal string
	for _, p := range ec.Params {
		switch p.Type {
		case "AuthHeader":
			if p.Name == "X-API-Key" {
				header = p.Value
			}
		case "NamedPrincipal":
			principal = p.Name
			if p.Group != p.Name {
				t.Errorf("principal %s has parameterGroup %q; they must match", p.Name, p.Group)
			}
		}
	}
	if ec.Protocol != "Custom" {
		t.Errorf("external credential %s: protocol %q, want Custom", ecName, ec.Protocol)
	}
	if want := "{!$Credential." + ecName + ".ApiKey}"; header != want {
		t.Errorf("X-API-Key header = %q, want %q (the principal's ApiKey parameter, never a literal key)", header, want)
	}
	if principal == "" {
		t.Fatal("the external credential has no named principal")
	}

	var perm struct {
		Accesses []struct {
			Enabled   bool   `xml:"enabled"`
			Principal string `xml:"externalCredentialPrincipal"`
		} `xml:"externalCredentialPrincipalAccesses"`
	}
	readXML(t, filepath.Join(base, "permissionsets", "Bookbridge_Sender.permissionset-meta.xml"), &perm)
	if len(perm.Accesses) != 1 || !perm.Accesses[0].Enabled || perm.Accesses[0].Principal != ecName+"-"+principal {
		t.Errorf("the permission set grants %+v, want %s-%s", perm.Accesses, ecName, principal)
	}
}

// TestScratchSchemaCoversTheQuery checks that scratch-org-schema defines
// every custom field and custom relationship the sender's query reads, so
// the project deploys to a fresh scratch org.
func TestScratchSchemaCoversTheQuery(t *testing.T) {
	q, err := ParseQuery(senderQuery(t))
	if err != nil {
		t.Fatal(err)
	}
	const root = "scratch-org-schema"
	checked := 0
	var check func(object string, path FieldPath)
	check = func(object string, path FieldPath) {
		fields := fieldsOf(t, root, object)
		head := path[0]
		switch {
		case strings.HasSuffix(head, "__c") && len(path) == 1:
			if _, ok := fields[head]; !ok {
				t.Errorf("%s/%s has no field %s", root, object, head)
			}
			checked++
		case strings.HasSuffix(head, "__r"):
			lookup, ok := fields[strings.TrimSuffix(head, "__r")+"__c"]
			if !ok || lookup.Type != "Lookup" {
				t.Errorf("%s/%s has no lookup %s__c for %s", root, object, strings.TrimSuffix(head, "__r"), head)
				return
			}
			checked++
			check(lookup.ReferenceTo, path[1:])
		}
	}
	for _, f := range q.Fields {
		check("Opportunity", f)
	}
	standardChildren := map[string]string{"OpportunityLineItems": "OpportunityLineItem"}
	for _, sub := range q.Subqueries {
		child, ok := standardChildren[sub.From]
		if !ok {
			child = childObject(t, root, sub.From)
		}
		for _, f := range sub.Fields {
			check(child, f)
		}
	}
	if checked < 15 {
		t.Errorf("checked only %d custom fields of the query", checked)
	}
}

// childObject finds the object whose master-detail or lookup to
// Opportunity has the child relationship rel (Name__r).
func childObject(t *testing.T, root, rel string) string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "main", "default", "objects", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		object := filepath.Base(d)
		for _, f := range fieldsOf(t, root, object) {
			if f.ReferenceTo == "Opportunity" && f.RelationshipName+"__r" == rel {
				return object
			}
		}
	}
	t.Fatalf("%s defines no child relationship %s of Opportunity", root, rel)
	return ""
}
