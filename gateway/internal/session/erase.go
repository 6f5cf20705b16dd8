package session

import (
	"context"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Erase asks the persister to erase a customer everywhere (record.Record.Erase).
func (m *Manager) Erase(ctx context.Context, req *fd.EraseRequest) (*fd.EraseReply, error) {
	return m.rec.Erase(ctx, req)
}
