package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// BenchmarkUpgrades measures authenticated WebSocket upgrades (dial, verify, welcome, close)
// through a real gateway, per kind of token, with warm key caches:
//
//	cd gateway && go test -run '^$' -bench Upgrades -benchtime 5s ./app/
func BenchmarkUpgrades(b *testing.B) {
	b.Run("customer RS256 (tenant JWKS URL)", func(b *testing.B) { benchUpgrades(b, "rs") })
	b.Run("customer ES256 (tenant JWKS URL)", func(b *testing.B) { benchUpgrades(b, "es") })
	b.Run("visitor ES256 (gateway keys)", func(b *testing.B) { benchUpgrades(b, "visitor") })
}

func benchUpgrades(b *testing.B, kind string) {
	ie := newIdentityEnv(b)
	var tok, tenant string
	switch kind {
	case "rs":
		tok, tenant = ie.shopIss.sign(ie.shopIss.customerClaims("bench")), "shop"
	case "es":
		ie.shopIss.rotate("es2", true)
		tok, tenant = ie.shopIss.sign(ie.shopIss.customerClaims("bench")), "shop"
	case "visitor":
		keys, _ := token.ParseKeys([]byte(testKeys))
		tok, _ = keys.Sign(token.Claims{Subject: "v_bench", Tenant: "other", Role: frames.RoleCustomer, Kind: token.KindVisitor,
			Issuer: "frontdesk", Audience: []string{"frontdesk:other"}}, 3600e9)
		tenant = "other"
	}
	url := strings.Replace(ie.g.url, "http", "ws", 1) + "/v1/ws?token=" + tok + "&tenant=" + tenant
	var failed atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{Subprotocols: []string{frames.SubprotocolJSON}})
			if err != nil {
				failed.Add(1)
				continue
			}
			// The welcome proves the session opened.
			if _, _, err := c.Read(context.Background()); err != nil {
				failed.Add(1)
			}
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "upgrades/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d upgrades failed", n, b.N)
	}
}
