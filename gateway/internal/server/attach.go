package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/session"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Attachment defaults when the tenant sets none.
const defaultMaxAttachment = 10 << 20

var defaultTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
	"audio/mpeg", "audio/ogg", "audio/wav", "audio/webm", "text/plain"}

func attachmentLimits(t *fd.Tenant) (int64, []string) {
	max, types := t.GetAttachments().GetMaxBytes(), t.GetAttachments().GetTypes()
	if max <= 0 {
		max = defaultMaxAttachment
	}
	if len(types) == 0 {
		types = defaultTypes
	}
	return max, types
}

// handleUpload stores a multipart upload (fields conv and file) for a participant of conv. The
// type is sniffed from the content, not taken from the client.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	c, t, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	maxBytes, types := attachmentLimits(t)
	r.Body = http.MaxBytesReader(w, r.Body, maxBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "multipart body expected", http.StatusBadRequest)
		return
	}
	var conv string
	var data []byte
	var name string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "attachment too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			http.Error(w, "bad multipart body", http.StatusBadRequest)
			return
		}
		switch part.FormName() {
		case "conv":
			b, _ := io.ReadAll(io.LimitReader(part, 200))
			conv = string(b)
		case "file":
			name = frames.CleanText(part.FileName())
			data, err = io.ReadAll(io.LimitReader(part, maxBytes+1))
			if errors.As(err, &mbe) || int64(len(data)) > maxBytes {
				http.Error(w, "attachment too large", http.StatusRequestEntityTooLarge)
				return
			}
			if err != nil {
				http.Error(w, "bad multipart body", http.StatusBadRequest)
				return
			}
		}
		_ = part.Close()
	}
	if conv == "" || data == nil || !subjects.ValidToken(conv) {
		http.Error(w, "conv and file are required", http.StatusBadRequest)
		return
	}
	typ := sniffType(data)
	if !slices.Contains(types, typ) {
		http.Error(w, "type "+typ+" not allowed", http.StatusUnsupportedMediaType)
		return
	}
	ok, err := s.sessions.Participant(r.Context(), c.Tenant, c.Subject, conv)
	if err != nil {
		s.refuse(w, err)
		return
	}
	if !ok {
		http.Error(w, "not a participant", http.StatusForbidden)
		return
	}
	att, err := s.sessions.PutAttachment(r.Context(), c.Tenant, conv, c.Subject, session.NewID("att_"), name, typ,
		bytes.NewReader(data))
	if err != nil {
		s.refuse(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": att.GetId(), "url": att.GetUrl(), "type": att.GetType(),
		"size": att.GetSize(), "name": att.GetName()})
}

// handleDownload serves an attachment to participants of its conversation (and supervisors of
// the tenant). The token may be in the query so <img src> works.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	c, _, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	att, conv, err := s.sessions.Attachment(r.Context(), c.Tenant, r.PathValue("id"))
	if errors.Is(err, session.ErrNoAttachment) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.refuse(w, err)
		return
	}
	if c.Role != frames.RoleSupervisor {
		ok, err := s.sessions.Participant(r.Context(), c.Tenant, c.Subject, conv)
		if err != nil {
			s.refuse(w, err)
			return
		}
		if !ok {
			http.Error(w, "not a participant", http.StatusForbidden)
			return
		}
	}
	body, err := s.sessions.OpenAttachment(r.Context(), att.GetId())
	if err != nil {
		s.refuse(w, err)
		return
	}
	defer body.Close()
	h := w.Header()
	h.Set("Content-Type", att.GetType())
	h.Set("Content-Length", strconv.FormatInt(att.GetSize(), 10))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, max-age=3600")
	disp := "attachment"
	if typ := att.GetType(); len(typ) > 6 && (typ[:6] == "image/" || typ[:6] == "audio/") {
		disp = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": att.GetName()}))
	_, _ = io.Copy(w, body)
}
