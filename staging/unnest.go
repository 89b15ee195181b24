package staging

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// An arrayInsert inserts many rows of one Bun model in one statement on
// Postgres: one array parameter per column, turned back into rows by
// unnest. Its columns come from the model's struct, the one place they are
// listed, so a column added to the model is written by the batch as by
// Bun's own inserts.
type arrayInsert struct {
	table   string
	columns []arrayColumn
}

// arrayColumn is one column of an arrayInsert: the model's field and how
// its values travel.
type arrayColumn struct {
	field *schema.Field
	kind  arrayKind
}

// arrayKind is the Postgres array type a column's values are sent as.
type arrayKind int

const (
	arrayInt8 arrayKind = iota
	arrayText
	arrayTimestamptz
	arrayBytea
	arrayBool
)

var arrayKinds = [...]struct {
	oid  uint32
	name string
}{
	arrayInt8:        {pgtype.Int8ArrayOID, "bigint[]"},
	arrayText:        {pgtype.TextArrayOID, "text[]"},
	arrayTimestamptz: {pgtype.TimestamptzArrayOID, "timestamptz[]"},
	arrayBytea:       {pgtype.ByteaArrayOID, "bytea[]"},
	arrayBool:        {pgtype.BoolArrayOID, "boolean[]"},
}

var timeType = reflect.TypeFor[time.Time]()

// newArrayInsert describes the model T's columns but those named in skip
// (columns the database fills, such as an id it numbers). A field of a Go
// type it cannot send is an error: the model changed in a way the batch
// does not know yet.
func newArrayInsert[T any](db *bun.DB, skip ...string) (*arrayInsert, error) {
	t := db.Table(reflect.TypeFor[T]())
	ins := &arrayInsert{table: t.Name}
	for _, f := range t.Fields {
		if slices.Contains(skip, f.Name) {
			continue
		}
		var k arrayKind
		switch typ := f.IndirectType; {
		case typ == timeType:
			k = arrayTimestamptz
		case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Uint8:
			k = arrayBytea
		case typ.Kind() == reflect.String:
			k = arrayText
		case typ.Kind() == reflect.Bool:
			k = arrayBool
		case typ.Kind() == reflect.Int, typ.Kind() == reflect.Int64, typ.Kind() == reflect.Int32:
			k = arrayInt8
		default:
			return nil, fmt.Errorf("staging: column %s.%s is a %s, which a batch cannot send", t.Name, f.Name, typ)
		}
		ins.columns = append(ins.columns, arrayColumn{field: f, kind: k})
	}
	return ins, nil
}

// names returns the column names, comma-separated.
func (ins *arrayInsert) names() string {
	names := make([]string, len(ins.columns))
	for i, c := range ins.columns {
		names[i] = c.field.Name
	}
	return strings.Join(names, ", ")
}

// rows returns the SELECT that turns the parameters from $first on back
// into rows with the columns' names. A bytea column travels as one value,
// its rows' bytes joined, with each row's offset and length (-1 for NULL)
// in two arrays: large values are not cut into an array's elements, which
// would copy each once more.
func (ins *arrayInsert) rows(first int) string {
	var arrays, unnested, selected []string
	n := first
	for _, c := range ins.columns {
		name := c.field.Name
		if c.kind == arrayBytea {
			arrays = append(arrays, fmt.Sprintf("$%d::integer[]", n+1), fmt.Sprintf("$%d::integer[]", n+2))
			unnested = append(unnested, name+"_off", name+"_len")
			selected = append(selected, fmt.Sprintf("CASE WHEN u.%[1]s_len < 0 THEN NULL ELSE substring($%[2]d::bytea FROM u.%[1]s_off + 1 FOR u.%[1]s_len) END", name, n))
			n += 3
			continue
		}
		arrays = append(arrays, fmt.Sprintf("$%d::%s", n, arrayKinds[c.kind].name))
		unnested = append(unnested, name)
		selected = append(selected, "u."+name)
		n++
	}
	return fmt.Sprintf("SELECT %s FROM unnest(%s) AS u(%s)", strings.Join(selected, ", "), strings.Join(arrays, ", "), strings.Join(unnested, ", "))
}

