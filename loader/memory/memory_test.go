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
}
