package query

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// KindNotes is the query kind of staff's search of private notes (subjects.NotesQuery).
const KindNotes = "notes"

// notes answers a NotesSearchRequest from the tenant of the subject.
func (s *Server) notes(ctx context.Context, m *nats.Msg) (proto.Message, error) {
	var req fd.NotesSearchRequest
	if err := proto.Unmarshal(m.Data, &req); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	t, err := s.tenantOf(m.Subject, req.GetTenant())
	if err != nil {
		return nil, err
	}
	if req.GetConv() != "" && !subjects.ValidToken(req.GetConv()) {
		return nil, fmt.Errorf("%w: conv", ErrBadRequest)
	}
	return s.st.SearchNotes(ctx, t, &req)
}
