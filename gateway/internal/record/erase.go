package record

import (
	"context"
	"time"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// eraseTimeout bounds an erase request: the persister purges streams, buckets and objects and
// deletes the Postgres rows of every conversation of the customer.
const eraseTimeout = 2 * time.Minute

// Erase asks the persister to erase a customer everywhere (frontdesk.v1.EraseRequest). An
// erase cut short (a timeout, a persister restart) is resumed by the persister; asking again is
// safe.
func (r *Record) Erase(ctx context.Context, req *fd.EraseRequest) (*fd.EraseReply, error) {
	ctx, cancel := context.WithTimeout(ctx, eraseTimeout)
	defer cancel()
	reply := &fd.EraseReply{}
	if err := r.request(ctx, subjects.Erase(req.GetTenant()), req, reply); err != nil {
		return nil, err
	}
	return reply, nil
}
