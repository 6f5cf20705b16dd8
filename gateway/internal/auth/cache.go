package auth

import (
	"context"
	"crypto"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// DefaultCacheEntries bounds the verified-token cache when Config.CacheEntries is zero: a
// reconnect storm of that many distinct users is verified once each. An entry is about half a
// kilobyte (the claims), so the default holds at most about 8 MiB.
const DefaultCacheEntries = 16384

// A signature check is most of what deciding a token costs (ES256: about 60 µs, against about a
// microsecond for the rest), and reconnecting clients present the same token again and again.
// verified remembers the tokens that passed, keyed by a hash of the request's tenant and the
// token (the token itself is not kept), until the token expires. An entry is trusted only
// while what made the token good still holds, checked on every hit without a signature:
//
//   - the tenant still exists (a removed tenant refuses at once);
//   - for the gateway's own tokens, the key that verified it is still in the gateway's key set
//     under the same kid (a rotated-out key is never trusted from the cache);
//   - for a customer issuer's tokens, the tenant still names that issuer with the same settings
//     (issuer, audience, key set, lifetime cap), and the issuer's key set, refreshed as usual,
//     still holds the key under the same kid.
//
// Anything else is a miss and a full verification. Tokens of the shared HS256 secrets are not
// cached: checking them costs about as much as a hit.
type verified struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*proof

	hits, misses atomic.Int64
}

// proof is what a successful verification found, enough to re-check it without the signature.
type proof struct {
	claims *token.Claims // as Verify returned them; copied out on every hit
	tenant string
	exp    time.Time

	kid    string
	method jwt.SigningMethod
	key    crypto.PublicKey // the key that verified the signature
	// own: the gateway's key set that verified it (immutable; a different pointer is checked
	// key by key).
	own *token.Keys
	// customer: the tenant's issuer settings at verification time.
	issuer *fd.CustomerIssuer
}

func newVerified(max int, now func() time.Time) *verified {
	if max == 0 {
		max = DefaultCacheEntries
	}
	return &verified{max: max, now: now, entries: map[[sha256.Size]byte]*proof{}}
}

// cacheKey binds the entry to the tenant the request asked for as well as the token, so a
// token accepted for one tenant is looked up afresh (and refused) for another.
func cacheKey(raw, tenantHint string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(tenantHint))
	h.Write([]byte{0})
	h.Write([]byte(raw))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (v *verified) get(k [sha256.Size]byte) *proof {
	if v == nil || v.max < 0 {
		return nil
	}
	v.mu.Lock()
	p := v.entries[k]
	if p != nil && !v.now().Before(p.exp) {
		delete(v.entries, k)
		p = nil
	}
	v.mu.Unlock()
	return p
}

func (v *verified) drop(k [sha256.Size]byte) {
	v.mu.Lock()
	delete(v.entries, k)
	v.mu.Unlock()
}

func (v *verified) put(k [sha256.Size]byte, p *proof) {
	if v == nil || v.max < 0 || p.exp.IsZero() {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= v.max {
		v.evict()
	}
	v.entries[k] = p
}

// evict makes room: expired entries first, then arbitrary ones (map order is random) down to
// seven eighths, so a full cache pays for a sweep once per max/8 insertions.
func (v *verified) evict() {
	now := v.now()
	for k, p := range v.entries {
		if !now.Before(p.exp) {
			delete(v.entries, k)
		}
	}
	for k := range v.entries {
		if len(v.entries) < v.max-v.max/8 {
			break
		}
		delete(v.entries, k)
	}
}

func (v *verified) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.entries)
}

// CacheStats are the verified-token cache's hits and misses since start.
type CacheStats struct{ Hits, Misses int64 }

// CacheStats returns the verified-token cache's counters.
func (a *Authenticator) CacheStats() CacheStats {
	return CacheStats{Hits: a.cache.hits.Load(), Misses: a.cache.misses.Load()}
}

// sameKey reports whether got is the public key want.
func sameKey(want, got crypto.PublicKey) bool {
	e, ok := want.(interface{ Equal(crypto.PublicKey) bool })
	return ok && got != nil && e.Equal(got)
}

// stillHolds re-checks a cached proof against the tenant's and the keys' current state.
func (a *Authenticator) stillHolds(ctx context.Context, p *proof, t *fd.Tenant) bool {
	probe := &jwt.Token{Header: map[string]any{"kid": p.kid}, Method: p.method}
	switch {
	case p.own != nil:
		keys := a.cfg.Keys()
		if keys == nil {
			return false
		}
		if keys == p.own {
			return true
		}
		k, err := keys.Keyfunc(probe)
		return err == nil && sameKey(p.key, k)
	case p.issuer != nil:
		iss := issuerOf(t, p.issuer.GetIssuer())
		if iss == nil || !proto.Equal(iss, p.issuer) {
			return false
		}
		// The same path as a full verification: a stale key set is refreshed, a kid it no
		// longer holds is looked for once more at the bounded rate, then refused.
		kf, err := a.issuers.keyfunc(ctx, iss)
		if err != nil {
			return false
		}
		k, err := kf(probe)
		return err == nil && sameKey(p.key, k)
	}
	return false
}

// record wraps kf so that the proof learns which single key verified the token (nothing for a
// key set tried key by key).
func (p *proof) record(kf jwt.Keyfunc) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		k, err := kf(t)
		if err != nil {
			return nil, err
		}
		if pub, ok := k.(crypto.PublicKey); ok {
			if _, set := k.(jwt.VerificationKeySet); !set {
				p.kid, _ = t.Header["kid"].(string)
				p.method, p.key = t.Method, pub
			}
		}
		return k, nil
	}
}
