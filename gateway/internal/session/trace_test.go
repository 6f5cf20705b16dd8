package session

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// frameTracing is what tracing adds to one send frame's path: the frame's span, the trace map
// of the message, the headers of its publish and the log fields of a failure.
func frameTracing(ctx context.Context, s *Session, f *fd.ClientFrame, h nats.Header) {
	ctx, span := s.startFrame(ctx, f)
	_ = tracing.InjectMap(ctx, nil)
	_ = tracing.InjectHeader(ctx, h)
	_ = tracing.LogFields(ctx)
	frameFailed(span, nil)
	span.End()
}

// TestFrameTracingOffAllocatesNothing: with tracing off (the default), the tracing added to
// the frame path costs no allocation.
func TestFrameTracingOffAllocatesNothing(t *testing.T) {
	m := testManager(t)
	s := testSession(m, &stuckTransport{release: make(chan struct{})})
	f := &fd.ClientFrame{Type: frames.TypeSend, Id: "x", Conv: "c1", Text: "hi"}
	h := nats.Header{jetstream.MsgIDHeader: []string{"id"}}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { frameTracing(ctx, s, f, h) }); n != 0 {
		t.Fatalf("tracing off allocates %.1f times per frame, want 0", n)
	}
	if len(h) != 1 {
		t.Fatalf("tracing off wrote headers: %v", h)
	}
}

// BenchmarkFrameTracingOff measures the tracing added to a frame's path with tracing off.
func BenchmarkFrameTracingOff(b *testing.B) {
	m := testManager(b)
	s := testSession(m, &stuckTransport{release: make(chan struct{})})
	f := &fd.ClientFrame{Type: frames.TypeSend, Id: "x", Conv: "c1", Text: "hi"}
	h := nats.Header{jetstream.MsgIDHeader: []string{"id"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		frameTracing(ctx, s, f, h)
	}
}
