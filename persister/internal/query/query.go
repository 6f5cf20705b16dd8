// Package query answers the record's NATS request/reply API (history, conversations, unread,
// search, report) from Postgres. Every replica subscribes in the queue group "persister", so any one
// of them answers each request.
package query

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/persister/internal/reports"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// QueueGroup is the queue group of every responder.
const QueueGroup = "persister"

// Kinds of query, as in subjects.AllQueries.
const (
	KindHistory       = "history"
	KindConversations = "conversations"
	KindUnread        = "unread"
	KindSearch        = "search"
	KindReport        = "report"
)

// Errors put in replies' error field. They are stable strings a client may match.
var (
	ErrUnknownTenant  = errors.New("unknown tenant")
	ErrTenantMismatch = errors.New("request tenant does not match the subject")
	ErrBadRequest     = errors.New("bad request")
	ErrUnavailable    = errors.New("record unavailable")
	ErrTooLarge       = errors.New("reply too large")
)

// replyHeadroom is left under the server's max_payload for the reply's subject and headers.
const replyHeadroom = 8 << 10

// maxReply is the reply budget: MaxReplyBytes, and below what the server carries.
func (s *Server) maxReply() int {
	limit := s.opt.MaxReplyBytes
	if mp := int(s.nc.MaxPayload()); mp > replyHeadroom {
		limit = min(limit, mp-replyHeadroom)
	}
	return limit
}

// afterPage reports whether a history request reads forward (after a sequence), from its raw
// bytes; a bad request has no page to fit.
func afterPage(data []byte) bool {
	var req fd.HistoryRequest
	return proto.Unmarshal(data, &req) == nil && req.GetAfter() > 0
}

// fitHistory drops messages from a page until its encoding is at most limit bytes, setting more:
// from the end of a forward page (the client asks next for what follows the last message it
// got), from the start of a backward or latest one (it asks for what precedes the first). One
// message is always kept, so a reader makes progress; the caller refuses a reply still too
// large.
func fitHistory(h *fd.HistoryReply, after bool, limit int) {
	total := proto.Size(h)
	if total <= limit || len(h.Messages) <= 1 {
		return
	}
	h.More = true
	total = proto.Size(h)
	cost := func(m *fd.StoredMessage) int { return proto.Size(&fd.HistoryReply{Messages: []*fd.StoredMessage{m}}) }
	for total > limit && len(h.Messages) > 1 {
		if after {
			total -= cost(h.Messages[len(h.Messages)-1])
			h.Messages = h.Messages[:len(h.Messages)-1]
		} else {
			total -= cost(h.Messages[0])
			h.Messages = h.Messages[1:]
		}
	}
}

// Options tune the server.
type Options struct {
	// Timeout bounds one query (default 5s).
	Timeout time.Duration
	// Concurrency bounds queries in flight in this replica (default 16).
	Concurrency int
	// MaxReplyBytes bounds an encoded reply (default 512 KiB, and always under the server's
	// max_payload, past which a reply is never delivered): a history page is cut short, with
	// more set, to fit; any other reply that does not fit is answered with an error.
	MaxReplyBytes int
	// KnownTenant reports whether a tenant is configured; nil accepts every tenant.
	KnownTenant func(id string) bool
	// TimeZone returns a tenant's time zone (its business hours'), the default of its
	// reports; nil or "" means UTC.
	TimeZone func(id string) string
	// PublishEvent stores an event in FD_EVENTS on subject with id as its Nats-Msg-Id and
	// returns once JetStream acknowledged it (a duplicate counts as stored). It publishes the
	// contact_labeled events; nil publishes nothing (tests of the record alone).
	PublishEvent func(ctx context.Context, subject, id string, data []byte) error
}

