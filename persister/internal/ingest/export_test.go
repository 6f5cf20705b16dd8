package ingest

// Queued is the number of delivered messages waiting in c's workers' queues for a batch.
func Queued[T any](c *Consumer[T]) int { return c.queued() }
