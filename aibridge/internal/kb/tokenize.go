package kb

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Tokenize turns text into index terms. It is the one analyzer used for both articles and
// questions, so whatever it does to a word it does on both sides.
//
//   - NFKC folding first, so full-width Latin letters and digits (common in Chinese input
//     methods) become their ASCII forms, then lower case.
//   - Latin letters and digits form words; English stop words are dropped and the rest go
//     through a light suffix stemmer (plural, -ing, -ed, -ation), enough to match "refunds"
//     with "refunded" without a full Porter stemmer's surprises.
//   - Runs of CJK characters (Han, kana, Hangul) are cut into overlapping character bigrams,
//     the standard way to index Chinese without a dictionary segmenter, plus the single
//     characters that carry meaning on their own, so a one-character word like "退" still
//     matches.
func Tokenize(s string) []string {
	s = strings.ToLower(norm.NFKC.String(s))
	var out []string
	var word []rune
	var cjk []rune
	flushWord := func() {
		if len(word) == 0 {
			return
		}
		w := string(word)
		word = word[:0]
		if _, stop := enStop[w]; stop {
			return
		}
		if w = stem(w); w != "" {
			out = append(out, w)
		}
	}
	flushCJK := func() {
		if len(cjk) == 0 {
			return
		}
		for i, r := range cjk {
			if _, stop := zhStop[r]; !stop {
				out = append(out, string(r))
			}
			if i+1 < len(cjk) {
				out = append(out, string(cjk[i:i+2]))
			}
		}
		cjk = cjk[:0]
	}
	for _, r := range s {
		switch {
		case isCJK(r):
			flushWord()
			cjk = append(cjk, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			flushCJK()
			word = append(word, r)
		case r == '\'' || r == '’':
			// "don't", "customer's": keep the apostrophe inside a word so the possessive can
			// be stripped by the stemmer rather than leaving a stray "s" token.
			if len(word) > 0 {
				word = append(word, '\'')
			}
		default:
			flushWord()
			flushCJK()
		}
	}
	flushWord()
	flushCJK()
	return out
}

// isCJK reports whether r is written without spaces between words.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// hasCJK reports whether s contains any CJK character.
func hasCJK(s string) bool {
	for _, r := range s {
		if isCJK(r) {
			return true
		}
	}
	return false
}

// stem removes common English inflections. It applies the same rules to every word, so an
// over-stemmed word ("install" -> "instal") still matches its own forms.
func stem(w string) string {
	if i := strings.IndexByte(w, '\''); i >= 0 {
		switch w[i:] {
		case "'s", "'":
			w = w[:i]
		case "n't":
			w = w[:i] // "don't" -> "do" (a stop word below anyway)
		default:
			w = strings.ReplaceAll(w, "'", "")
		}
		if _, stop := enStop[w]; stop {
			return ""
		}
	}
	if len(w) <= 3 || !isASCIIWord(w) {
		return w
	}
	if v, ok := irregular[w]; ok {
		return v
	}
	switch {
	case strings.HasSuffix(w, "ational") && len(w) > 9:
		w = w[:len(w)-7] + "ate"
	case strings.HasSuffix(w, "ation") && len(w) > 7:
		w = undouble(w[:len(w)-5])
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ed") && len(w) > 4:
		w = undouble(w[:len(w)-2])
	case strings.HasSuffix(w, "es") && len(w) > 4 && strings.ContainsRune("sxz", rune(w[len(w)-3])):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") &&
		!strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ly") && len(w) > 5:
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ment") && len(w) > 7:
		w = w[:len(w)-4]
	}
	// A final "e" comes and goes with suffixes (ship/shipping, store/storing, charge/charged):
	// drop it everywhere.
	if len(w) > 3 && w[len(w)-1] == 'e' {
		w = w[:len(w)-1]
	}
	if len(w) > 5 && strings.HasSuffix(w, "ll") {
		w = w[:len(w)-1] // cancell(ed) -> cancel, install -> instal
	}
	return w
}

// undouble turns "shipp" (from "shipping") into "ship".
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && strings.IndexByte("bdgmnprt", w[n-1]) >= 0 {
		return w[:n-1]
	}
	return w
}

func isASCIIWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] >= 0x80 {
			return false
		}
	}
	return true
}

// irregular maps forms the suffix rules get wrong to a shared stem.
var irregular = map[string]string{
	"delivery":   "deliver",
	"deliveries": "deliver",
	"paid":       "pay",
	"bought":     "buy",
	"sent":       "send",
	"received":   "receiv",
	"receive":    "receiv",
	"receipt":    "receipt",
	"children":   "child",
	"addresses":  "address",
	"refunds":    "refund",
	"business":   "business",
	"shipping":   "ship",
	"shipped":    "ship",
	"ships":      "ship",
	"shipment":   "ship",
	"shipments":  "ship",
	"forgot":     "forget",
	"forgotten":  "forget",
	"lost":       "lose",
	"broken":     "break",
	"broke":      "break",
	"opening":    "open",
	"purchase":   "buy",
	"purchased":  "buy",
	"purchases":  "buy",
	"payment":    "pay",
	"payments":   "pay",
}

// enStop are English words too common in questions to say what the question is about.
var enStop = setOf(
	"a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for",
	"with", "from", "into", "about", "as", "is", "are", "was", "were", "be", "been", "being",
	"am", "do", "does", "did", "doing", "done", "have", "has", "had", "having", "i", "me", "my",
	"mine", "myself", "you", "your", "yours", "we", "us", "our", "it", "its", "this", "that",
	"these", "those", "there", "here", "he", "she", "they", "them", "their", "his", "her",
	"what", "which", "who", "whom", "whose", "how", "when", "where", "why", "can", "could",
	"would", "should", "will", "shall", "may", "might", "must", "please", "hi", "hello", "hey",
	"thanks", "thank", "so", "just", "any", "some", "also", "too", "very", "much", "many",
	"still", "yet", "not", "no", "yes", "ok", "okay", "get", "got", "want", "need", "like",
	"know", "tell", "let", "im", "i'm", "there's", "what's", "it's", "dont", "don't", "cant",
	"can't", "then", "than", "again", "all", "one", "way", "something", "anything", "someone",
	"possible", "guys", "help",
)

// zhStop are Chinese characters that carry grammar rather than meaning; they are not indexed
// on their own (their bigrams still are).
var zhStop = func() map[rune]struct{} {
	m := map[rune]struct{}{}
	for _, r := range "的了吗呢吧啊呀嘛么我你您他她它们是在有和就都也要会能可以怎什么如何请问一个这那哪里吗个把被给对还没不" {
		m[r] = struct{}{}
	}
	return m
}()

func setOf(words ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return m
}
