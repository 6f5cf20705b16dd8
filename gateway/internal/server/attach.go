package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/record"
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

// errTooLarge ends an upload that ran past its tenant's limit.
var errTooLarge = errors.New("attachment too large")

// capped reads at most n bytes, failing with errTooLarge past them, so an upload streams to the
// store and stops there instead of being read whole first.
type capped struct {
	r   io.Reader
	n   int64
	err error // the first read error but EOF: the client's fault, not the store's
}

func (c *capped) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	if c.n < 0 {
		err = errTooLarge
	}
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return k, err
}

// handleUpload stores a multipart upload (fields conv and file) for a participant of conv. conv
// comes first, in the query (?conv=) or as the first field, so a caller who is not a
// participant is refused before the file is read; the file then streams to the object store,
// up to the tenant's limit, under a read deadline and within per-user and per-tenant caps on
// uploads in progress. The type is sniffed from the content, not taken from the client, and
// names the file's extension.
func (s *Server) handleUpload(rw http.ResponseWriter, r *http.Request) {
	cors(rw, r)
	rc := http.NewResponseController(rw)
	// Every refusal ends the body's read and closes the connection: net/http would otherwise
	// read up to 256 KB of the unread body before answering (a chunked body whatever the
	// Connection header says), and wait on a stalled one until its deadline.
	w := &refusing{ResponseWriter: rw, rc: rc}
	defer s.holdRefusal(w) // after the upload slot is released (defers run last first)
	w.Header().Set("Connection", "close")
	c, t, err := s.authenticate(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	if !s.uploads.acquire(c.Tenant, c.Subject) {
		s.metrics.AuthFailures.WithLabelValues("too_many_uploads").Inc()
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many uploads in progress", http.StatusTooManyRequests)
		return
	}
	s.metrics.Uploads.Inc()
	defer s.metrics.Uploads.Dec()
	defer s.uploads.release(c.Tenant, c.Subject)
	// The upload's own deadlines replace the server's HTTP timeout: the body may take up to
	// UploadTimeout, and the answer must still get out after it.
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.UploadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.UploadTimeout + s.cfg.HTTPTimeout))
	maxBytes, types := attachmentLimits(t)
	r.Body = http.MaxBytesReader(rw, r.Body, maxBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "multipart body expected", http.StatusBadRequest)
		return
	}
	conv := r.URL.Query().Get("conv")
	checked := false
	check := func() bool {
		if checked {
			return true
		}
		if !subjects.ValidToken(conv) {
			http.Error(w, "conv is required, before file", http.StatusBadRequest)
			return false
		}
		ok, err := s.sessions.Participant(r.Context(), c.Tenant, c.Subject, conv)
		if err != nil {
			s.refuse(w, err)
			return false
		}
		if !ok {
			http.Error(w, "not a participant", http.StatusForbidden)
			return false
		}
		checked = true
		return true
	}
	if conv != "" && !check() {
		return
	}
	var att *fd.Attachment
	for att == nil {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.uploadError(w, fmt.Errorf("%w: %w", errBody, err))
			return
		}
		switch part.FormName() {
		case "conv":
			if checked {
				break // the query named it
			}
			b, _ := io.ReadAll(io.LimitReader(part, 200))
			conv = string(b)
			if !check() {
				return
			}
		case "file":
			if !check() {
				return
			}
			att, err = s.storeUpload(r, c.Tenant, conv, c.Subject, part, maxBytes, types)
			if err != nil {
				s.uploadError(w, err)
				return
			}
		}
		_ = part.Close()
	}
	if att == nil {
		http.Error(w, "conv and file are required", http.StatusBadRequest)
		return
	}
	w.Header().Del("Connection")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": att.GetId(), "url": att.GetUrl(), "type": att.GetType(),
		"size": att.GetSize(), "name": att.GetName()})
}

// refusing is an upload's ResponseWriter: an error status first moves the read deadline to
// now, so that net/http, finding the body unread, gives up on it at once and closes the
// connection after the answer, instead of reading (and discarding) up to 256 KB of it. Under
// an upload flood that discarding was a fifth of the gateway's CPU (BENCHMARKS.md).
type refusing struct {
	http.ResponseWriter
	rc   *http.ResponseController
	code int // the status written, 0 before
}

func (w *refusing) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	if code >= http.StatusBadRequest {
		_ = w.rc.SetReadDeadline(time.Now())
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *refusing) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// holdRefusal keeps an upload refused for the client's fault (4xx) waiting before its answer
// goes out (the answer sits in the response's buffer until the handler returns).
func (s *Server) holdRefusal(w *refusing) {
	if w.code >= http.StatusBadRequest && w.code < http.StatusInternalServerError {
		s.holdAnswer()
	}
}

