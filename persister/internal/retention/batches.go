package retention

import (
	"context"
	"time"
)

// expireFunc deletes up to limit of tenant's rows older than cutoff (notes, contacts, agents'
// status events) and says how many.
type expireFunc func(ctx context.Context, tenant string, cutoff time.Time, limit int) (int64, error)

// inBatches runs expire for tenant in batches as messages are: at most MaxBatches of BatchSize
// a run, so one tenant's backlog cannot starve the others or the ingest.
func (r *Runner) inBatches(ctx context.Context, expire expireFunc, tenant string, cutoff time.Time) (int64, error) {
	var total int64
	for range r.opt.MaxBatches {
		n, err := expire(ctx, tenant, cutoff, r.opt.BatchSize)
		total += n
		if err != nil || n < int64(r.opt.BatchSize) {
			return total, err
		}
	}
	return total, nil
}
