package staging

// GeneralPathOnly makes s stage every deal on the general path (intakeTx),
// never in a batch, so that a test can compare the two paths on the same
// input. Call it before the store's first Intake.
func GeneralPathOnly(s *Store) { s.batchNew = false }
