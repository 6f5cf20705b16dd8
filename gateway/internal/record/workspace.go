package record

import (
	"context"
	"fmt"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// The agent workspace's queries to the persister: search, canned responses, contacts. A reply's
// error field is a refusal the caller reports (CannedReply: "forbidden", "limit reached",
// "duplicate shortcut", "not found"); a failed request is an error.

// Search asks the persister for a search's hits.
func (r *Record) Search(ctx context.Context, req *fd.SearchRequest) (*fd.SearchReply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	reply := &fd.SearchReply{}
	if err := r.request(ctx, subjects.SearchQuery(req.GetTenant()), req, reply); err != nil {
		return nil, fmt.Errorf("search %w", err)
	}
	if reply.GetError() != "" {
		return nil, fmt.Errorf("search: %s", reply.GetError())
	}
	return reply, nil
}

// Canned lists, saves or deletes canned responses.
func (r *Record) Canned(ctx context.Context, req *fd.CannedRequest) (*fd.CannedReply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	reply := &fd.CannedReply{}
	if err := r.request(ctx, subjects.CannedQuery(req.GetTenant()), req, reply); err != nil {
		return nil, fmt.Errorf("canned %w", err)
	}
	return reply, nil
}

// Contact reads or changes a contact.
func (r *Record) Contact(ctx context.Context, req *fd.ContactRequest) (*fd.ContactReply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	reply := &fd.ContactReply{}
	if err := r.request(ctx, subjects.ContactQuery(req.GetTenant()), req, reply); err != nil {
		return nil, fmt.Errorf("contact %w", err)
	}
	if reply.GetError() != "" {
		return nil, fmt.Errorf("contact: %s", reply.GetError())
	}
	return reply, nil
}
