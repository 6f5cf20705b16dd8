package bot

import (
	"strings"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// KeyframeEvery is how often a streamed reply repeats its whole text between deltas: a client
// that joined late, missed a frame (live frames are core NATS, not stored) or takes keyframes
// only (PROTOCOL.md, Streamed replies) catches up at this pace.
const KeyframeEvery = time.Second

// partials decides the partial frames of one streamed reply: the first one, one every
// KeyframeEvery and any whose text does not extend what was sent are keyframes (text: the whole
// text so far); the others are deltas (delta: only what is new). Before deltas every partial
// carried the whole text, so a reply of n characters cost O(n^2) bytes on the bus and on every
// participant's socket. It is pure: the caller throttles, stamps and publishes.
type partials struct {
	interval time.Duration // least time between two frames (partial_interval)
	sent     string        // the text the frames so far add up to
	part     int32
	last     time.Time // last frame
	key      time.Time // last keyframe
}

// next returns the frame for text (the whole reply so far) at now, or nil when it is too soon
// after the last frame or nothing is new. Only the fields that differ between frames are set.
func (p *partials) next(text string, now time.Time) *fd.ServerFrame {
	if text == p.sent || (p.part > 0 && now.Sub(p.last) < p.interval) {
		return nil
	}
	p.part++
	part, yes := p.part, true
	f := &fd.ServerFrame{Partial: &yes, Part: &part}
	if p.part == 1 || now.Sub(p.key) >= KeyframeEvery || !strings.HasPrefix(text, p.sent) {
		f.Text, p.key = text, now
	} else {
		f.Delta = text[len(p.sent):]
	}
	p.sent, p.last = text, now
	return f
}

// frame fills in what every partial frame of the reply carries.
func partialFrame(f *fd.ServerFrame, id, conv string, from *fd.Participant, now time.Time) *fd.ServerFrame {
	f.Type, f.Id, f.Conv, f.From, f.Kind, f.Ts = frames.TypeMessage, id, conv, from, frames.KindText, frames.Timestamp(now)
	return f
}
