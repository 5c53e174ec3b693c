package websocket

// Polled counts the connections h's poller watches (-1: no poller).
func Polled(h *Handler) int {
	if h.poll == nil {
		return -1
	}
	return h.poll.count()
}
