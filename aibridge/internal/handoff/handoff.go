// Package handoff decides when a customer is asking for a human, in English or Chinese, and
// writes the one-line summary an agent gets with the conversation.
package handoff

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Reasons of a handoff command (proto Command.reason).
const (
	ReasonCustomer    = "customer"
	ReasonPhrase      = "phrase"
	ReasonTool        = "tool"
	ReasonBotFailures = "bot_failures"
	ReasonModelDown   = "model_down"
)

// Strong phrases ask for a human wherever they appear in a message.
var strongPhrases = []string{
	"real person", "human agent", "live agent", "live person", "real agent", "human being",
	"talk to a human", "speak to a human", "talk to a person", "speak to a person",
	"talk to someone", "speak to someone", "speak with someone", "talk with someone",
	"representative", "customer representative", "customer rep",
	"转人工", "人工服务", "真人", "找人工", "要人工", "接人工", "人工坐席", "人工座席",
}

// Weak phrases ask for a human only when the message says little else ("agent please",
// "我要客服"): "when is customer service open" or "客服什么时候在线" are questions for the
// knowledge base, not requests for a person.
var weakPhrases = []string{
	"human", "humans", "agent", "agents", "person", "operator", "support", "someone",
	"customer service", "customer support", "help desk", "helpdesk", "staff",
	"人工客服", "人工", "客服", "在线客服",
}

// fillerWords may surround a weak phrase in a request for a human.
var fillerWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the i i'm im me my want wanna need would like to with
		talk speak chat connect transfer put through get give can could may please pls plz now
		let an real live your you a some one someone just i'd id go ok okay yes hi hello hey
		is there any available contact reach call`) {
		fillerWords[w] = true
	}
}

// fillerRunes may surround a weak phrase in a Chinese request for a human.
const fillerRunes = "我要找请转接帮给联系一下个吧呢吗啊的你们您想需麻烦和跟说话谢好可以能不能有没有在线"

// Matcher recognises requests for a human.
type Matcher struct {
	strong []string
	weak   []string
}

// NewMatcher returns a matcher with the built-in phrases plus extra (a tenant's own phrases,
// treated as strong).
func NewMatcher(extra []string) *Matcher {
	m := &Matcher{weak: weakPhrases}
	for _, p := range append(append([]string(nil), strongPhrases...), extra...) {
		if p = normalize(p); p != "" {
			m.strong = append(m.strong, p)
		}
	}
	return m
}

// Wants reports whether text asks for a human.
func (m *Matcher) Wants(text string) bool {
	t := normalize(text)
	if t == "" {
		return false
	}
	words := wordsOf(t)
	for _, p := range m.strong {
		if contains(t, words, p) {
			return true
		}
	}
	for _, p := range m.weak {
		if !contains(t, words, p) {
			continue
		}
		if onlyFiller(remove(t, p)) {
			return true
		}
	}
	return false
}

func normalize(s string) string {
	return strings.TrimSpace(strings.ToLower(norm.NFKC.String(s)))
}

// contains matches a CJK phrase as a substring and a Latin phrase as a sequence of whole words,
// so "agent" does not match "agenda" nor "human" match "humane".
func contains(text string, words []string, phrase string) bool {
	if hasCJK(phrase) {
		return strings.Contains(text, phrase)
	}
	pw := wordsOf(phrase)
	if len(pw) == 0 {
		return false
	}
outer:
	for i := 0; i+len(pw) <= len(words); i++ {
		for j := range pw {
			if words[i+j] != pw[j] {
				continue outer
			}
		}
		return true
	}
	return false
}

// remove deletes phrase from text (whole words for Latin phrases).
func remove(text, phrase string) string {
	if hasCJK(phrase) {
		return strings.ReplaceAll(text, phrase, " ")
	}
	words := wordsOf(text)
	pw := wordsOf(phrase)
	var out []string
	for i := 0; i < len(words); i++ {
		if i+len(pw) <= len(words) && equal(words[i:i+len(pw)], pw) {
			i += len(pw) - 1
			continue
		}
		out = append(out, words[i])
	}
	// CJK text between the words is kept by wordsOf as its own tokens.
	return strings.Join(out, " ")
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// onlyFiller reports whether what is left of a message says nothing but "I want / please".
func onlyFiller(rest string) bool {
	for _, w := range wordsOf(rest) {
		if hasCJK(w) {
			for _, r := range w {
				if !strings.ContainsRune(fillerRunes, r) {
					return false
				}
			}
			continue
		}
		if !fillerWords[w] {
			return false
		}
	}
	return true
}

// wordsOf splits text into Latin words and runs of CJK characters.
func wordsOf(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'')
	})
}

func hasCJK(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) ||
			unicode.Is(unicode.Hangul, r) {
			return true
		}
	}
	return false
}

// maxSummary bounds the summary, in characters.
const maxSummary = 200

// Summarize is the extractive one-line summary used when no model summary is available: the
// customer's first substantive message (what they came for) and their latest one, skipping the
// messages that only asked for a human. lang chooses the label (en or zh).
func Summarize(m *Matcher, customerTexts []string, lang string) string {
	var keep []string
	for _, t := range customerTexts {
		t = strings.Join(strings.Fields(t), " ")
		if t == "" || (m != nil && m.Wants(t) && utf8.RuneCountInString(t) < 40) {
			continue
		}
		keep = append(keep, t)
	}
	label := "Customer asked: "
	if lang == "zh" {
		label = "顾客问题："
	}
	switch len(keep) {
	case 0:
		if lang == "zh" {
			return "顾客要求转人工，未说明问题。"
		}
		return "Customer asked for a human without stating the issue."
	case 1:
		return truncate(label + quote(keep[0]))
	default:
		return truncate(label + quote(keep[0]) + " … " + quote(keep[len(keep)-1]))
	}
}

func quote(s string) string { return "“" + s + "”" }

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxSummary {
		return s
	}
	r := []rune(s)
	return string(r[:maxSummary-1]) + "…"
}
