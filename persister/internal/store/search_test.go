package store

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSearchTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query string
		want        []string
	}{
		{"english", "Refund my ORDER", []string{"refund", "my", "order"}},
		{"punctuation and repeats", "refund, refund! 'x'", []string{"refund", "x"}},
		{"chinese word", "退款", []string{"退款"}},
		{"chinese phrase", "我想退款", []string{"我想", "想退", "退款"}},
		{"single character", "退", []string{"退"}},
		{"mixed", "订单12345退款", []string{"订单", "12345", "退款"}},
		{"japanese", "ありがとう", []string{"あり", "りが", "がと", "とう"}},
		{"tsquery syntax is dropped", "a & b | !c:*", []string{"a", "b", "c"}},
		{"empty", "  ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := SearchTerms(tt.query); !slices.Equal(got, tt.want) {
				t.Fatalf("SearchTerms(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestSearchDocument(t *testing.T) {
	t.Parallel()
	if got := SearchDocument("plain text"); got != "plain text" {
		t.Fatalf("latin text changed: %q", got)
	}
	if got, want := SearchDocument("hi 退款吗"), "hi 退款吗 退 退款 款 款吗 吗"; got != want {
		t.Fatalf("SearchDocument = %q, want %q", got, want)
	}
	// A text longer than MaxIndexedText is indexed by its beginning, cut between characters
	// (3-byte characters do not divide MaxIndexedText evenly).
	long := strings.Repeat("退", MaxIndexedText/3+100) + " tail"
	doc := SearchDocument(long)
	head, _, _ := strings.Cut(doc, " ")
	if !utf8.ValidString(doc) || len(head) > MaxIndexedText || len(head) < MaxIndexedText-3 ||
		strings.Contains(doc, "tail") || !strings.HasSuffix(doc, " 退") {
		t.Fatalf("document of a long text: %d bytes indexed of %d, tail %v, valid %v",
			len(head), len(long), strings.Contains(doc, "tail"), utf8.ValidString(doc))
	}
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		terms      []string
		width      int
		want       string
	}{
		{"marks prefix match", "Refunds take 5 days", []string{"refund"}, 80, "«Refund»s take 5 days"},
		{"word start only", "prerefund refund", []string{"refund"}, 80, "prerefund «refund»"},
		{"chinese", "我想退款，谢谢", []string{"退款"}, 80, "我想«退款»，谢谢"},
		{"window around match", "aaaa bbbb cccc dddd target eeee", []string{"target"}, 12, "…ddd «target» e…"},
		{"no match", "nothing", []string{"zzz"}, 80, "nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Snippet(tt.text, tt.terms, tt.width); got != tt.want {
				t.Fatalf("Snippet = %q, want %q", got, tt.want)
			}
		})
	}
}
