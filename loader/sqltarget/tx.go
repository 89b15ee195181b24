package sqltarget

import (
	"context"
	"fmt"
	"sync"

	"github.com/bookbridge/bookbridge/loader"
)

// Begin implements loader.Transactional: the returned target writes inside
// one transaction, its calls serialized on the transaction's connection.
func (t *Target) Begin(ctx context.Context) (loader.Tx, error) {
	tx, err := t.root.BeginTx(ctx, nil)
	if err != nil {
		return nil, classify(fmt.Errorf("sqltarget: beginning a transaction: %w", err))
	}
	return &txTarget{Target: Target{db: tx, root: t.root, opts: t.opts, cols: t.cols, mu: &sync.Mutex{}}, commit: tx.Commit, rollback: tx.Rollback}, nil
}

type txTarget struct {
	Target
	commit, rollback func() error
}

// Commit makes the load's writes durable.
func (x *txTarget) Commit(context.Context) error {
	defer x.lock()()
	if err := x.commit(); err != nil {
		return classify(fmt.Errorf("sqltarget: committing: %w", err))
	}
	return nil
}

// Rollback discards the load's writes.
func (x *txTarget) Rollback(context.Context) error {
	defer x.lock()()
	if err := x.rollback(); err != nil {
		return classify(fmt.Errorf("sqltarget: rolling back: %w", err))
	}
	return nil
}
