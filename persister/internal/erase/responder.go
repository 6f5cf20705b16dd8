package erase

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// QueueGroup is the queue group of the erase responders (every persister replica).
const QueueGroup = "persister"

// Responder answers erase requests (fd.v1.admin.erase.<tenant>) one at a time.
type Responder struct {
	nc      *nats.Conn
	run     *Runner
	timeout time.Duration
	log     *zap.Logger
	sub     *nats.Subscription
}

// NewResponder answers requests with run; each erase gets at most timeout.
func NewResponder(nc *nats.Conn, run *Runner, timeout time.Duration, log *zap.Logger) *Responder {
	return &Responder{nc: nc, run: run, timeout: timeout, log: log}
}

// Start subscribes.
func (r *Responder) Start() error {
	sub, err := r.nc.QueueSubscribe(subjects.AllErase(), QueueGroup, r.handle)
	if err != nil {
		return fmt.Errorf("subscribe erase requests: %w", err)
	}
	r.sub = sub
	if err := r.nc.Flush(); err != nil {
		return fmt.Errorf("flush erase subscription: %w", err)
	}
	return nil
}

// Stop drains the subscription: an erase in progress finishes and is answered.
func (r *Responder) Stop(context.Context) error {
	if r.sub == nil {
		return nil
	}
	return r.sub.Drain()
}

func (r *Responder) handle(m *nats.Msg) {
	reply := r.answer(m)
	b, err := proto.Marshal(reply)
	if err == nil {
		err = m.Respond(b)
	}
	if err != nil {
		r.log.Warn("erase reply not sent", zap.Error(err))
	}
}

func (r *Responder) answer(m *nats.Msg) *fd.EraseReply {
	req := &fd.EraseRequest{}
	if err := proto.Unmarshal(m.Data, req); err != nil {
		return &fd.EraseReply{Error: "bad request"}
	}
	// The tenant is the subject's: the gateway publishes on the caller's tenant only.
	if req.GetTenant() == "" || subjects.Erase(req.GetTenant()) != m.Subject {
		return &fd.EraseReply{Error: "tenant does not match the subject"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	res, err := r.run.Erase(ctx, req.GetTenant(), req.GetUser(), req.GetRequestedBy())
	out := &fd.EraseReply{Id: res.ID, Counts: res.Counts}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}