// Server answers queries.
type Server struct {
	nc   *nats.Conn
	st   *store.Store
	opt  Options
	log  *zap.Logger
	sem  chan struct{}
	subs []*nats.Subscription

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup

	total   *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// New returns a server answering from st; Start subscribes it.
func New(nc *nats.Conn, st *store.Store, opt Options, reg prometheus.Registerer, log *zap.Logger) *Server {
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 16
	}
	if opt.MaxReplyBytes <= 0 {
		opt.MaxReplyBytes = 512 << 10
	}
	s := &Server{
		nc: nc, st: st, opt: opt, log: log, sem: make(chan struct{}, opt.Concurrency),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdesk_persister_queries_total",
			Help: "Queries answered, by kind and result (ok or error).",
		}, []string{"kind", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "frontdesk_persister_query_seconds",
			Help:    "Time to answer a query.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"kind"}),
	}
	reg.MustRegister(s.total, s.latency)
	return s
}

// Start subscribes to every query subject in the queue group.
func (s *Server) Start() error {
	for _, kind := range append([]string{KindHistory, KindConversations, KindUnread, KindSearch, KindReport, KindNotes}, workspaceKinds...) {
		sub, err := s.nc.QueueSubscribe(subjects.AllQueries(kind), QueueGroup, s.dispatch(kind))
		if err != nil {
			return fmt.Errorf("subscribe %s queries: %w", kind, err)
		}
		s.subs = append(s.subs, sub)
	}
	// The subscriptions must reach the server before the service reports ready.
	if err := s.nc.Flush(); err != nil {
		return fmt.Errorf("flush query subscriptions: %w", err)
	}
	return nil
}

// Stop unsubscribes (other replicas take the queries) and waits for queries in flight until
// ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queries in flight at shutdown: %w", ctx.Err())
	}
}

// dispatch runs each request in its own goroutine, at most Concurrency at once: a slow
// search must not hold up history pages behind it.
func (s *Server) dispatch(kind string) nats.MsgHandler {
	return func(m *nats.Msg) {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		s.sem <- struct{}{}
		go func() {
			defer func() { <-s.sem; s.wg.Done() }()
			s.handle(kind, m)
		}()
	}
}

func (s *Server) handle(kind string, m *nats.Msg) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), s.opt.Timeout)
	defer cancel()
	reply, err := s.answer(ctx, kind, m)
	result := "ok"
	if err != nil {
		result = "error"
		if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrUnknownTenant) && !errors.Is(err, ErrTenantMismatch) {
			s.log.Warn("query failed", zap.String("kind", kind), zap.String("subject", m.Subject), zap.Error(err))
			// Database details stay in the log; the client learns only that it failed.
			err = ErrUnavailable
		}
		reply = errorReply(kind, err.Error())
	}
	s.total.WithLabelValues(kind, result).Inc()
	s.latency.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if m.Reply == "" {
		return
	}
	limit := s.maxReply()
	if h, ok := reply.(*fd.HistoryReply); ok {
		fitHistory(h, afterPage(m.Data), limit)
	}
	data, err := proto.Marshal(reply)
	if err != nil {
		s.log.Error("marshal reply", zap.String("kind", kind), zap.Error(err))
		return
	}
	if len(data) > limit {
		s.log.Warn("reply too large", zap.String("kind", kind), zap.Int("bytes", len(data)))
		data, _ = proto.Marshal(errorReply(kind, ErrTooLarge.Error()))
	}
	if err := m.Respond(data); err != nil {
		s.log.Debug("respond", zap.Error(err))
	}
}

func errorReply(kind, msg string) proto.Message {
	switch kind {
	case KindHistory:
		return &fd.HistoryReply{Error: msg}
	case KindConversations:
		return &fd.ConversationsReply{Error: msg}
	case KindUnread:
		return &fd.UnreadReply{Error: msg}
	case KindReport:
		return &fd.ReportReply{Error: msg}
	case KindCanned:
		return &fd.CannedReply{Error: msg}
	case KindContact:
		return &fd.ContactReply{Error: msg}
	case KindNotes:
		return &fd.NotesSearchReply{Error: msg}
	default:
		return &fd.SearchReply{Error: msg}
	}
}

