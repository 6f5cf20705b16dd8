package kb

import (
	"fmt"
	"strings"
)

// Thresholds of a confident answer, tuned on the paraphrase set in accuracy_test.go (see
// TestDiagnostics for the numbers). The margin over the runner-up separates right from wrong top
// hits better than the raw score, which grows with the question's length; coverage guards
// against an article that shares one rare word with an off-topic question.
const (
	// MinMargin is how much the top score must beat the second one by (ratio).
	MinMargin = 1.6
	// MinCoverage is the share of the question's IDF mass the top article must contain when
	// another article also matched.
	MinCoverage = 0.2
	// MinSoleCoverage is the coverage needed when the top article is the only one that matched
	// at all (no runner-up to compare with).
	MinSoleCoverage = 0.5
	// FullCoverage answers confidently whatever the margin: the article contains every
	// meaningful word of the question.
	FullCoverage = 0.9
	// MinSuggestCoverage is the least coverage for an article to be suggested at all.
	MinSuggestCoverage = 0.15
	// maxSuggestions is how many titles a weak match offers.
	maxSuggestions = 3
)

// Result is the knowledge base's answer to one question.
type Result struct {
	// Confident is true when Best answers the question.
	Confident bool
	// Best is the top article, if any matched.
	Best *Hit
	// Suggestions are the top articles offered when not confident.
	Suggestions []Hit
	// Language is the question's language (en, zh or "").
	Language string
}

// Answer matches question against the index.
func (ix *Index) Answer(question string) Result {
	r := Result{Language: DetectLanguage(question)}
	hits := ix.Search(question, maxSuggestions+1)
	if len(hits) == 0 {
		return r
	}
	r.Best = &hits[0]
	if confident(hits) {
		r.Confident = true
		return r
	}
	for _, h := range hits {
		if h.Coverage >= MinSuggestCoverage && len(r.Suggestions) < maxSuggestions {
			r.Suggestions = append(r.Suggestions, h)
		}
	}
	return r
}

// Text is the reply to send the customer: the answer with its title when confident, else the
// suggestions (if any) and the offer of a human agent.
func (r Result) Text() string {
	zh := r.Language == "zh"
	if r.Confident && r.Best != nil {
		if zh {
			return fmt.Sprintf("%s\n\n（来自：%s）", strings.TrimSpace(r.Best.Article.Answer), r.Best.Article.Title)
		}
		return fmt.Sprintf("%s\n\n(From: %s)", strings.TrimSpace(r.Best.Article.Answer), r.Best.Article.Title)
	}
	var b strings.Builder
	if len(r.Suggestions) > 0 {
		if zh {
			b.WriteString("我不太确定您的问题。以下文章可能有帮助：\n")
		} else {
			b.WriteString("I'm not sure I understood. One of these articles may help:\n")
		}
		for _, h := range r.Suggestions {
			b.WriteString("• ")
			b.WriteString(h.Article.Title)
			b.WriteString("\n")
		}
		b.WriteString("\n")
	} else if zh {
		b.WriteString("抱歉，我没有找到这个问题的答案。")
	} else {
		b.WriteString("Sorry, I don't have an answer to that. ")
	}
	b.WriteString(OfferHuman(r.Language))
	return b.String()
}

// OfferHuman is the sentence that offers a human agent, in lang.
func OfferHuman(lang string) string {
	if lang == "zh" {
		return "如需人工客服，请回复“转人工”。"
	}
	return `If you'd like to talk to a person, just say "human".`
}

func confident(hits []Hit) bool {
	top := hits[0]
	switch {
	case top.Coverage >= FullCoverage:
		return true
	case len(hits) == 1:
		return top.Coverage >= MinSoleCoverage
	default:
		return top.Coverage >= MinCoverage && top.Score >= MinMargin*hits[1].Score
	}
}