// params returns the number of parameters rows takes.
func (ins *arrayInsert) params() int { return len(ins.oids()) }

// oids returns the parameters' types, in order.
func (ins *arrayInsert) oids() []uint32 {
	var out []uint32
	for _, c := range ins.columns {
		if c.kind == arrayBytea {
			out = append(out, pgtype.ByteaOID, pgtype.Int4ArrayOID, pgtype.Int4ArrayOID)
			continue
		}
		out = append(out, arrayKinds[c.kind].oid)
	}
	return out
}

// values returns the parameters of the rows (pointers to T), as pgtype's
// encoders take them (flat arrays, which they read without reflection), and scratch grown by the bytea columns' joined
// values, which it holds. A nullzero field's zero value is NULL, as Bun
// writes it.
func (ins *arrayInsert) values(rows []reflect.Value, scratch []byte) ([]any, []byte) {
	out := make([]any, 0, len(ins.columns)+4)
	for _, c := range ins.columns {
		if c.kind == arrayBytea {
			start := len(scratch)
			var offs, lens []int32
			scratch, offs, lens = c.bytes(rows, scratch)
			out = append(out, scratch[start:len(scratch):len(scratch)], offs, lens)
			continue
		}
		out = append(out, c.values(rows))
	}
	return out, scratch
}

// bytes appends a bytea column's rows to joined, with their offsets
// (from the end of joined as given) and lengths.
func (c arrayColumn) bytes(rows []reflect.Value, joined []byte) (_ []byte, offs, lens []int32) {
	size := 0
	for _, row := range rows {
		size += c.field.Value(row.Elem()).Len()
	}
	joined = slices.Grow(joined, size)
	start := len(joined)
	offs, lens = make([]int32, len(rows)), make([]int32, len(rows))
	for i, row := range rows {
		v := c.field.Value(row.Elem())
		b := v.Bytes()
		offs[i], lens[i] = int32(len(joined)-start), int32(len(b))
		if b == nil && c.field.NullZero {
			lens[i] = -1
		}
		joined = append(joined, b...)
	}
	return joined, offs, lens
}

func (c arrayColumn) values(rows []reflect.Value) any {
	f := c.field
	null := func(v reflect.Value) bool { return f.NullZero && v.IsZero() }
	field := func(row reflect.Value) reflect.Value { return f.Value(row.Elem()) }
	if len(f.Index) == 1 { // a field of the struct itself, not of an embedded one
		field = func(row reflect.Value) reflect.Value { return row.Elem().Field(f.Index[0]) }
	}
	switch c.kind {
	case arrayInt8:
		out := make(pgtype.FlatArray[pgtype.Int8], len(rows))
		for i, row := range rows {
			v := field(row)
			out[i] = pgtype.Int8{Int64: v.Int(), Valid: !null(v)}
		}
		return out
	case arrayText:
		out := make(pgtype.FlatArray[pgtype.Text], len(rows))
		for i, row := range rows {
			v := field(row)
			out[i] = pgtype.Text{String: v.String(), Valid: !null(v)}
		}
		return out
	case arrayTimestamptz:
		out := make(pgtype.FlatArray[pgtype.Timestamptz], len(rows))
		for i, row := range rows {
			t := field(row).Addr().Interface().(*time.Time) // a pointer: no copy on the heap
			out[i] = pgtype.Timestamptz{Time: *t, Valid: !f.NullZero || !t.IsZero()}
		}
		return out
	default: // arrayBool
		out := make(pgtype.FlatArray[pgtype.Bool], len(rows))
		for i, row := range rows {
			v := field(row)
			out[i] = pgtype.Bool{Bool: v.Bool(), Valid: !null(v)}
		}
		return out
	}
}