// holdAnswer waits Config.RefusalDelay. The request's context is no way out of the wait: a
// refused upload's small body read to its end has net/http read the connection in the
// background, and the read deadline the refusal set cancels the context at once.
func (s *Server) holdAnswer() {
	if s.cfg.RefusalDelay > 0 {
		time.Sleep(s.cfg.RefusalDelay)
	}
}

// errType refuses a sniffed type the tenant does not allow.
type errType string

func (e errType) Error() string { return "type " + string(e) + " not allowed" }

// storeUpload sniffs the part's type from its first 512 bytes and streams it to the store.
func (s *Server) storeUpload(r *http.Request, tenant, conv, user string, part *multipart.Part, maxBytes int64, types []string) (*fd.Attachment, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(part, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%w: %w", errBody, err)
	}
	if n == 0 {
		return nil, errEmpty
	}
	head = head[:n]
	typ := sniffType(head)
	if !slices.Contains(types, typ) {
		return nil, errType(typ)
	}
	body := &capped{r: io.MultiReader(bytes.NewReader(head), part), n: maxBytes}
	att, err := s.sessions.PutAttachmentWithin(r.Context(), tenant, conv, user, session.NewID("att_"),
		AttachmentName(part.FileName(), typ), typ, body, uploadReserve(r, maxBytes))
	if err != nil && body.err != nil {
		return nil, fmt.Errorf("%w: %w", errBody, body.err)
	}
	return att, err
}

var (
	errEmpty = errors.New("empty file")
	errBody  = errors.New("bad multipart body")
)

// uploadError answers a failed upload with its status.
func (s *Server) uploadError(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	var et errType
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &mbe):
		http.Error(w, "attachment too large", http.StatusRequestEntityTooLarge)
	case errors.As(err, &et):
		http.Error(w, et.Error(), http.StatusUnsupportedMediaType)
	case errors.Is(err, os.ErrDeadlineExceeded):
		http.Error(w, "upload too slow", http.StatusRequestTimeout)
	case errors.Is(err, errEmpty):
		http.Error(w, "empty file", http.StatusBadRequest)
	case errors.Is(err, record.ErrQuotaExceeded):
		quotaExceeded(w)
	case errors.Is(err, errBody):
		http.Error(w, "bad multipart body", http.StatusBadRequest)
	default:
		s.refuse(w, err)
	}
}

// extensions name a file after its sniffed type, whatever name the client gave it.
var extensions = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
	"image/webp": ".webp", "application/pdf": ".pdf", "audio/mpeg": ".mp3", "audio/ogg": ".ogg",
	"audio/wav": ".wav", "audio/webm": ".webm", "text/plain": ".txt", "video/mp4": ".mp4", "video/webm": ".webm",
	"application/zip": ".zip"}

// maxNameRunes bounds an attachment's file name.
const maxNameRunes = 120

// AttachmentName is the name an upload is stored and offered under: the client's base name,
// without control or bidirectional-formatting characters (U+202E would show "gpj.exe" as
// "exe.jpg") and without its extension, followed by the extension of the sniffed type, so the
// name never claims another type than the content's.
func AttachmentName(name, typ string) string {
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		name = name[i+1:] // the base name: browsers send no path, other clients might
	}
	name = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Bidi_Control, r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, frames.CleanText(name))
	name = strings.TrimSpace(name)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	name = strings.Trim(name, " .")
	if r := []rune(name); len(r) > maxNameRunes {
		name = string(r[:maxNameRunes])
	}
	if name == "" {
		name = "attachment"
	}
	ext, ok := extensions[typ]
	if !ok {
		if exts, _ := mime.ExtensionsByType(typ); len(exts) > 0 {
			ext = exts[0]
		}
	}
	return name + ext
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
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.UploadTimeout))
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

// uploadSlots counts uploads in progress per user and per tenant, so stalled uploads cannot
// pile up: each holds a socket, a body deadline's worth of time and a chunk buffer.
type uploadSlots struct {
	perUser, perTenant int

	mu      sync.Mutex
	users   map[string]int
	tenants map[string]int
}

func newUploadSlots(perUser, perTenant int) *uploadSlots {
	return &uploadSlots{perUser: perUser, perTenant: perTenant, users: map[string]int{}, tenants: map[string]int{}}
}

func (u *uploadSlots) acquire(tenant, user string) bool {
	k := tenant + "/" + user
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.users[k] >= u.perUser || u.tenants[tenant] >= u.perTenant {
		return false
	}
	u.users[k]++
	u.tenants[tenant]++
	return true
}

func (u *uploadSlots) release(tenant, user string) {
	k := tenant + "/" + user
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.users[k]--; u.users[k] <= 0 {
		delete(u.users, k)
	}
	if u.tenants[tenant]--; u.tenants[tenant] <= 0 {
		delete(u.tenants, tenant)
	}
}
