package subjects

import (
	"errors"
	"strings"
	"testing"
)

func TestValidToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"simple", "acme", true},
		{"mixed", "Conv_01-x", true},
		{"empty", "", false},
		{"dot", "a.b", false},
		{"star", "*", false},
		{"gt", ">", false},
		{"space", "a b", false},
		{"unicode", "客户", false},
		{"control", "a\x00", false},
		{"max length", strings.Repeat("a", 128), true},
		{"too long", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidToken(tt.in); got != tt.want {
				t.Fatalf("ValidToken(%q) = %v", tt.in, got)
			}
		})
	}
	if err := CheckTokens("ok", "not.ok"); !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), "not.ok") {
		t.Fatalf("CheckTokens: %v", err)
	}
}

func TestParseRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subject string
		want    Parsed
	}{
		{Messages("acme", "c1"), Parsed{Kind: "msg", Tenant: "acme", Conv: "c1"}},
		{Events("acme", "c1"), Parsed{Kind: "evt", Tenant: "acme", Conv: "c1"}},
		{ContactEvents("acme", "v_1"), Parsed{Kind: "evt", Tenant: "acme", User: "v_1"}},
		{Deliver("acme", "c1"), Parsed{Kind: "deliver", Tenant: "acme", Conv: "c1"}},
		{Live("acme", "c1"), Parsed{Kind: "live", Tenant: "acme", Conv: "c1"}},
		{Reads("acme", "c1", "u1"), Parsed{Kind: "read", Tenant: "acme", Conv: "c1", User: "u1"}},
		{User("acme", "u1"), Parsed{Kind: "user", Tenant: "acme", User: "u1"}},
		{Session("acme", "u1"), Parsed{Kind: "session", Tenant: "acme", User: "u1"}},
		{Presence("acme", "u1"), Parsed{Kind: "presence", Tenant: "acme", User: "u1"}},
		{Overview("acme"), Parsed{Kind: "overview", Tenant: "acme"}},
		{ConvCommands("acme", "c1"), Parsed{Kind: "cmd", Tenant: "acme", Conv: "c1"}},
		{AgentCommands("acme", "a1"), Parsed{Kind: "cmd", Tenant: "acme", User: "a1"}},
		{Route("acme"), Parsed{Kind: "route", Tenant: "acme"}},
		{HistoryQuery("acme"), Parsed{Kind: "query", Tenant: "acme"}},
		{SearchQuery("acme"), Parsed{Kind: "query", Tenant: "acme"}},
		{ReportQuery("acme"), Parsed{Kind: "query", Tenant: "acme"}},
		{CannedQuery("acme"), Parsed{Kind: "query", Tenant: "acme"}},
		{ContactQuery("acme"), Parsed{Kind: "query", Tenant: "acme"}},
		{Assist("acme", "c1"), Parsed{Kind: "assist", Tenant: "acme", Conv: "c1"}},
		{DeadLetters("persister"), Parsed{Kind: "dlq"}},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.subject)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v want %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "fd", "foo.v1.msg.a.b", "fd.v1.msg.a", "fd.v1.cmd.x.a.b", "fd.v1.nope.a",
		"fd.v1.evt.a.other.b", "fd.v1.evt.a.contact.b.c"} {
		if _, err := Parse(bad); !errors.Is(err, ErrNotFrontdesk) {
			t.Errorf("Parse(%q) = %v, want ErrNotFrontdesk", bad, err)
		}
	}
}

// TestStreamBindings checks that each wildcard covers the concrete subjects its stream stores
// and that no two streams overlap (JetStream refuses overlapping subjects).
func TestStreamBindings(t *testing.T) {
	t.Parallel()
	bindings := map[string]string{
		StreamMessages: AllMessages(), StreamEvents: AllEvents(), StreamCommands: AllCommands(),
		StreamReads: AllReads(), StreamDeadLetters: AllDeadLetters(),
	}
	concrete := map[string][]string{
		StreamMessages:    {Messages("t", "c")},
		StreamEvents:      {Events("t", "c"), ContactEvents("t", "u")},
		StreamCommands:    {ConvCommands("t", "c"), AgentCommands("t", "a")},
		StreamReads:       {Reads("t", "c", "u")},
		StreamDeadLetters: {DeadLetters("persister")},
	}
	for stream, subs := range concrete {
		for _, s := range subs {
			for other, pattern := range bindings {
				if got, want := matches(pattern, s), other == stream; got != want {
					t.Errorf("%s on %s: match %v, want %v", s, other, got, want)
				}
			}
		}
	}
	for _, s := range []string{Deliver("t", "c"), Live("t", "c"), User("t", "u"), Presence("t", "u"), Session("t", "u"), Overview("t")} {
		for stream, pattern := range bindings {
			if matches(pattern, s) {
				t.Errorf("core subject %s is captured by stream %s", s, stream)
			}
		}
	}
}

// matches implements NATS wildcard matching for the test.
func matches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

// TestContactEventsStayOffConversations checks that a contact's events are in every consumer's
// AllEvents and in their own tenant filter, and match no conversation's subject or filter,
// whatever the contact id (a signed-in customer's id may look like a conversation id).
func TestContactEventsStayOffConversations(t *testing.T) {
	t.Parallel()
	for _, contact := range []string{"v_1", "c_7QK2M4XYZABCDEFGHJKL", "contact"} {
		s := ContactEvents("acme", contact)
		for _, tt := range []struct {
			pattern string
			want    bool
		}{
			{AllEvents(), true},
			{TenantContactEvents("acme"), true},
			{TenantContactEvents("globex"), false},
			{TenantEvents("acme"), false},
			{Events("acme", contact), false},
			{Events("acme", "contact"), false},
			{Events("*", "*"), false},
		} {
			if got := matches(tt.pattern, s); got != tt.want {
				t.Errorf("%s on %s: match %v, want %v", s, tt.pattern, got, tt.want)
			}
		}
	}
	if got, want := ContactEventID("acme", "v_1", 3, "contact_labeled"), "acme.contact.v_1.3.contact_labeled"; got != want {
		t.Fatalf("id %q, want %q", got, want)
	}
}
