package hub

// Queued returns how many messages (and join markers) wait in the channel of subject's worker.
func Queued(h *Hub, subject string) int { return len(h.shard(subject)) }
