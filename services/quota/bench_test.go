package quota_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/frontdesk-chat/frontdesk/services/quota"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// BenchmarkMessage is the cost a daily message quota adds to a send: one bucket
// compare-and-set per block of Block(limit) sends, a mutex otherwise.
func BenchmarkMessage(b *testing.B) {
	ns := testkit.RunNATS(b)
	_, js := testkit.Connect(b, ns.URL())
	testkit.Provision(b, js)
	ctx := context.Background()
	for _, bm := range []struct {
		name  string
		limit int64
	}{{"no quota", 0}, {"blocks of 100", 1_000_000_000}, {"blocks of 10", 1000}} {
		b.Run(bm.name, func(b *testing.B) {
			c, err := quota.Open(ctx, js)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tenant := "t" // a new tenant every 1000 sends, so blocks of 10 never run out
				if bm.limit == 1000 {
					tenant = fmt.Sprint("t", b.N, "-", i/1000)
				}
				if err := c.Message(ctx, tenant, bm.limit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
