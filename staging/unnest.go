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
// into rows with the columns' names, under alias.
func (ins *arrayInsert) rows(first int, alias string) string {
	params := make([]string, len(ins.columns))
	for i, c := range ins.columns {
		params[i] = fmt.Sprintf("$%d::%s", first+i, arrayKinds[c.kind].name)
	}
	return fmt.Sprintf("SELECT * FROM unnest(%s) AS %s(%s)", strings.Join(params, ", "), alias, ins.names())
}

// oids returns the parameters' types, in order.
func (ins *arrayInsert) oids() []uint32 {
	out := make([]uint32, len(ins.columns))
	for i, c := range ins.columns {
		out[i] = arrayKinds[c.kind].oid
	}
	return out
}

// values returns one array per column of the rows (pointers to T), as
// pgtype's encoders take them. A nullzero field's zero value is NULL, as
// Bun writes it.
func (ins *arrayInsert) values(rows []reflect.Value) []any {
	out := make([]any, len(ins.columns))
	for i, c := range ins.columns {
		out[i] = c.values(rows)
	}
	return out
}

func (c arrayColumn) values(rows []reflect.Value) any {
	f := c.field
	null := func(v reflect.Value) bool {
		if !f.NullZero {
			return false
		}
		if t, ok := v.Interface().(time.Time); ok {
			return t.IsZero()
		}
		return v.IsZero()
	}
	field := func(row reflect.Value) reflect.Value { return f.Value(row.Elem()) }
	switch c.kind {
	case arrayInt8:
		out := make([]pgtype.Int8, len(rows))
		for i, row := range rows {
			v := field(row)
			out[i] = pgtype.Int8{Int64: v.Int(), Valid: !null(v)}
		}
		return out
	case arrayText:
		out := make([]pgtype.Text, len(rows))
		for i, row := range rows {
			v := field(row)
			out[i] = pgtype.Text{String: v.String(), Valid: !null(v)}
		}
		return out
	case arrayTimestamptz:
		out := make([]pgtype.Timestamptz, len(rows))
		for i, row := range rows {
			v := field(row)
			out[i] = pgtype.Timestamptz{Time: v.Interface().(time.Time), Valid: !null(v)}
		}
		return out
	case arrayBytea:
		out := make([][]byte, len(rows))
		for i, row := range rows {
			v := field(row)
			b := v.Bytes()
			if b == nil && !null(v) {
				b = []byte{} // empty, not NULL: NULL only for nullzero
			}
			out[i] = b
		}
		return out
	default: // arrayBool
		out := make([]pgtype.Bool, len(rows))
		for i, row := range rows {
			v := field(row)
			out[i] = pgtype.Bool{Bool: v.Bool(), Valid: !null(v)}
		}
		return out
	}
}
