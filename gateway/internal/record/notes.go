package record

import (
	"context"
	"fmt"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// SearchNotes asks the persister for staff's search of private notes.
func (r *Record) SearchNotes(ctx context.Context, req *fd.NotesSearchRequest) (*fd.NotesSearchReply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	reply := &fd.NotesSearchReply{}
	if err := r.request(ctx, subjects.NotesQuery(req.GetTenant()), req, reply); err != nil {
		return nil, fmt.Errorf("notes search %w", err)
	}
	if reply.GetError() != "" {
		return nil, fmt.Errorf("notes search: %s", reply.GetError())
	}
	return reply, nil
}
