package frames

import (
	"fmt"
	"strings"
	"unicode/utf8"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// desk writes the desk's fields of a server frame (a family's serverJSON).
func (w *jw) desk(f *fd.ServerFrame) {
	w.nested("rating", f.GetRating(), f.Rating != nil)
	w.nested("board", f.GetBoard(), f.Board != nil)
	w.str("csat_scale", f.GetCsatScale())
	w.optInt("note_seq", f.NoteSeq)
}

// Bounds of the workspace's frames.
const (
	// MaxNotes is the most notes a notes frame returns (the newest).
	MaxNotes = 200
	// DefaultCommentChars bounds a rating's comment when the tenant sets no max_comment.
	DefaultCommentChars = 500
	// MaxCommentChars is the highest max_comment a tenant may set.
	MaxCommentChars = 2000
)

// NoteFrame turns a stored note and its FD_NOTES sequence into the `note` frame staff receive.
// It is its own frame type, not a message: a client that does not know notes ignores it.
func NoteFrame(m *fd.Message, seq int64) *fd.ServerFrame {
	f := &fd.ServerFrame{
		Type:     TypeNote,
		Id:       m.GetId(),
		Conv:     m.GetConv(),
		ClientId: m.GetClientId(),
		From:     m.GetFrom(),
		Kind:     KindText,
		Text:     truncateText(m.GetText(), MaxTextBytes),
	}
	if seq > 0 {
		f.NoteSeq = &seq
	}
	if m.CreatedAt != nil {
		f.Ts = Timestamp(m.CreatedAt.AsTime())
	}
	return f
}

// ScaleMax is the highest score of a CSAT scale, 0 for an unknown or empty one (no survey).
func ScaleMax(scale string) int32 {
	switch scale {
	case ScaleFive:
		return 5
	case ScaleThumbs:
		return 2
	}
	return 0
}

// CommentLimit is the tenant's bound on a rating's comment, in characters.
func CommentLimit(c *fd.Csat) int {
	n := int(c.GetMaxComment())
	if n <= 0 {
		return DefaultCommentChars
	}
	return min(n, MaxCommentChars)
}

// validateDesk checks the desk's client frames (note, notes, rate; a family's validate); ok is
// false for any other type.
func validateDesk(f *fd.ClientFrame) (ok bool, err error) {
	switch f.GetType() {
	case TypeNote:
		if f.GetConv() == "" || f.GetId() == "" {
			return true, fmt.Errorf("%w: note frame needs id and conv", ErrBadFrame)
		}
		if strings.TrimSpace(f.GetText()) == "" || !utf8.ValidString(f.GetText()) {
			return true, fmt.Errorf("%w: note frame needs text (UTF-8)", ErrBadFrame)
		}
	case TypeNotes:
		if f.GetConv() == "" && strings.TrimSpace(f.GetText()) == "" {
			return true, fmt.Errorf("%w: notes frame needs conv or text", ErrBadFrame)
		}
	case TypeRate:
		if f.GetConv() == "" || f.Score == nil {
			return true, fmt.Errorf("%w: rate frame needs conv and score", ErrBadFrame)
		}
		if f.GetScore() < 1 || f.GetScore() > 5 {
			return true, fmt.Errorf("%w: score must be 1 to 5", ErrBadFrame)
		}
		if utf8.RuneCountInString(f.GetComment()) > MaxCommentChars || !utf8.ValidString(f.GetComment()) {
			return true, fmt.Errorf("%w: comment over %d characters or not UTF-8", ErrBadFrame, MaxCommentChars)
		}
	case TypeRoster: // follow the roster (remove: stop); nothing else to check
	default:
		return false, nil
	}
	return true, nil
}

// RatingRefusal says why customer may not rate c with score and comment under csat, or ""
// when they may. The gateway asks it to answer at once,
// the dispatcher to decide for good; both say the same.
func RatingRefusal(c *fd.Conversation, customer string, csat *fd.Csat, score int32, comment string) string {
	top := ScaleMax(csat.GetScale())
	switch {
	case c.GetCustomer().GetId() != customer:
		return "not your conversation"
	case top == 0:
		return "this service does not ask for ratings"
	case c.GetState() != StateClosed:
		return "a conversation is rated once it is closed"
	case c.GetRating() != nil:
		return "this conversation is already rated"
	case score < 1 || score > top:
		return fmt.Sprintf("score must be 1 to %d", top)
	case utf8.RuneCountInString(comment) > CommentLimit(csat):
		return fmt.Sprintf("comment over %d characters", CommentLimit(csat))
	}
	return ""
}
