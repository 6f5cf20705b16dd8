package kb

import (
	"fmt"
	"testing"
)

// BenchmarkAnswer times one knowledge-base lookup (tokenize, rank, decide) on the demo knowledge
// base and on a synthetic one 50 times larger.
//
//	go test -run '^$' -bench Answer -benchmem ./internal/kb
func BenchmarkAnswer(b *testing.B) {
	demo := loadDemo(b)
	big := make([]Article, 0, 2000)
	for i := range 50 {
		for _, a := range demo.articles {
			a.ID = fmt.Sprintf("%s-%d", a.ID, i)
			a.Tags = append(a.Tags[:len(a.Tags):len(a.Tags)], fmt.Sprintf("variant%d", i))
			big = append(big, a)
		}
	}
	for _, ix := range []struct {
		name string
		ix   *Index
	}{{"demo-40", demo}, {"synthetic-2000", NewIndex(big)}} {
		for _, q := range []struct{ lang, text string }{
			{"en", "still waiting for my money back after returning the shoes"},
			{"zh", "退了货钱怎么还没到账"},
		} {
			b.Run(ix.name+"/"+q.lang, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					ix.ix.Answer(q.text)
				}
			})
		}
	}
}
