package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// labeled is a labeled event of conv at seq leaving labels.
func labeled(tenant, conv string, seq int64, labels ...string) store.EventRow {
	r := evt(tenant, fmt.Sprintf("%s.%s.%d.labeled", tenant, conv, seq), conv, frames.EventLabeled, frames.StateAssigned, seq,
		time.Now(), "", "", "")
	r.Event.Labels = labels
	return r
}

// TestLabelsFollowTheNewestLabeledEvent: a conversation's labels are those of its newest
// labeled event, whatever order batches and redeliveries arrive in, even before the events
// that open it.
func TestLabelsFollowTheNewestLabeledEvent(t *testing.T) {
	t.Parallel()
	st, pool := newStore(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	batches := [][]store.EventRow{
		{labeled("acme", "c1", 5, "refund", "vip")}, // the newest first
		{evt("acme", "e1", "c1", frames.EventOpened, frames.StateBot, 1, t0, "u1", "", ""), labeled("acme", "c1", 3, "vip")},
		{labeled("acme", "c1", 5, "refund", "vip")}, // redelivered
		{labeled("acme", "c2", 7, "vip"), labeled("acme", "c2", 8)},
		{labeled("other", "c1", 9, "spam")},
	}
	for _, b := range batches {
		if _, err := st.WriteEvents(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		tenant, conv string
		want         []string
	}{
		{"acme", "c1", []string{"refund", "vip"}},
		{"acme", "c2", []string{}},
		{"other", "c1", []string{"spam"}},
	}
	for _, tt := range tests {
		var got []string
		if err := pool.QueryRow(ctx, `SELECT tags FROM conversations WHERE tenant = $1 AND id = $2`, tt.tenant, tt.conv).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s/%s labels %v, want %v", tt.tenant, tt.conv, got, tt.want)
		}
	}
	var customer string
	if err := pool.QueryRow(ctx, `SELECT customer_id FROM conversations WHERE tenant = 'acme' AND id = 'c1'`).Scan(&customer); err != nil || customer != "u1" {
		t.Fatalf("the opened event's fold after the labels: customer %q, %v", customer, err)
	}
}

// TestCannedResponses: who may create, change and delete which responses, the shortcut's
// uniqueness per owner, the per-owner limit, and that nobody lists another agent's or another
// tenant's responses.
func TestCannedResponses(t *testing.T) {
	t.Parallel()
	st, pool := newStore(t)
	ctx := context.Background()
	item := func(shortcut, owner string) *fd.CannedResponse {
		return &fd.CannedResponse{Shortcut: shortcut, Title: "t " + shortcut, Text: "Hello {{contact.name}}, " + shortcut, Owner: owner}
	}
	steps := []struct {
		name       string
		tenant     string
		user       string
		supervisor bool
		item       *fd.CannedResponse
		want       error
	}{
		{"a supervisor adds a shared response", "acme", "s1", true, item("refund", ""), nil},
		{"an agent may not add a shared one", "acme", "a1", false, item("hours", ""), store.ErrForbidden},
		{"an agent adds a personal one", "acme", "a1", false, item("hello", "a1"), nil},
		{"its shortcut may repeat a shared one", "acme", "a1", false, item("refund", "a1"), nil},
		{"but not one of their own", "acme", "a1", false, item("hello", "a1"), store.ErrDuplicateShortcut},
		{"the owner named is ignored: it is the caller's", "acme", "a2", false, item("mine", "a1"), nil},
		{"another tenant's supervisor", "other", "s9", true, item("refund", ""), nil},
	}
	for _, s := range steps {
		if err := st.SaveCanned(ctx, s.tenant, s.user, s.supervisor, s.item); !errors.Is(err, s.want) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
	}
	list := func(tenant, user string) []string {
		items, err := st.ListCanned(ctx, tenant, user)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range items {
			out = append(out, c.GetShortcut()+"/"+c.GetOwner())
		}
		return out
	}
	lists := []struct {
		tenant, user string
		want         []string
	}{
		{"acme", "a1", []string{"hello/a1", "refund/a1", "refund/"}},
		{"acme", "a2", []string{"mine/a2", "refund/"}},
		{"acme", "a3", []string{"refund/"}},
		{"other", "a1", []string{"refund/"}},
	}
	for _, l := range lists {
		if got := list(l.tenant, l.user); !slices.Equal(got, l.want) {
			t.Errorf("%s %s lists %v, want %v", l.tenant, l.user, got, l.want)
		}
	}
	shared, _ := st.ListCanned(ctx, "acme", "a3")
	id := shared[0].GetId()
	changes := []struct {
		name       string
		user       string
		supervisor bool
		del        bool
		want       error
	}{
		{"an agent may not change a shared one", "a1", false, false, store.ErrForbidden},
		{"an agent may not delete a shared one", "a1", false, true, store.ErrNotFound},
		{"a supervisor changes it", "s1", true, false, nil},
	}
	for _, c := range changes {
		var err error
		if c.del {
			err = st.DeleteCanned(ctx, "acme", c.user, c.supervisor, id)
		} else {
			err = st.SaveCanned(ctx, "acme", c.user, c.supervisor, &fd.CannedResponse{Id: id, Shortcut: "refund", Text: "Changed"})
		}
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if err := st.DeleteCanned(ctx, "other", "s9", true, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's supervisor deleted acme's response: %v", err)
	}
	if err := st.SaveCanned(ctx, "other", "s9", true, &fd.CannedResponse{Id: id, Shortcut: "x", Text: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's supervisor changed acme's response: %v", err)
	}
	if shared, _ = st.ListCanned(ctx, "acme", "a3"); shared[0].GetText() != "Changed" {
		t.Fatalf("shared response after the change: %v", shared[0])
	}
	// The personal limit: a full agent's next save is refused.
	if _, err := pool.Exec(ctx, `INSERT INTO canned_responses (tenant, id, owner, shortcut, text)
		SELECT 'acme', 'cr_full' || i, 'full', 's' || i, 'x' FROM generate_series(1, $1) i`, frames.MaxCannedPersonal); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCanned(ctx, "acme", "full", false, item("onemore", "full")); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("save past the limit: %v", err)
	}
}

// TestSearchFiltered: the workspace's search finds English and Chinese text, keeps an agent to
// the conversations they took part in, applies every filter, and never crosses tenants.
func TestSearchFiltered(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	evs := []store.EventRow{
		evt("acme", "e1", "c1", frames.EventAssigned, frames.StateAssigned, 1, day, "u1", "a1", ""),
		evt("acme", "e2", "c2", frames.EventAssigned, frames.StateAssigned, 2, day.Add(48*time.Hour), "u2", "a2", ""),
		evt("acme", "e3", "c3", frames.EventClosed, frames.StateClosed, 3, day.Add(24*time.Hour), "u3", "a1", ""),
		labeled("acme", "c1", 4, "refund"),
		evt("other", "e5", "c9", frames.EventAssigned, frames.StateAssigned, 5, day, "u9", "a1", ""),
	}
	if _, err := st.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	msgs := []store.MessageRow{
		msg("acme", "c1", 1, "u1", "I want a refund for my order", day),
		msg("acme", "c1", 2, "u1", "我想退款，谢谢", day),
		msg("acme", "c2", 3, "u2", "Where is my refund?", day.Add(48*time.Hour)),
		msg("acme", "c3", 4, "u3", "退款什么时候到账", day.Add(24*time.Hour)),
		msg("other", "c9", 5, "u9", "refund 退款 from another tenant", day),
	}
	if _, err := st.WriteMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	ts := func(d time.Time) *timestamppb.Timestamp { return timestamppb.New(d) }
	tests := []struct {
		name string
		req  *fd.SearchRequest
		want []string // conv/seq, best first (ties by newest)
	}{
		{"agent a1 sees their conversations only", &fd.SearchRequest{Query: "refund", User: "a1"}, []string{"c1/1"}},
		{"agent a2 sees theirs", &fd.SearchRequest{Query: "refund", User: "a2"}, []string{"c2/3"}},
		{"chinese, agent a1", &fd.SearchRequest{Query: "退款", User: "a1"}, []string{"c3/4", "c1/2"}},
		{"label filter", &fd.SearchRequest{Query: "退款", Label: "refund"}, []string{"c1/2"}},
		{"state filter", &fd.SearchRequest{Query: "退款", State: frames.StateClosed}, []string{"c3/4"}},
		{"agent filter", &fd.SearchRequest{Query: "refund", Agent: "a2"}, []string{"c2/3"}},
		{"date filter", &fd.SearchRequest{Query: "refund", From: ts(day.Add(time.Hour))}, []string{"c2/3"}},
		{"date range", &fd.SearchRequest{Query: "退款", From: ts(day.Add(-time.Hour)), To: ts(day.Add(time.Hour))}, []string{"c1/2"}},
		{"filters without a query list conversations", &fd.SearchRequest{User: "a1"}, []string{"c3/0", "c1/0"}},
		{"label without a query", &fd.SearchRequest{Label: "refund"}, []string{"c1/0"}},
		{"took part in one conversation", &fd.SearchRequest{User: "a1", Conv: "c3"}, []string{"c3/0"}},
		{"did not take part", &fd.SearchRequest{User: "a2", Conv: "c3"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, err := st.Search(ctx, "acme", tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range reply.GetHits() {
				got = append(got, fmt.Sprintf("%s/%d", h.GetConv(), h.GetSeq()))
				if h.GetCustomer().GetId() == "" || h.GetOpenedAt() == nil {
					t.Errorf("hit %s without its conversation: %v", h.GetConv(), h)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("hits %v, want %v", got, want)
			}
		})
	}
	reply, err := st.Search(ctx, "acme", &fd.SearchRequest{Query: "退款", Label: "refund"})
	if err != nil || len(reply.GetHits()) != 1 || reply.GetHits()[0].GetSnippet() != "我想«退款»，谢谢" ||
		!slices.Equal(reply.GetHits()[0].GetLabels(), []string{"refund"}) {
		t.Fatalf("a Chinese hit's snippet and labels: %v, %v", reply, err)
	}
}

// TestContacts: a contact is made on first sight and kept up to date from tokens, an agent's
// edits win over later tokens, and the contact comes with the customer's conversations and
// their labels; contacts of one tenant are not another's.
func TestContacts(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	seen := []struct {
		name, email, page string
		attrs             map[string]string
	}{
		{"Ann", "ann@example.com", "https://shop.example/cart", map[string]string{"plan": "pro"}},
		{"Ann B", "", "https://shop.example/help", map[string]string{"company": "Acme Ltd"}},
		{"", "", "https://shop.example/cart", nil},
	}
	for i, s := range seen {
		if err := st.ContactSeen(ctx, "acme", &fd.Contact{Id: "c_ann", Name: s.name, Email: s.email, Attributes: s.attrs}, s.page,
			t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.WriteEvents(ctx, []store.EventRow{
		evt("acme", "e1", "c1", frames.EventClosed, frames.StateClosed, 1, t0, "c_ann", "a1", ""),
		evt("acme", "e2", "c2", frames.EventAssigned, frames.StateAssigned, 2, t0.Add(time.Minute), "c_ann", "a2", ""),
		labeled("acme", "c1", 3, "vip"),
	}); err != nil {
		t.Fatal(err)
	}
	reply, err := st.Contact(ctx, "acme", "c_ann")
	if err != nil {
		t.Fatal(err)
	}
	c := reply.GetContact()
	if c.GetName() != "Ann B" || c.GetEmail() != "ann@example.com" || c.GetAttributes()["plan"] != "pro" ||
		c.GetAttributes()["company"] != "Acme Ltd" || !slices.Equal(c.GetPages(), []string{"https://shop.example/cart", "https://shop.example/help"}) ||
		!slices.Equal(c.GetLabels(), []string{"vip"}) {
		t.Fatalf("contact after three visits: %v", c)
	}
	var convs []string
	for _, r := range reply.GetConversations() {
		convs = append(convs, r.GetConv())
	}
	if !slices.Equal(convs, []string{"c2", "c1"}) {
		t.Fatalf("conversations %v, want c2, c1", convs)
	}
	if err := st.UpdateContact(ctx, "acme", &fd.Contact{Id: "c_ann", Name: "Ann Brown", Email: "ann.b@example.com", Notes: "Prefers email"}); err != nil {
		t.Fatal(err)
	}
	if err := st.ContactSeen(ctx, "acme", &fd.Contact{Id: "c_ann", Name: "Token Name", Email: "token@example.com"}, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if reply, err = st.Contact(ctx, "acme", "c_ann"); err != nil || reply.GetContact().GetName() != "Ann Brown" ||
		reply.GetContact().GetEmail() != "ann.b@example.com" || reply.GetContact().GetNotes() != "Prefers email" {
		t.Fatalf("an agent's edit after a later token: %v, %v", reply.GetContact(), err)
	}
	other, err := st.Contact(ctx, "other", "c_ann")
	if err != nil || other.GetContact().GetName() != "" || other.GetContact().GetNotes() != "" || len(other.GetConversations()) != 0 {
		t.Fatalf("another tenant's contact of the same id: %v, %v", other, err)
	}
}

// TestContactLabels: agents' labels on a contact itself, apart from its conversations' labels:
// added once each, kept sorted, removed, bounded (an add past the bound changes nothing), on a
// contact the record has not seen connect too, and per tenant.
func TestContactLabels(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	if err := st.ContactSeen(ctx, "acme", &fd.Contact{Id: "c_lab", Name: "Lab"}, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	kim := &fd.Participant{Id: "a_kim", Role: frames.RoleAgent, Name: "Kim"}
	at := time.Date(2026, 12, 7, 11, 40, 0, 0, time.UTC)
	steps := []struct {
		tenant, id, label string
		remove            bool
		want              []string
		changed           bool
		rev               uint64 // of the contact's latest event (0: none yet)
	}{
		{"acme", "c_lab", "vip", false, []string{"vip"}, true, 1},
		{"acme", "c_lab", "churn", false, []string{"churn", "vip"}, true, 2},
		{"acme", "c_lab", "vip", false, []string{"churn", "vip"}, false, 2}, // once
		{"acme", "c_lab", "b2b", false, []string{"churn", "vip"}, false, 2}, // at the bound of 2
		{"acme", "c_lab", "churn", true, []string{"vip"}, true, 3},
		{"acme", "c_lab", "gone", true, []string{"vip"}, false, 3}, // removing what is not there
		{"acme", "c_new", "vip", false, []string{"vip"}, true, 1},  // never connected: made
		{"acme", "c_none", "vip", true, nil, false, 0},             // nothing ever changed
		{"other", "c_lab", "b2b", false, []string{"b2b"}, true, 1},
	}
	for i, s := range steps {
		got, err := st.LabelContact(ctx, s.tenant, s.id, s.label, s.remove, 2, kim, at)
		if err != nil {
			t.Fatal(err)
		}
		reply, err := st.Contact(ctx, s.tenant, s.id)
		if err != nil || !slices.Equal(reply.GetContact().GetOwnLabels(), s.want) || !slices.Equal(got.Labels, s.want) {
			t.Fatalf("step %d (%+v): own labels %v, returned %v (%v), want %v", i, s, reply.GetContact().GetOwnLabels(), got.Labels, err, s.want)
		}
		ev := got.Event
		if got.Changed != s.changed || ev.GetRevision() != s.rev {
			t.Fatalf("step %d (%+v): changed %v, event revision %d", i, s, got.Changed, ev.GetRevision())
		}
		if s.rev == 0 {
			if ev != nil {
				t.Fatalf("step %d: an event without a change: %v", i, ev)
			}
			continue
		}
		// The event is the latest change's, whichever call reads it back.
		if ev.GetId() != subjects.ContactEventID(s.tenant, s.id, int64(s.rev), frames.EventContactLabeled) ||
			ev.GetType() != frames.EventContactLabeled || ev.GetTenant() != s.tenant || ev.GetConv() != "" ||
			ev.GetCustomer().GetId() != s.id || ev.GetActor().GetId() != "a_kim" || !ev.GetAt().AsTime().Equal(at) ||
			!slices.Equal(ev.GetLabels(), reply.GetContact().GetOwnLabels()) {
			t.Fatalf("step %d: event %v", i, ev)
		}
		if s.changed && (ev.GetLabel() != s.label || (ev.GetReason() == frames.ReasonLabelRemoved) != s.remove) {
			t.Fatalf("step %d: event of another change: %v", i, ev)
		}
	}
	if reply, _ := st.Contact(ctx, "acme", "c_lab"); reply.GetContact().GetName() != "Lab" {
		t.Fatalf("labels changed the contact's fields: %v", reply.GetContact())
	}
}
