package kb

import "testing"

// TestDiagnostics prints, with -v, the numbers the confidence thresholds were tuned on: for every
// paraphrase whether the top hit is right, its coverage and its margin over the runner-up.
//
//	go test ./internal/kb -run TestDiagnostics -v
func TestDiagnostics(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("diagnostics only with -v")
	}
	ix := loadDemo(t)
	for _, p := range paraphrases {
		h := ix.Search(p.q, 2)
		if len(h) == 0 {
			t.Logf("NONE %q", p.q)
			continue
		}
		m := 99.0
		if len(h) > 1 {
			m = h[0].Score / h[1].Score
		}
		t.Logf("%v cov=%.2f margin=%.2f score=%.2f %q", h[0].Article.ID == p.want, h[0].Coverage, m, h[0].Score, p.q)
	}
	for _, q := range []string{"what is the capital of Mongolia", "tell me a joke about penguins", "今天天气怎么样", "你会写诗吗", "can I return my shoes?", "what's your favourite colour", "do you sell bicycles", "我想买手机", "is the order big"} {
		h := ix.Search(q, 2)
		if len(h) == 0 {
			t.Logf("OFF NONE %q", q)
			continue
		}
		m := 99.0
		if len(h) > 1 {
			m = h[0].Score / h[1].Score
		}
		t.Logf("OFF %s cov=%.2f margin=%.2f score=%.2f %q", h[0].Article.ID, h[0].Coverage, m, h[0].Score, q)
	}
}