// tenantOf checks the request's tenant against the subject's, which NATS permissions
// enforced: a request can never read another tenant's record.
func (s *Server) tenantOf(subject, reqTenant string) (string, error) {
	p, err := subjects.Parse(subject)
	if err != nil || p.Kind != "query" || p.Tenant == "" {
		return "", fmt.Errorf("%w: subject %s", ErrBadRequest, subject)
	}
	if reqTenant != "" && reqTenant != p.Tenant {
		return "", ErrTenantMismatch
	}
	if s.opt.KnownTenant != nil && !s.opt.KnownTenant(p.Tenant) {
		return "", ErrUnknownTenant
	}
	return p.Tenant, nil
}

// request is what every query's request is: a protobuf message naming its tenant.
type request interface {
	proto.Message
	GetTenant() string
}

// decodeRequest unmarshals m's data into a new request of type P, checks its tenant against
// the subject's (tenantOf) and then its identifiers with valid, which names what is wrong when
// they are not subject tokens (nil: nothing more to check). Every error is the client's
// (ErrBadRequest, ErrTenantMismatch, ErrUnknownTenant), so none reaches the log as a failure.
func decodeRequest[T any, P interface {
	*T
	request
}](s *Server, m *nats.Msg, valid func(P) (what string, ok bool)) (P, string, error) {
	req := P(new(T))
	if err := proto.Unmarshal(m.Data, req); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	t, err := s.tenantOf(m.Subject, req.GetTenant())
	if err != nil {
		return nil, "", err
	}
	if valid != nil {
		if what, ok := valid(req); !ok {
			return nil, "", fmt.Errorf("%w: %s", ErrBadRequest, what)
		}
	}
	return req, t, nil
}

func (s *Server) answer(ctx context.Context, kind string, m *nats.Msg) (proto.Message, error) {
	switch kind {
	case KindHistory:
		req, t, err := decodeRequest(s, m, func(r *fd.HistoryRequest) (string, bool) {
			return "conv, before or after", subjects.ValidToken(r.GetConv()) && r.GetBefore() >= 0 && r.GetAfter() >= 0
		})
		if err != nil {
			return nil, err
		}
		return s.st.History(ctx, t, req)
	case KindConversations:
		req, t, err := decodeRequest(s, m, func(r *fd.ConversationsRequest) (string, bool) {
			return "user", subjects.ValidToken(r.GetUser())
		})
		if err != nil {
			return nil, err
		}
		return s.st.Conversations(ctx, t, req)
	case KindUnread:
		req, t, err := decodeRequest(s, m, func(r *fd.UnreadRequest) (string, bool) {
			return "user or convs", subjects.ValidToken(r.GetUser()) && subjects.CheckTokens(r.GetConvs()...) == nil
		})
		if err != nil {
			return nil, err
		}
		return s.st.Unread(ctx, t, req)
	case KindSearch:
		req, t, err := decodeRequest[fd.SearchRequest](s, m, nil)
		if err != nil {
			return nil, err
		}
		return s.st.Search(ctx, t, req)
	case KindReport:
		req, t, err := decodeRequest[fd.ReportRequest](s, m, nil)
		if err != nil {
			return nil, err
		}
		zone := ""
		if s.opt.TimeZone != nil {
			zone = s.opt.TimeZone(t)
		}
		q, err := reports.Resolve(t, req, zone)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		reply, err := s.st.Report(ctx, q)
		if err != nil || !q.CSV {
			return reply, err
		}
		return &fd.ReportReply{TimeZone: reply.GetTimeZone(), Csv: string(reports.CSV(reply))}, nil
	case KindNotes:
		return s.notes(ctx, m) // notes.go
	}
	return s.answerWorkspace(ctx, kind, m) // workspace.go
}
