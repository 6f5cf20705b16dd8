package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// BenchmarkUpgrades measures authenticated WebSocket upgrades (dial, verify, welcome, close)
// through a real gateway, per kind of token, with warm key caches: the same token again and
// again (a reconnecting client: from the verified-token cache, or with its signature checked
// when the cache is off) or a new token each time (a new visitor: always a signature check),
// with the gateway's keys in either algorithm:
//
//	cd gateway && go test -run '^$' -bench Upgrades -benchtime 5s ./app/
func BenchmarkUpgrades(b *testing.B) {
	for _, bc := range []struct {
		name, kind, alg string
		fresh, noCache  bool
	}{
		{"customer RS256 (tenant JWKS URL), same token, cache off", "rs", "", false, true},
		{"customer RS256 (tenant JWKS URL), same token", "rs", "", false, false},
		{"customer ES256 (tenant JWKS URL), same token, cache off", "es", "", false, true},
		{"customer ES256 (tenant JWKS URL), same token", "es", "", false, false},
		{"visitor ES256 (gateway keys), same token, cache off", "visitor", "ES256", false, true},
		{"visitor ES256 (gateway keys), same token", "visitor", "ES256", false, false},
		{"visitor ES256 (gateway keys), new token each", "visitor", "ES256", true, false},
		{"visitor EdDSA (gateway keys), new token each", "visitor", "EdDSA", true, false},
		{"visitor EdDSA (gateway keys), same token", "visitor", "EdDSA", false, false},
	} {
		b.Run(bc.name, func(b *testing.B) { benchUpgrades(b, bc.kind, bc.alg, bc.fresh, bc.noCache) })
	}
}

func benchUpgrades(b *testing.B, kind, alg string, fresh, noCache bool) {
	keysJSON := []byte(apptest.TestKeys) // ES256
	if alg == "EdDSA" {
		var err error
		if keysJSON, err = token.GenerateKeysFor(alg, nil); err != nil {
			b.Fatal(err)
		}
	}
	ie := newIdentityEnv(b, func(c *app.Config) {
		c.Gateway.SigningKeys = string(keysJSON)
		if noCache {
			c.Gateway.VerifiedTokens = -1
		}
	})
	var tok, tenant string
	toks := []string{""}
	switch kind {
	case "rs":
		tok, tenant = ie.shopIss.sign(ie.shopIss.customerClaims("bench")), "shop"
	case "es":
		ie.shopIss.rotate("es2", true)
		tok, tenant = ie.shopIss.sign(ie.shopIss.customerClaims("bench")), "shop"
	case "visitor":
		keys, err := token.ParseKeys(keysJSON)
		if err != nil {
			b.Fatal(err)
		}
		tenant = "other"
		n := 1
		if fresh {
			n = b.N
		}
		toks = make([]string, n)
		for i := range toks {
			toks[i], _ = keys.Sign(token.Claims{Subject: fmt.Sprintf("v_bench%d", i), Tenant: "other", Role: frames.RoleCustomer,
				Kind: token.KindVisitor, Issuer: "frontdesk", Audience: []string{"frontdesk:other"}}, 3600e9)
		}
	}
	var next atomic.Int64
	base := strings.Replace(ie.g.URL, "http", "ws", 1) + "/v1/ws?tenant=" + tenant + "&token="
	var failed atomic.Int64
	b.ResetTimer()
	// Client, gateway and NATS server are this one process: CPU per upgrade end to end.
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t := tok
			if kind == "visitor" {
				t = toks[int(next.Add(1)-1)%len(toks)]
			}
			c, _, err := websocket.Dial(context.Background(), base+t, &websocket.DialOptions{Subprotocols: []string{frames.SubprotocolJSON}})
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

// cpuPerOp reports the process's CPU time per op (user and system) when the returned function
// runs: on a shared, loaded machine wall time per op follows everyone's load, CPU time much less.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
