package kb

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func TestTokenize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"stop words and plural", "Where are my orders?", []string{"order"}},
		{"inflections meet", "shipped shipping ships", []string{"ship", "ship", "ship"}},
		{"cancel forms", "cancelled cancellation cancel", []string{"cancel", "cancel", "cancel"}},
		{"possessive", "Acme's warranty", []string{"acm", "warranty"}},
		{"full width folded", "ＰａｙＰａｌ", []string{"paypal"}},
		{"chinese bigrams and content unigrams", "我要退货", []string{"我要", "要退", "退", "退货", "货"}},
		{"mixed scripts", "iPhone退货", []string{"iphon", "退", "退货", "货"}},
		{"digits kept", "order 12345", []string{"order", "12345"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Tokenize(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMarkdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Article
		wantErr bool
	}{
		{
			name: "front matter and heading",
			in:   "---\nid: ship\ntags: [post]\nquestions:\n  - How long?\n---\n# Shipping\n\nTwo days.\n",
			want: Article{ID: "ship", Title: "Shipping", Tags: []string{"post"}, Questions: []string{"How long?"}, Answer: "Two days.", Language: "en"},
		},
		{
			name: "heading only, chinese",
			in:   "# 退货\n\n30天内可以退货。\n",
			want: Article{Title: "退货", Answer: "30天内可以退货。", Language: "zh"},
		},
		{name: "unclosed front matter", in: "---\nid: x\n# T\nbody", wantErr: true},
		{name: "no body", in: "# Title only\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMarkdown([]byte(tt.in), "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !articleEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseYAML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"list", "- title: A\n  answer: a\n- questions: [\"B?\"]\n  answer: b\n", 2, false},
		{"articles key", "articles:\n  - title: 退货\n    answer: 可以\n", 1, false},
		{"empty answer", "- title: A\n", 0, true},
		{"not yaml", "{{{", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseYAML([]byte(tt.in), "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != tt.want {
				t.Errorf("%d articles, want %d", len(got), tt.want)
			}
			for _, a := range got {
				if a.Title == "" {
					t.Errorf("article without title: %+v", a)
				}
			}
		})
	}
}

func articleEqual(a, b Article) bool {
	return a.ID == b.ID && a.Title == b.Title && a.Answer == b.Answer && a.Language == b.Language &&
		slices.Equal(a.Tags, b.Tags) && slices.Equal(a.Questions, b.Questions)
}

// TestLibraryHotReload checks that a tenant's index follows its files and its config without a
// restart.
func TestLibraryHotReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("returns.md", "# Returns\n\nSend items back within 30 days.\n")
	lib := NewLibrary(dir, time.Minute, zaptest.NewLogger(t))
	now := time.Unix(1000, 0)
	lib.now = func() time.Time { return now }
	cfg := &fd.KnowledgeBase{Paths: []string{"."}}

	if n := lib.Index("acme", cfg).Len(); n != 1 {
		t.Fatalf("%d articles, want 1", n)
	}
	// A new file is not seen before the poll interval, then is.
	write("hours.yaml", "- title: Opening hours\n  answer: 9 to 5\n")
	if n := lib.Index("acme", cfg).Len(); n != 1 {
		t.Fatalf("%d articles before the poll interval, want 1", n)
	}
	now = now.Add(2 * time.Minute)
	if n := lib.Index("acme", cfg).Len(); n != 2 {
		t.Fatalf("%d articles after the poll interval, want 2", n)
	}
	// A broken file is skipped, the rest still answers.
	write("broken.md", "---\nnot closed")
	now = now.Add(2 * time.Minute)
	ix := lib.Index("acme", cfg)
	if n := ix.Len(); n != 2 {
		t.Fatalf("%d articles with a broken file, want 2", n)
	}
	if r := ix.Answer("what are your opening hours"); !r.Confident || r.Best.Article.Title != "Opening hours" {
		t.Fatalf("answer %+v", r)
	}
	// A config change (inline article) applies at once.
	cfg2 := &fd.KnowledgeBase{Paths: []string{"."}, Articles: []*fd.Article{{Title: "Gift cards", Answer: "From $10."}}}
	if n := lib.Index("acme", cfg2).Len(); n != 3 {
		t.Fatalf("%d articles after config change, want 3", n)
	}
	// Tenants are separate.
	if n := lib.Index("other", nil).Len(); n != 0 {
		t.Fatalf("other tenant has %d articles", n)
	}
}

func TestResultText(t *testing.T) {
	t.Parallel()
	art := Article{Title: "Returns", Answer: "30 days."}
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"confident en", Result{Confident: true, Best: &Hit{Article: art}, Language: "en"}, "30 days.\n\n(From: Returns)"},
		{"confident zh", Result{Confident: true, Best: &Hit{Article: Article{Title: "退货", Answer: "30天。"}}, Language: "zh"}, "30天。\n\n（来自：退货）"},
		{"suggestions", Result{Suggestions: []Hit{{Article: art}}, Language: "en"},
			"I'm not sure I understood. One of these articles may help:\n• Returns\n\n" + OfferHuman("en")},
		{"nothing zh", Result{Language: "zh"}, "抱歉，我没有找到这个问题的答案。" + OfferHuman("zh")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.r.Text(); got != tt.want {
				t.Errorf("Text() = %q, want %q", got, tt.want)
			}
		})
	}
}
