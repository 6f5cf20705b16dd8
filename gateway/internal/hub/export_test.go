package hub

// SetCatchUpHook makes every reconnect catch-up of h call f once it has taken the followed
// conversations over (their live messages are held from then on) and before it reads the
// stream. Set it before Watch starts.
func SetCatchUpHook(h *Hub, f func()) { h.catchUpHook = f }

// High returns the highest sequence h received live on a followed conversation.
func High(h *Hub) int64 { return h.high.Load() }

// Mark returns h's catch-up mark: a reconnect catch-up reads the stream from after it.
func Mark(h *Hub) int64 { return h.mark.Load() }
