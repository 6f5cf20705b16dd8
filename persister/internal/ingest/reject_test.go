package ingest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/ingest"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// randomHex returns n random hex digits: incompressible enough that Postgres cannot shrink
// the value into an index row.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)[:n]
}

// randomHan returns n random CJK ideographs: a text whose bigrams are nearly all distinct.
func randomHan(n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0x4E00 + mrand.IntN(0x9FFF-0x4E00)))
	}
	return b.String()
}

// metricSum adds up the values of the counter name whose labels include want.
func metricSum(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// deadLetters returns the persister's dead letters, in the order they were published.
func (e *env) deadLetters(ctx context.Context) ([]*fd.DeadLetter, error) {
	s, err := e.js.Stream(ctx, subjects.StreamDeadLetters)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []*fd.DeadLetter
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m.Subject != subjects.DeadLetters(ingest.ServiceName) {
			continue
		}
		var d fd.DeadLetter
		if err := proto.Unmarshal(m.Data, &d); err != nil {
			return nil, err
		}
		out = append(out, &d)
	}
	return out, nil
}

// jsAckPrefix starts the subjects JetStream consumers are acked on (NATS's own protocol,
// not a Frontdesk subject): $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
// seq>.<time>.<pending>, or with <domain>.<account hash> after ACK in the newer format.
const jsAckPrefix = "$JS.ACK."

// ackWatch sees every ack the persister's messages consumer sends, as the server does, and
// checks it when it is sent: an ack (+ACK) only for a message whose row is committed, a
// termination (+TERM) only for a message already on the dead-letter subject.
type ackWatch struct {
	mu         sync.Mutex
	acked      map[uint64]int
	terminated []uint64
	violations []string
	// settled counts the acks and terminations as they arrive, before they are checked.
	settled atomic.Int64
}

func (e *env) watchAcks(t *testing.T) *ackWatch {
	t.Helper()
	nc, _ := testkit.Connect(t, e.srv.URL())
	w := &ackWatch{acked: map[uint64]int{}}
	sub, err := nc.Subscribe(jsAckPrefix+">", func(m *nats.Msg) {
		tok := strings.Split(m.Subject, ".")
		var stream, consumer, seqTok string
		switch {
		case len(tok) == 9:
			stream, consumer, seqTok = tok[2], tok[3], tok[5]
		case len(tok) >= 11:
			stream, consumer, seqTok = tok[4], tok[5], tok[7]
		default:
			w.violate("unparsable ack subject %s", m.Subject)
			return
		}
		if stream != subjects.StreamMessages || consumer != "persister-messages" {
			return
		}
		seq, err := strconv.ParseUint(seqTok, 10, 64)
		if err != nil {
			w.violate("ack subject %s: %v", m.Subject, err)
			return
		}
		body := string(m.Data)
		if body == "" || body == "+ACK" || strings.HasPrefix(body, "+TERM") {
			w.settled.Add(1)
		}
		switch {
		case body == "" || body == "+ACK":
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var ok bool
			for {
				err = e.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM messages WHERE tenant = 'acme' AND conv = 'c1' AND seq = $1)", seq).Scan(&ok)
				if err == nil || ctx.Err() != nil {
					break
				}
				// A connection the restarted server no longer knows; try another one after a
				// pause (a retry bounded by ctx, in an ack handler where testkit.CheckFor, which
				// fails the test, may not run).
				time.Sleep(50 * time.Millisecond)
			}
			w.mu.Lock()
			w.acked[seq]++
			w.mu.Unlock()
			if err != nil || !ok {
				w.violate("seq %d acked but not in the record (%v)", seq, err)
			}
		case strings.HasPrefix(body, "+TERM"):
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			dls, err := e.deadLetters(ctx)
			if err != nil || !slices.ContainsFunc(dls, func(d *fd.DeadLetter) bool { return d.Seq == seq }) {
				w.violate("seq %d terminated but not dead-lettered (%v)", seq, err)
			}
			w.mu.Lock()
			w.terminated = append(w.terminated, seq)
			w.mu.Unlock()
		case body == "+WPI":
		default:
			w.violate("seq %d: unexpected ack %q", seq, body)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *ackWatch) violate(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
}

// check fails the test if an ack broke the rules, or if the terminated messages are not
// exactly want.
func (w *ackWatch) check(t *testing.T, want ...uint64) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.violations) > 0 {
		t.Fatalf("%d bad acks, first: %s", len(w.violations), strings.Join(w.violations[:min(5, len(w.violations))], "; "))
	}
	got := slices.Clone(w.terminated)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("terminated seqs %v, want %v", got, want)
	}
}

// waitAcked waits until the watch has checked acks of n distinct messages: it checks each
// as it comes, so it may lag behind the consumer.
func (w *ackWatch) waitAcked(t *testing.T, n int) {
	t.Helper()
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.acked) < n {
			return fmt.Errorf("%d messages acked, want %d", len(w.acked), n)
		}
		return nil
	})
}

