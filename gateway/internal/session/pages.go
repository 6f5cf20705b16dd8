package session

import (
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// fitPage returns the part [from, to) of a page of items costing costs[i] bytes each that fits
// in budget: the head when keepHead (the client asks next for what follows the last item it
// got), else the tail (it asks for what precedes the first). At least one item is kept, so a
// client always makes progress; one item costs at most a message's worst-case encoding, which
// every budget exceeds.
func fitPage(costs []int, budget int, keepHead bool) (from, to int) {
	n := len(costs)
	if n == 0 {
		return 0, 0
	}
	used := 0
	if keepHead {
		for to = 0; to < n; to++ {
			if to > 0 && used+costs[to] > budget {
				break
			}
			used += costs[to]
		}
		return 0, to
	}
	for from = n; from > 0; from-- {
		if from < n && used+costs[from-1] > budget {
			break
		}
		used += costs[from-1]
	}
	return from, n
}

// pageOverhead allows for a page frame's own fields around its messages.
const pageOverhead = 1 << 10

// historyFrame builds the history frame answering id from msgs, dropping the oldest messages
// that would take it past budget in this session's encoding (more is then set: the client
// pages back from the first message it got).
func (s *Session) historyFrame(id, conv string, msgs []*fd.StoredMessage, more bool, budget int) *fd.ServerFrame {
	mf := make([]*fd.ServerFrame, len(msgs))
	costs := make([]int, len(msgs))
	var buf []byte
	for i, sm := range msgs {
		mf[i] = frames.MessageFrame(sm.GetMessage(), sm.GetSeq())
		if s.binary {
			buf, _ = frames.AppendProto(buf[:0], mf[i])
			costs[i] = len(buf) + 8 // field tag and length
		} else {
			buf = frames.AppendJSON(buf[:0], mf[i])
			costs[i] = len(buf) + 1 // comma
		}
	}
	from, to := fitPage(costs, budget-pageOverhead, false)
	more = more || from > 0
	return &fd.ServerFrame{Type: frames.TypeHistory, Id: id, Conv: conv, More: &more, Messages: mf[from:to]}
}
