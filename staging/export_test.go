package staging

// SchemaSteps is the number of schema migration steps, for the tests.
var SchemaSteps = len(schemaMigrations)
