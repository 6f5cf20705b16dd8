package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
)

// TestObservability runs the four services as processes with tracing turned on by the
// standard OTEL_* variables alone, exporting over OTLP/HTTP to a receiver in the test that
// decodes the real export requests. One customer message is one trace from the socket to the
// Postgres row and to the agent's socket (gateway frame span, persister write, hub delivery to
// both sessions); the customer's first message continues into the dispatcher's open command
// and the AI bridge's reply; the handoff into the dispatcher's command and the assignment
// delivered back to the sockets. Then every service's /metrics keeps the naming and
// cardinality rules after that traffic.
func TestObservability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the four services as processes")
	}
	t.Parallel()
	rcv := testkit.RunOTLP(t)
	srv := testkit.RunNATS(t)
	otel := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.URL(), "OTEL_BSP_SCHEDULE_DELAY=100"}
	extra := map[string][]string{}
	for _, n := range stack.Names() {
		extra[n] = otel
	}
	sys := StartSystem(t, SystemOptions{NATSURL: srv.URL(), Tenants: []*fd.Tenant{tenantLike(t, "traced", nil)}, Extra: extra})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	agent := sys.Agent(t, ctx, "traced", "tia", "Tia", 2)
	wait(t, ctx, agent, func(f *fd.ServerFrame) bool {
		return f.GetType() == frames.TypePresence && f.GetAgentsAvailable() >= 1
	})
	customer, _, _ := sys.Customer(t, ctx, "traced", "Tracy")
	first := send(t, ctx, customer, "", "first", "hello, is anyone there?")
	wait(t, ctx, customer, isBotFinal(first.conv))
	if err := customer.Send(ctx, &fd.ClientFrame{Type: frames.TypeHandoff, Id: "handoff", Conv: first.conv}); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, agent, wsclient.Is(frames.TypeAssigned, first.conv))
	wait(t, ctx, customer, isAssignedTo(first.conv, "tia"))
	traced := send(t, ctx, customer, first.conv, "traced", "this one is followed")
	wait(t, ctx, agent, isMessage(first.conv, traced.text))
	testkit.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		rows, err := sys.Messages(ctx, "traced", first.conv)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.Text == traced.text {
				return nil
			}
		}
		return fmt.Errorf("%q not in Postgres yet", traced.text)
	})

	frame := func(spans []testkit.Span, typ, conv string) (testkit.Span, error) {
		for _, s := range spans {
			if s.Service == stack.Gateway && s.Name == "frame "+typ && s.Attributes["frontdesk.tenant"] == "traced" &&
				s.Attributes["frontdesk.conv"] == conv {
				return s, nil
			}
		}
		return testkit.Span{}, fmt.Errorf("no %q frame span of conversation %q among %d spans", typ, conv, len(spans))
	}
	// childOf finds a span of service named name in root's trace whose parent is parent.
	childOf := func(spans []testkit.Span, parent testkit.Span, service, name string, attrs map[string]string) (testkit.Span, error) {
	next:
		for _, s := range spans {
			if s.TraceID != parent.TraceID || s.ParentID != parent.SpanID || s.Service != service || s.Name != name {
				continue
			}
			for k, v := range attrs {
				if s.Attributes[k] != v {
					continue next
				}
			}
			return s, nil
		}
		return testkit.Span{}, fmt.Errorf("no %s span %q (%v) under %s %q in trace %s:\n%s", service, name, attrs,
			parent.Service, parent.Name, parent.TraceID, describeTrace(spans, parent.TraceID))
	}
	for _, tc := range []struct {
		name  string
		check func(spans []testkit.Span) error
	}{
		{"the followed message reaches Postgres and both sockets", func(spans []testkit.Span) error {
			root, err := frame(spans, frames.TypeSend, first.conv)
			if err != nil {
				return err
			}
			if root.ParentID != "" {
				return fmt.Errorf("the frame span has a parent: %+v", root)
			}
			if _, err := childOf(spans, root, stack.Persister, "persist FD_MESSAGES", nil); err != nil {
				return err
			}
			// The hub hands it to the customer's session and the agent's.
			_, err = childOf(spans, root, stack.Gateway, "deliver messages", map[string]string{"frontdesk.sessions": "2"})
			return err
		}},
		{"the first message opens the conversation at the dispatcher and is answered by the bot", func(spans []testkit.Span) error {
			root, err := frame(spans, frames.TypeSend, "")
			if err != nil {
				return err
			}
			if _, err := childOf(spans, root, stack.Dispatcher, "command open", nil); err != nil {
				return err
			}
			if _, err := childOf(spans, root, stack.Persister, "persist FD_MESSAGES", nil); err != nil {
				return err
			}
			_, err = childOf(spans, root, stack.AIBridge, "bot reply", nil)
			return err
		}},
		{"the handoff is applied by the dispatcher and its assignment delivered", func(spans []testkit.Span) error {
			root, err := frame(spans, frames.TypeHandoff, first.conv)
			if err != nil {
				return err
			}
			cmd, err := childOf(spans, root, stack.Dispatcher, "command handoff", nil)
			if err != nil {
				return err
			}
			if _, err := childOf(spans, cmd, stack.Persister, "persist FD_EVENTS", nil); err != nil {
				return err
			}
			_, err = childOf(spans, cmd, stack.Gateway, "deliver events", nil)
			return err
		}},
	} {
		t.Run("trace: "+tc.name, func(t *testing.T) {
			testkit.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error { return tc.check(rcv.Spans()) })
		})
	}
	t.Run("metrics: names and bounded labels", func(t *testing.T) { checkMetrics(t, ctx, sys) })
}

// describeTrace lists the spans of one trace, for a failure message.
func describeTrace(spans []testkit.Span, traceID string) string {
	var b strings.Builder
	for _, s := range spans {
		if s.TraceID == traceID {
			fmt.Fprintf(&b, "  %s %q span %s parent %s %v\n", s.Service, s.Name, s.SpanID, s.ParentID, s.Attributes)
		}
	}
	return b.String()
}