// publishOne publishes m and returns its stream sequence.
func (e *env) publishOne(t *testing.T, m *fd.Message) (uint64, []byte) {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.js.Publish(context.Background(), subjects.Messages(m.Tenant, m.Conv), data, jetstream.WithMsgID("special"))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence, data
}

// A message that decodes but that Postgres refuses, in the middle of full batches: the
// batch is split around it, every other message lands once, the refused one goes to the dead
// letters with Postgres's reason and is counted, later messages still land, and no message
// is acked before its row is committed. Values Postgres refuses only because of a detail
// the persister can repair (a NUL in the text, a text too long for the search index) are
// stored instead.
func TestRejectedRowIsSplitOut(t *testing.T) {
	t.Parallel()
	const n = 600 // before and after the special message: three batches of 200 each side
	tests := []struct {
		name string
		// special makes the message published between the good ones, from the good message
		// it replaces.
		special func(t *testing.T, m *fd.Message)
		// reason is what the dead letter's reason must contain; "" means the message is
		// stored.
		reason []string
		// stored checks the special message's row when it is stored.
		stored func(t *testing.T, e *env, seq uint64, m *fd.Message)
		// repaired is the frontdesk_persister_repaired_total the message counts.
		repaired float64
	}{
		{
			name: "message id too long for its index",
			special: func(t *testing.T, m *fd.Message) {
				m.Id = "m_" + randomHex(t, 6000)
			},
			reason: []string{"rejected", "index row size", "SQLSTATE 54000"},
		},
		{
			name: "sender id too long for the users key",
			special: func(t *testing.T, m *fd.Message) {
				m.From.Id = randomHex(t, 6000)
			},
			reason: []string{"rejected", "index row size", "SQLSTATE 54000"},
		},
		{
			// Half a megabyte of Chinese has more distinct bigrams than a tsvector holds; the
			// message is stored whole and found by its beginning.
			name: "text too long for the search index",
			special: func(_ *testing.T, m *fd.Message) {
				m.Text = randomHan(200000)
			},
			stored: func(t *testing.T, e *env, seq uint64, m *fd.Message) {
				var text string
				if err := e.pool.QueryRow(context.Background(), "SELECT text FROM messages WHERE id = $1", m.Id).Scan(&text); err != nil {
					t.Fatal(err)
				}
				if text != m.Text {
					t.Fatalf("stored text of %d bytes, published %d", len(text), len(m.Text))
				}
				head := []rune(m.Text)[:2]
				rep, err := e.st.Search(context.Background(), "acme", &fd.SearchRequest{Query: string(head)})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(rep.Hits, func(h *fd.SearchHit) bool { return h.Seq == int64(seq) }) {
					t.Fatalf("search for %q: %v", string(head), rep.Hits)
				}
			},
		},
		{
			name: "NUL in the text",
			special: func(_ *testing.T, m *fd.Message) {
				m.Text = "before\x00after"
			},
			stored: func(t *testing.T, e *env, _ uint64, m *fd.Message) {
				var text string
				if err := e.pool.QueryRow(context.Background(), "SELECT text FROM messages WHERE id = $1", m.Id).Scan(&text); err != nil {
					t.Fatal(err)
				}
				if text != "beforeafter" {
					t.Fatalf("stored text %q", text)
				}
			},
			repaired: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			ctx := context.Background()
			acks := e.watchAcks(t)
			// Everything is in the stream before the consumer starts, so the special message
			// arrives in a full batch.
			e.publishMany(t, "c1", 0, n/2)
			special := message("c1", 99999)
			tt.special(t, special)
			seq, data := e.publishOne(t, special)
			e.publishMany(t, "c1", n/2, n)
			e.run(t, e.st.WriteMessages)

			want := n
			if tt.reason == nil {
				want++
			}
			e.waitRows(t, want)
			// The stream is not blocked: messages published afterwards land too.
			e.publishMany(t, "c1", n, n+100)
			e.waitRows(t, want+100)

			acks.waitAcked(t, want+100)
			dls, err := e.deadLetters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stream := map[string]string{"stream": subjects.StreamMessages}
			if tt.reason == nil {
				if len(dls) != 0 {
					t.Fatalf("dead letters: %v", dls[0].Reason)
				}
				tt.stored(t, e, seq, special)
				acks.check(t)
			} else {
				if len(dls) != 1 {
					t.Fatalf("%d dead letters, want 1", len(dls))
				}
				d := dls[0]
				if d.Seq != seq || d.Subject != subjects.Messages("acme", "c1") || d.Stream != subjects.StreamMessages ||
					d.Service != ingest.ServiceName || !slices.Equal(d.Data, data) {
					t.Fatalf("dead letter: seq %d (want %d), subject %s, stream %s, %d bytes", d.Seq, seq, d.Subject, d.Stream, len(d.Data))
				}
				for _, r := range tt.reason {
					if !strings.Contains(d.Reason, r) {
						t.Fatalf("dead letter reason %q does not name %q", d.Reason, r)
					}
				}
				var in int
				if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE seq = $1", seq).Scan(&in); err != nil || in != 0 {
					t.Fatalf("the refused message is in the record (%d, %v)", in, err)
				}
				acks.check(t, seq)
			}
			if got := metricSum(t, e.reg, "frontdesk_persister_dead_letters_total", map[string]string{"stream": subjects.StreamMessages, "reason": "rejected"}); got != float64(len(dls)) {
				t.Fatalf("frontdesk_persister_dead_letters_total{reason=rejected} = %v, want %d", got, len(dls))
			}
			if got := metricSum(t, e.reg, "frontdesk_persister_repaired_total", stream); got != tt.repaired {
				t.Fatalf("frontdesk_persister_repaired_total = %v, want %v", got, tt.repaired)
			}
			// Bad data is not a failing write: nothing was held or retried.
			if got := metricSum(t, e.reg, "frontdesk_persister_write_errors_total", stream); got != 0 {
				t.Fatalf("frontdesk_persister_write_errors_total = %v, want 0", got)
			}
			if err := e.consumer.Ready(ctx); err != nil {
				t.Fatalf("not ready: %v", err)
			}
		})
	}
}

