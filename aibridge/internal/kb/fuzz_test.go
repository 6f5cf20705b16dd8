package kb

import (
	"math"
	"strings"
	"testing"
)

// FuzzKnowledgeFile feeds arbitrary bytes to both knowledge-file parsers, indexes whatever
// parses and searches it: a file written by a person (or a broken editor) must give an error,
// never a panic, and a parsed article must be answerable.
func FuzzKnowledgeFile(f *testing.F) {
	for _, seed := range []string{
		"# Shipping\nOrders ship in 2 days.\n",
		"---\nquestions: [how long is delivery?]\nlanguage: en\n---\n# Shipping\nTwo days.\n",
		"---\ntitle: 退货\n---\n七天内可以退货。",
		"- title: Refunds\n  questions: [money back?]\n  answer: Within 14 days.\n",
		"articles:\n  - title: 发票\n    answer: 在订单页面下载发票。\n",
		"---\nunclosed",
		"\ufeff# t\r\nbody\r\n",
	} {
		f.Add([]byte(seed), "how long does shipping take? 多久发货")
	}
	f.Fuzz(func(t *testing.T, data []byte, question string) {
		var articles []Article
		if a, err := ParseMarkdown(data, "f.md"); err == nil {
			if strings.TrimSpace(a.Answer) == "" {
				t.Fatalf("markdown article without an answer: %+v", a)
			}
			articles = append(articles, a)
		}
		if list, err := ParseYAML(data, "f.yaml"); err == nil {
			for _, a := range list {
				if strings.TrimSpace(a.Answer) == "" {
					t.Fatalf("yaml article without an answer: %+v", a)
				}
			}
			articles = append(articles, list...)
		}
		ix := NewIndex(articles)
		if ix.Len() != len(articles) {
			t.Fatalf("index holds %d of %d articles", ix.Len(), len(articles))
		}
		hits := ix.Search(question, 3)
		if len(hits) > 3 {
			t.Fatalf("%d hits for k=3", len(hits))
		}
		for i, h := range hits {
			if math.IsNaN(h.Score) || math.IsInf(h.Score, 0) || h.Coverage < 0 || h.Coverage > 1+1e-9 {
				t.Fatalf("hit %d: score %v coverage %v", i, h.Score, h.Coverage)
			}
			if i > 0 && h.Score > hits[i-1].Score {
				t.Fatalf("hits not ranked: %v after %v", h.Score, hits[i-1].Score)
			}
		}
	})
}
