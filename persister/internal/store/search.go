package store

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Full-text search works on Postgres tsvectors with the 'simple' configuration: it lower-cases
// and splits on non-letters but neither stems nor drops stop words, so it behaves the same for
// every language. Chinese (and Japanese) text has no spaces, so 'simple' would index a whole
// sentence as one word; SearchDocument therefore appends every CJK character and every pair
// of neighbouring CJK characters as separate words, and SearchTerms turns a query into the
// same n-grams. A two-character Chinese word then matches as one bigram, a longer one as the
// AND of its bigrams, a single character as a unigram. This needs no extension (pg_trgm,
// zhparser), which managed Postgres services do not always offer.

// isCJK reports whether r belongs to a script written without spaces between words.
func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// MaxIndexedText is how much of a message's text, in bytes, full-text search indexes: twice
// what the gateway accepts (32 KiB), so every message a client can send is indexed whole.
// Postgres refuses a tsvector whose distinct words exceed 1 MiB (SQLSTATE 54000); a longer
// text from another publisher (half a megabyte of Chinese has more distinct bigrams than
// that) would otherwise be refused, and dead-lettered, with its whole batch split around it.
// Such a message is stored whole and found by its beginning. The document made from
// MaxIndexedText bytes stays far below the limit: CJK n-grams add at most 11 bytes per
// 3-byte character, and lower-casing or the parser's hyphenated and URL parts at most triple
// other words.
const MaxIndexedText = 64 << 10

// SearchDocument returns the text to index for text: its first MaxIndexedText bytes (cut at
// a character boundary) followed by the CJK unigrams and bigrams they contain.
func SearchDocument(text string) string {
	if len(text) > MaxIndexedText {
		cut := MaxIndexedText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	if !hasCJK(text) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) * 4)
	b.WriteString(text)
	var run []rune
	flush := func() {
		for i, r := range run {
			b.WriteByte(' ')
			b.WriteRune(r)
			if i+1 < len(run) {
				b.WriteByte(' ')
				b.WriteRune(r)
				b.WriteRune(run[i+1])
			}
		}
		run = run[:0]
	}
	for _, r := range text {
		if isCJK(r) {
			run = append(run, r)
			continue
		}
		flush()
	}
	flush()
	return b.String()
}

func hasCJK(s string) bool {
	for _, r := range s {
		if r >= utf8.RuneSelf && isCJK(r) {
			return true
		}
	}
	return false
}

// SearchTerms splits a query into the terms to AND together: lower-cased words of letters and
// digits, and for CJK runs their bigrams (or the single character). Terms hold only letters
// and digits, so they are safe inside a tsquery.
func SearchTerms(query string) []string {
	var terms []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	var word, run []rune
	flushWord := func() {
		add(strings.ToLower(string(word)))
		word = word[:0]
	}
	flushRun := func() {
		switch len(run) {
		case 0:
		case 1:
			add(string(run))
		default:
			for i := 0; i+1 < len(run); i++ {
				add(string(run[i : i+2]))
			}
		}
		run = run[:0]
	}
	for _, r := range query {
		switch {
		case isCJK(r):
			flushWord()
			run = append(run, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			flushRun()
			word = append(word, r)
		default:
			flushWord()
			flushRun()
		}
	}
	flushWord()
	flushRun()
	return terms
}

// TSQuery builds a to_tsquery('simple', ...) expression from terms: every term must match;
// Latin words also match as a prefix ("refund" finds "refunds").
func TSQuery(terms []string) string {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		if hasCJK(t) {
			parts = append(parts, "'"+t+"'")
		} else {
			parts = append(parts, "'"+t+"':*")
		}
	}
	return strings.Join(parts, " & ")
}

// Snippet returns up to about width runes of text around the first match of any term, with
// every match wrapped in « and ». Matching is case-insensitive; it works on runes so CJK text
// is cut at character boundaries.
func Snippet(text string, terms []string, width int) string {
	rs := []rune(text)
	lower := []rune(strings.ToLower(text))
	if len(lower) != len(rs) {
		// Lower-casing changed the length (rare scripts): match on the original.
		lower = rs
	}
	type span struct{ from, to int }
	var spans []span
	for i := 0; i < len(lower); {
		best := 0
		for _, t := range terms {
			tr := []rune(t)
			if len(tr) > best && i+len(tr) <= len(lower) && string(lower[i:i+len(tr)]) == t {
				// Latin terms match word prefixes only, as the tsquery does.
				if !hasCJK(t) && i > 0 && isWordRune(lower[i-1]) {
					continue
				}
				best = len(tr)
			}
		}
		if best > 0 {
			spans = append(spans, span{i, i + best})
			i += best
			continue
		}
		i++
	}
	start := 0
	if len(spans) > 0 {
		start = max(0, spans[0].from-width/3)
	}
	end := min(len(rs), start+width)
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	for i := start; i < end; i++ {
		for _, s := range spans {
			if s.from == i {
				b.WriteString("«")
			}
		}
		b.WriteRune(rs[i])
		for _, s := range spans {
			if s.to == i+1 {
				b.WriteString("»")
			}
		}
	}
	for _, s := range spans {
		if s.from < end && s.to > end {
			b.WriteString("»") // a match cut by the window still closes
		}
	}
	if end < len(rs) {
		b.WriteString("…")
	}
	return b.String()
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