// Postgres stopped is not bad data: with the database down (connection refused) nothing is
// dead-lettered and nothing is acked, the batch is held and retried, and once Postgres is
// back every message lands once. A message Postgres does refuse, held in the same outage, is
// dead-lettered only after Postgres is back and says so.
func TestPostgresDownIsNotADataError(t *testing.T) {
	t.Parallel()
	pg := testkit.StoppablePostgres(t)
	e := setupWith(t, pg.CreateDatabase(t, "frontdesk"))
	ctx := context.Background()
	acks := e.watchAcks(t)
	e.run(t, e.st.WriteMessages)
	e.publishMany(t, "c1", 0, 200)
	e.waitRows(t, 200)
	acks.waitAcked(t, 200)

	settled := acks.settled.Load()
	e.pool.Reset()
	pg.Stop(t)
	stopped := time.Now()
	e.publishMany(t, "c1", 200, 400)
	bad := message("c1", 99999)
	bad.Id = "m_" + randomHex(t, 6000)
	badSeq, _ := e.publishOne(t, bad)
	e.publishMany(t, "c1", 400, 600)

	// Held well past AckWait (1s): the batches are kept with in-progress acks and retried.
	stream := map[string]string{"stream": subjects.StreamMessages}
	testkit.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		if n := metricSum(t, e.reg, "frontdesk_persister_write_errors_total", stream); n < 10 {
			return fmt.Errorf("%v failed write attempts", n)
		}
		if time.Since(stopped) < 4*time.Second {
			return errors.New("not long enough")
		}
		return nil
	})
	if err := e.consumer.Ready(ctx); err == nil {
		t.Fatal("ready while Postgres is down")
	}
	if dls, err := e.deadLetters(ctx); err != nil || len(dls) != 0 {
		t.Fatalf("dead letters during the outage: %d (%v)", len(dls), err)
	}
	if got := metricSum(t, e.reg, "frontdesk_persister_dead_letters_total", stream); got != 0 {
		t.Fatalf("frontdesk_persister_dead_letters_total = %v during the outage", got)
	}
	acks.check(t)
	if n := acks.settled.Load() - settled; n != 0 {
		t.Fatalf("%d messages acked or terminated while Postgres was down", n)
	}

	pg.Start(t)
	e.pool.Reset()
	e.waitRows(t, 600)
	acks.waitAcked(t, 600)
	dls, err := e.deadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].Seq != badSeq || !strings.Contains(dls[0].Reason, "SQLSTATE 54000") {
		t.Fatalf("dead letters after the outage: %v", dls)
	}
	acks.check(t, badSeq)
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error { return e.consumer.Ready(ctx) })
}

// The store's write is what the split isolates rows with: a refused batch fails as a whole
// and leaves nothing behind, so the halves that commit are exactly the good rows.
func TestRefusedBatchLeavesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	var rows []store.MessageRow
	for i := range 10 {
		rows = append(rows, store.MessageRow{Seq: int64(i + 1), Msg: message("c1", i)})
	}
	rows[7].Msg.Id = "m_" + randomHex(t, 6000)
	_, err := e.st.WriteMessages(ctx, rows)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "54000" {
		t.Fatalf("write = %v, want SQLSTATE 54000", err)
	}
	if got, _ := e.count(t); got != 0 {
		t.Fatalf("%d rows after a refused batch", got)
	}
}
