package memory_test

import (
	"testing"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/memory"
	"github.com/bookbridge/bookbridge/loader/refschema"
)

func TestConformance(t *testing.T) {
	t.Run("schemaless", func(t *testing.T) {
		loadertest.RunConformance(t, func(t *testing.T) loader.Target { return memory.New(memory.Options{}) })
	})
	t.Run("schema", func(t *testing.T) {
		loadertest.RunConformance(t, func(t *testing.T) loader.Target {
			return memory.New(memory.Options{Tables: refschema.Tables()})
		})
	})
	// A target with nothing but the Target methods: loader.GetRows and
	// loader.ListAttachments fall back to Find and Attachments.
	t.Run("plain", func(t *testing.T) {
		loadertest.RunConformance(t, func(t *testing.T) loader.Target {
			return plainTarget{memory.New(memory.Options{Tables: refschema.Tables()})}
		})
	})
}

// plainTarget hides the optional interfaces of the target it wraps.
type plainTarget struct{ loader.Target }
