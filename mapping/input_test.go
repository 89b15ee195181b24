package mapping

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/loader"
)

// sfdcJSONCases are payloads SFDCFromJSON must read exactly as
// encoding/json does, strict JSON or not.
var sfdcJSONCases = []struct {
	name   string
	raw    string
	strict bool // the strict reader takes it
}{
	{"empty object", `{}`, true},
	{"nested", `{"a":{"b":[1,"x",true,false,null,{},[]]},"c":-0.50e+3}`, true},
	{"exact numbers", `{"n":12345678901234567890.12345,"m":1E400}`, true},
	{"escapes", `{"s":"tab\tquote\"uni\u00e9\ud83d\ude00","k\u00e9y":"v"}`, true},
	{"whitespace around", " \n{\"a\" : [ 1 , 2 ] }\t\r\n", true},
	{"payload names, plain and escaped", `{"Name":"x","attributes":{"type":"Opportunity"},"Account":{"N\u0061me":"y"}}`, true},
	{"repeated key", `{"a":1,"a":2}`, false},
	{"repeated key, once escaped", `{"Name":1,"N\u0061me":2}`, false},
	{"repeated nested key", `{"o":{"a":"x","a":"y"}}`, false},
	{"invalid utf-8", "{\"a\":\"\xff\"}", false},
	{"lone surrogate", `{"a":"\ud800"}`, false},
	{"array at top", `[1]`, false},
	{"null", `null`, false},
	{"trailing data", `{} {}`, false},
	{"truncated", `{"a":[1,2`, false},
	{"empty", ``, false},
	{"bad literal", `{"a":tru}`, false},
	{"deep", strings.Repeat(`{"a":`, strictMaxDepth+1) + `1` + strings.Repeat(`}`, strictMaxDepth+1), false},
}

func TestSFDCFromJSONMatchesEncodingJSON(t *testing.T) {
	full, err := os.ReadFile(fullPayload)
	if err != nil {
		t.Fatal(err)
	}
	cases := append(sfdcJSONCases, struct {
		name   string
		raw    string
		strict bool
	}{"full example deal", string(full), true})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			_, strict := sfdcFromStrictJSON(raw)
			if strict != tc.strict {
				t.Errorf("strict reader took it: %v, want %v", strict, tc.strict)
			}
			checkSameAsEncodingJSON(t, raw)
		})
	}
}

// checkSameAsEncodingJSON compares SFDCFromJSON with the encoding/json
// reading of raw: the same value, or the same error.
func checkSameAsEncodingJSON(t *testing.T, raw []byte) {
	t.Helper()
	got, gotErr := SFDCFromJSON(raw)
	want, wantErr := sfdcFromJSON(raw)
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("error %v, want %v", gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

// FuzzSFDCFromJSON checks that the strict reader never reads a payload
// differently from encoding/json.
func FuzzSFDCFromJSON(f *testing.F) {
	for _, tc := range sfdcJSONCases {
		f.Add([]byte(tc.raw))
	}
	if full, err := os.ReadFile(fullPayload); err == nil {
		f.Add(full)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkSameAsEncodingJSON(t, raw)
	})
}

// matchKey gives two match maps the same key exactly when their JSON is
// the same.
func TestMatchKeyFollowsJSON(t *testing.T) {
	lk := func(where string) loader.Value {
		return loader.Value{Lookup: &loader.Lookup{Table: "t", Field: "f", Pick: loader.PickOnly, Where: map[string]string{"a": where}}}
	}
	maps := []map[string]loader.Value{
		{},
		{"a": loader.Lit("1")},
		{"a": loader.Lit("1"), "b": loader.Lit("")},
		{"a": loader.Lit("1b"), "": loader.Lit("")},
		{"a1": loader.Lit("b")},
		{"a": loader.RefTo("1")},
		{"a": {Literal: "x", Ref: "1"}},
		{"a": loader.Lit("ref:1")},
		{"a": lk("1")},
		{"a": lk("2")},
		{"a": {Literal: "y", Lookup: lk("1").Lookup}},
		{"a": loader.Lit("\xff")},
		{"a": loader.Lit("\xfe")},
		{"a": loader.Lit("\ufffd")},
		{"a": loader.Lit("<")},
		{"a": loader.Lit(`\u003c`)},
	}
	for i, a := range maps {
		for j, b := range maps {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if same := matchKey(a) == matchKey(b); same != (string(ja) == string(jb)) {
				t.Errorf("maps %d %s and %d %s: same key %v", i, ja, j, jb, same)
			}
		}
	}
}
