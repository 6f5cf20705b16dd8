// Package kb is the knowledge-base answerer: a tenant's articles (inline in the tenant config,
// Markdown files or YAML Q&A files), a BM25 ranking over them that works for English and Chinese,
// and the decision between a confident answer and a list of suggestions.
package kb

import (
	"math"
)

// Article is one knowledge-base entry.
type Article struct {
	// ID identifies the article (file name or configured id).
	ID string
	// Title is shown with the answer.
	Title string
	// Questions are ways customers ask for it.
	Questions []string
	// Answer is the answer text.
	Answer string
	// Tags help retrieval.
	Tags []string
	// Language is en, zh, ... ("" when unknown).
	Language string
	// Source is the file it came from ("" for inline articles).
	Source string
}

// Field weights of the BM25F ranking: a word in the title, the questions or the tags says more
// about what an article answers than a word somewhere in a long answer.
const (
	weightTitle    = 3.0
	weightQuestion = 2.0
	weightTags     = 2.0
	weightAnswer   = 1.0

	// k1 and b are the usual BM25 parameters.
	k1 = 1.2
	b  = 0.75
)

type posting struct {
	doc int
	tf  float64 // field-weighted term frequency
}

// Index ranks articles for a question with BM25F. It is immutable once built and safe for
// concurrent use.
type Index struct {
	articles []Article
	lens     []float64
	avgLen   float64
	postings map[string][]posting
}

// NewIndex builds an index over articles.
func NewIndex(articles []Article) *Index {
	ix := &Index{
		articles: articles,
		lens:     make([]float64, len(articles)),
		postings: map[string][]posting{},
	}
	var total float64
	for i, a := range articles {
		tf := map[string]float64{}
		add := func(text string, w float64) {
			for _, t := range Tokenize(text) {
				tf[t] += w
				ix.lens[i] += w
			}
		}
		add(a.Title, weightTitle)
		for _, q := range a.Questions {
			add(q, weightQuestion)
		}
		for _, t := range a.Tags {
			add(t, weightTags)
		}
		add(a.Answer, weightAnswer)
		total += ix.lens[i]
		for t, f := range tf {
			ix.postings[t] = append(ix.postings[t], posting{doc: i, tf: f})
		}
	}
	if len(articles) > 0 {
		ix.avgLen = total / float64(len(articles))
	}
	return ix
}

// Len is the number of articles. A nil *Index is an empty knowledge base.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return len(ix.articles)
}

// Hit is one ranked article.
type Hit struct {
	// Article is the matching article.
	Article Article
	// Score is its BM25F score.
	Score float64
	// Coverage is the share (0..1) of the question's information (IDF mass) the article
	// contains: 1 means every meaningful word of the question is in the article.
	Coverage float64
}

// idf is the BM25 inverse document frequency (the "plus one" variant, never negative).
func (ix *Index) idf(df int) float64 {
	n := float64(len(ix.articles))
	return math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
}

// Search returns up to k articles ranked for question, best first. Articles in a language other
// than lang (when both are known) are ranked lower rather than excluded.
func (ix *Index) Search(question string, k int) []Hit {
	if ix.Len() == 0 {
		return nil
	}
	terms := Tokenize(question)
	if len(terms) == 0 {
		return nil
	}
	lang := DetectLanguage(question)
	qtf := map[string]int{}
	for _, t := range terms {
		qtf[t]++
	}
	scores := make([]float64, len(ix.articles))
	matched := make([]float64, len(ix.articles))
	var mass float64
	for t, n := range qtf {
		ps := ix.postings[t]
		idf := ix.idf(len(ps))
		// Repeating a word in a question hardly makes it more important.
		qw := 1 + math.Log(float64(n))
		mass += idf * qw
		for _, p := range ps {
			norm := k1 * (1 - b + b*ix.lens[p.doc]/ix.avgLen)
			scores[p.doc] += qw * idf * p.tf * (k1 + 1) / (p.tf + norm)
			matched[p.doc] += idf * qw
		}
	}
	// Keep the k best in order as they come: no per-match allocation, no full sort.
	type ranked struct {
		doc   int
		score float64
	}
	top := make([]ranked, 0, k+1)
	for i, s := range scores {
		if s <= 0 {
			continue
		}
		if l := ix.articles[i].Language; l != "" && lang != "" && l != lang {
			s *= 0.5
		}
		if len(top) == k && s <= top[k-1].score {
			continue
		}
		j := len(top)
		top = append(top, ranked{})
		for j > 0 && top[j-1].score < s {
			top[j] = top[j-1]
			j--
		}
		top[j] = ranked{doc: i, score: s}
		if len(top) > k {
			top = top[:k]
		}
	}
	hits := make([]Hit, len(top))
	for i, r := range top {
		hits[i] = Hit{Article: ix.articles[r.doc], Score: r.score, Coverage: matched[r.doc] / mass}
	}
	return hits
}

// DetectLanguage returns "zh" for text with CJK characters, "en" for text with Latin letters,
// "" otherwise. It is only as good as a bot reply's language choice needs.
func DetectLanguage(s string) string {
	if hasCJK(s) {
		return "zh"
	}
	for _, r := range s {
		if r < 0x80 && (r|0x20 >= 'a' && r|0x20 <= 'z') {
			return "en"
		}
	}
	return ""
}
