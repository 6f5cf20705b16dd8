package retention

import "time"

// SetNow replaces the runner's clock.
func SetNow(r *Runner, now func() time.Time) { r.now = now }
