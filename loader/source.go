package loader

import (
	"context"
	"fmt"
	"sync"
)

// AttachmentSource gives the executor the bytes of the staging attachments
// that a plan's steps put onto target records ([Attachment.ID]).
// The staging store implements it in the server.
type AttachmentSource interface {
	Open(ctx context.Context, id string) ([]byte, error)
}

// MapSource is an AttachmentSource over a map from attachment id to
// content, for tests and examples. It is safe for concurrent use once
// built.
type MapSource map[string][]byte

// Open returns the content stored under id.
func (m MapSource) Open(_ context.Context, id string) ([]byte, error) {
	b, ok := m[id]
	if !ok {
		return nil, fmt.Errorf("loader: no attachment %q in the source", id)
	}
	return b, nil
}

// SourceFunc adapts a function to AttachmentSource.
type SourceFunc func(ctx context.Context, id string) ([]byte, error)

// Open calls f.
func (f SourceFunc) Open(ctx context.Context, id string) ([]byte, error) { return f(ctx, id) }

// onceSource caches the bytes of each attachment for the length of one
// load, so a file that goes to several records is read once.
type onceSource struct {
	src AttachmentSource
	mu  sync.Mutex
	m   map[string][]byte
}

func (o *onceSource) Open(ctx context.Context, id string) ([]byte, error) {
	o.mu.Lock()
	b, ok := o.m[id]
	o.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := o.src.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	o.m[id] = b
	o.mu.Unlock()
	return b, nil
}
