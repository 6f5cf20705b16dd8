package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/buckets"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/session"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// maxVisitorName is the longest display name, in characters, a visitor token carries.
const maxVisitorName = 64

type visitorRequest struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	// Previous is the visitor's earlier token (expired up to auth.RenewalWindow ago): the
	// renewal keeps the same visitor id, so a token that lapses mid-chat is not a new person.
	Previous string `json:"previous"`
}

type visitorReply struct {
	Token string `json:"token"`
	User  string `json:"user"`
}

func (s *Server) handleVisitors(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	// Before anything else: a refused request costs a map lookup, not a body to decode.
	if ok, retry := s.visitors.allow(clientAddr(r, s.cfg.TrustedProxies), time.Now()); !ok {
		s.metrics.AuthFailures.WithLabelValues("visitor_rate").Inc()
		s.metrics.RateLimited.WithLabelValues("visitor").Inc()
		// Not a CORS-safelisted header: the widget reads it only if exposed.
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(retry)))
		http.Error(w, "too many visitor tokens from this address", http.StatusTooManyRequests)
		return
	}
	var req visitorRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	t, ok := s.sessions.Tenant(req.Tenant)
	if !ok || !subjects.ValidToken(req.Tenant) || !t.GetAnonymousVisitors() {
		s.metrics.AuthFailures.WithLabelValues("visitors_refused").Inc()
		http.Error(w, "anonymous visitors are not allowed", http.StatusForbidden)
		return
	}
	if !OriginAllowed(r, t.GetAllowedOrigins()) {
		s.metrics.AuthFailures.WithLabelValues("origin").Inc()
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	user := session.NewID("v_")
	if req.Previous != "" {
		prev, err := s.cfg.Auth.PreviousVisitor(req.Previous, req.Tenant)
		if err != nil {
			// A token that proves nothing gets a new visitor, not an error: the page must work.
			s.metrics.AuthFailures.WithLabelValues("visitor_renewal").Inc()
		} else {
			user = prev
		}
	}
	tok, err := s.cfg.Auth.Sign(token.Claims{Subject: user, Tenant: req.Tenant, Role: frames.RoleCustomer, Kind: token.KindVisitor,
		Name: truncateRunes(frames.CleanText(req.Name), maxVisitorName)}, s.cfg.VisitorTTL)
	if err != nil {
		s.refuse(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(visitorReply{Token: tok, User: user})
}

// truncateRunes returns s cut to at most n characters, never inside one.
func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// retryAfterSeconds is a Retry-After value: whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// ParseTrustedProxies parses addresses and CIDR prefixes ("10.0.0.0/8", "2001:db8::/32",
// "192.0.2.7" for one host).
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, v := range list {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", v)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of the client that sent r. X-Forwarded-For is believed only
// when the peer is a trusted proxy, and then only as far as the chain of trusted proxies goes:
// it is read from the right (each proxy appends the address it got the request from) and the
// first address that is not a trusted proxy is the client; whatever lies left of it was written
// by the client and could be anything. An unparseable peer (not TCP) gives the zero Addr, one
// shared bucket.
func clientAddr(r *http.Request, proxies []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || len(proxies) == 0 || !trusted(peer, proxies) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a := parseAddr(strings.TrimSpace(parts[j]))
			if !a.IsValid() {
				return client // garbage from beyond the trusted chain: the last proxy's peer it is
			}
			client = a
			if !trusted(a, proxies) {
				return a
			}
		}
	}
	return client // every hop is a trusted proxy: the leftmost is as far as we can see
}

// parseAddr parses "ip", "ip:port" or "[ipv6]:port", unmapping IPv4-in-IPv6 and dropping
// zones; the zero Addr when it is none of these.
func parseAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}

// clientKey is the bucket a client address falls in: the address for IPv4, its /64 for IPv6,
// since one subscriber commonly holds a whole /64 and could otherwise take a fresh bucket per
// request.
func clientKey(a netip.Addr) netip.Prefix {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// visitorLimiter is a token bucket per client (its address, an IPv6 client by its /64), in a
// bounded map that prunes itself (package buckets).
type visitorLimiter struct {
	limit rate.Limit
	burst int
	set   *buckets.Set[netip.Prefix]
}

// newVisitorLimiter allows perMinute requests per minute per client with bursts of burst,
// remembering at most maxClients clients.
func newVisitorLimiter(perMinute float64, burst, maxClients int) *visitorLimiter {
	limit := rate.Limit(perMinute / 60)
	return &visitorLimiter{limit: limit, burst: burst, set: buckets.New[netip.Prefix](maxClients, buckets.Refill(limit, burst))}
}

// allow takes a token from the client's bucket; when there is none it reports how long until
// there is one.
func (l *visitorLimiter) allow(a netip.Addr, now time.Time) (bool, time.Duration) {
	r := l.set.Limiter(clientKey(a), l.limit, l.burst, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request takes nothing from the bucket
		return false, d
	}
	return true, 0
}

// clients returns the number of clients remembered (tests).
func (l *visitorLimiter) clients() int { return l.set.Len() }
