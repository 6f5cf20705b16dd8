package retention

import (
	"context"
	"time"
)

// expireNotes deletes tenant's notes older than cutoff, in batches as messages are.
func (r *Runner) expireNotes(ctx context.Context, tenant string, cutoff time.Time) (int64, error) {
	var total int64
	for range r.opt.MaxBatches {
		n, err := r.st.ExpireNotes(ctx, tenant, cutoff, r.opt.BatchSize)
		total += n
		if err != nil || n < int64(r.opt.BatchSize) {
			return total, err
		}
	}
	return total, nil
}

// expireContacts deletes tenant's contacts not seen since cutoff, in batches as messages are.
func (r *Runner) expireContacts(ctx context.Context, tenant string, cutoff time.Time) (int64, error) {
	var total int64
	for range r.opt.MaxBatches {
		n, err := r.st.ExpireContacts(ctx, tenant, cutoff, r.opt.BatchSize)
		total += n
		if err != nil || n < int64(r.opt.BatchSize) {
			return total, err
		}
	}
	return total, nil
}
