// Satisfaction ratings: a customer rates their closed conversation once. The gateway refuses
// at once what it can see is wrong (someone else's conversation, not closed, rated already, a
// score off the tenant's scale) with a clear error; the dispatcher decides for good (two tabs
// rating at the same moment) and publishes the rated event.

package session

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// refusal is a forbidden frame whose reason and message are sent as they are.
type refusal struct{ reason, msg string }

func (e refusal) Error() string        { return e.msg }
func (e refusal) Is(target error) bool { return target == errForbidden }

// commentFits refuses a rating comment over the largest bound any tenant may set (the tenant's
// own, smaller one, is checked with the conversation).
func commentFits(f *fd.ClientFrame) error {
	if utf8.RuneCountInString(f.GetComment()) > frames.MaxCommentChars {
		return fmt.Errorf("%w: comment over %d characters", errTooLarge, frames.MaxCommentChars)
	}
	return nil
}

func (s *Session) handleRate(ctx context.Context, f *fd.ClientFrame) error {
	c, err := s.m.rec.Conversation(ctx, s.tenant, f.GetConv())
	if err != nil {
		return err
	}
	if c == nil {
		return errUnknownConv
	}
	t, _ := s.m.tenants.Get(s.tenant)
	comment := frames.CleanText(f.GetComment())
	if why := frames.RatingRefusal(c, s.user, t.GetCsat(), f.GetScore(), comment); why != "" {
		return refusal{reason: frames.ReasonRatingRefused, msg: why}
	}
	return s.command(ctx, f, subjects.ConvCommands(s.tenant, f.GetConv()),
		&fd.Command{Type: frames.CommandRate, Conv: f.GetConv(), Customer: s.me, Score: f.GetScore(), Comment: comment})
}
