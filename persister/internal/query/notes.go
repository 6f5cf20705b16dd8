package query

import (
	"context"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// KindNotes is the query kind of staff's search of private notes (subjects.NotesQuery).
const KindNotes = "notes"

// notes answers a NotesSearchRequest from the tenant of the subject.
func (s *Server) notes(ctx context.Context, m *nats.Msg) (proto.Message, error) {
	req, t, err := decodeRequest(s, m, func(r *fd.NotesSearchRequest) (string, bool) {
		return "conv", r.GetConv() == "" || subjects.ValidToken(r.GetConv())
	})
	if err != nil {
		return nil, err
	}
	return s.st.SearchNotes(ctx, t, req)
}
