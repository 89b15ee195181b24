package server

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads the whole body whatever length was announced, in one
// buffer when the announcement is right.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("0123456789", 1000)
	for _, tc := range []struct {
		name      string
		r         io.Reader
		announced int64
		want      string
		err       error
	}{
		{"announced", strings.NewReader(body), int64(len(body)), body, nil},
		{"unknown", strings.NewReader(body), -1, body, nil},
		{"announced short", strings.NewReader(body), 10, body, nil},
		{"announced long", strings.NewReader(body), int64(2 * len(body)), body, nil},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(body)), int64(len(body)), body, nil},
		{"empty", strings.NewReader(""), 0, "", nil},
		{"error", iotest.ErrReader(io.ErrUnexpectedEOF), 100, "", io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(tc.r, tc.announced, nil)
			if !errors.Is(err, tc.err) || !bytes.Equal(got, []byte(tc.want)) {
				t.Fatalf("got %d bytes, %v; want %d bytes, %v", len(got), err, len(tc.want), tc.err)
			}
		})
	}
}
