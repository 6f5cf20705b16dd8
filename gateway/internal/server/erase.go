package server

import (
	"encoding/json"
	"io"
	"net/http"

	"go.uber.org/zap"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// handleErase answers POST /v1/erase {"user": "<customer id>"} for a tenant's supervisors:
// the persister erases the customer of the caller's tenant everywhere and answers the audit id
// and the counts removed. The requester recorded in the audit is the supervisor's user id.
func (s *Server) handleErase(w http.ResponseWriter, r *http.Request) {
	c, ok := s.supervisor(w, r, "erasing a customer is for supervisors")
	if !ok {
		return
	}
	var body struct {
		User string `json:"user"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body); err != nil || !subjects.ValidToken(body.User) {
		http.Error(w, `{"user": "<customer id>"} expected`, http.StatusBadRequest)
		return
	}
	reply, err := s.sessions.Erase(r.Context(), &fd.EraseRequest{Tenant: c.Tenant, User: body.User, RequestedBy: c.Subject})
	if err != nil {
		s.log.Warn("erase failed", zap.String("tenant", c.Tenant), zap.Error(err))
		http.Error(w, "the record did not answer; ask again to resume", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	status := http.StatusOK
	if reply.GetError() != "" {
		status = http.StatusServiceUnavailable
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": reply.GetId(), "counts": reply.GetCounts(), "error": reply.GetError()})
}
