package retention

import (
	"context"
	"time"
)

// expireAgentStatus deletes tenant's agent status events older than cutoff, in batches as
// messages are.
func (r *Runner) expireAgentStatus(ctx context.Context, tenant string, cutoff time.Time) (int64, error) {
	var total int64
	for range r.opt.MaxBatches {
		n, err := r.st.ExpireAgentStatus(ctx, tenant, cutoff, r.opt.BatchSize)
		total += n
		if err != nil || n < int64(r.opt.BatchSize) {
			return total, err
		}
	}
	return total, nil
}
