package subjects

import "testing"

func TestParseWorkspaceSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		subject string
		want    Parsed
	}{
		{"note", Notes("acme", "c1"), Parsed{Kind: "note", Tenant: "acme", Conv: "c1"}},
		{"note deliver", NoteDeliver("acme", "c1"), Parsed{Kind: "notedeliver", Tenant: "acme", Conv: "c1"}},
		{"notes query", NotesQuery("acme"), Parsed{Kind: "query", Tenant: "acme"}},
		{"board", Board("acme"), Parsed{Kind: "board", Tenant: "acme"}},
		{"roster", Roster("acme"), Parsed{Kind: "roster", Tenant: "acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.subject)
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tt.subject, got, err, tt.want)
			}
		})
	}
}

// TestNotesMatchNoCustomerSubject: every subject a customer's session follows or reads (a
// conversation's messages, deliveries, events, live frames and reads, the user's frames and
// sessions) and every stream binding customers' data lives in: none matches a note or its
// delivery, whatever the tenant, conversation or user. Notes cannot leak through a filter.
func TestNotesMatchNoCustomerSubject(t *testing.T) {
	t.Parallel()
	const tn, c, u = "acme", "c1", "v_1"
	customer := []string{
		Messages(tn, c), Deliver(tn, c), Events(tn, c), Live(tn, c), ConvReads(tn, c), Reads(tn, c, u),
		User(tn, u), Session(tn, u), TenantMessages(tn), TenantEvents(tn), AllMessages(), AllDeliver(),
		AllEvents(), AllReads(), AllCommands(), HistoryQuery(tn), Overview(tn),
	}
	notes := []string{Notes(tn, c), NoteDeliver(tn, c), AllNotes(), AllNoteDeliver()}
	for _, f := range customer {
		for _, n := range notes {
			if matches(f, n) || matches(n, f) {
				t.Errorf("customer subject %q and note subject %q overlap", f, n)
			}
		}
	}
	if !matches(AllNotes(), Notes(tn, c)) || !matches(AllNoteDeliver(), NoteDeliver(tn, c)) || !matches(AllMessages(), Messages(tn, c)) {
		t.Fatal("matches is wrong")
	}
}

// TestNotesStreamBinding: FD_NOTES captures notes and nothing else; no stream captures the
// core subjects of the workspace (note deliveries, board, roster).
func TestNotesStreamBinding(t *testing.T) {
	t.Parallel()
	others := []string{AllMessages(), AllEvents(), AllCommands(), AllReads(), AllDeadLetters()}
	for _, p := range others {
		if matches(p, Notes("t", "c")) || matches(AllNotes(), Messages("t", "c")) {
			t.Errorf("%s and FD_NOTES overlap", p)
		}
	}
	for _, s := range []string{NoteDeliver("t", "c"), Board("t"), Roster("t")} {
		for _, p := range append(others, AllNotes()) {
			if matches(p, s) {
				t.Errorf("core subject %s is captured by %s", s, p)
			}
		}
	}
}
