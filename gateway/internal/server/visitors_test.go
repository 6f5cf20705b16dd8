package server

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies, err := ParseTrustedProxies([]string{"10.0.0.0/8", "2001:db8:ff::/48", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		proxies []netip.Prefix
		want    string
	}{
		{"no proxy trusted: the peer, whatever the header says", "203.0.113.5:4000", []string{"198.51.100.1"}, nil, "203.0.113.5"},
		{"untrusted peer: header ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, proxies, "203.0.113.5"},
		{"trusted peer without header", "10.1.2.3:4000", nil, proxies, "10.1.2.3"},
		{"trusted peer: the client it forwards", "10.1.2.3:4000", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"single trusted host", "192.0.2.7:80", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"chain of trusted proxies", "10.1.2.3:4000", []string{"198.51.100.1, 10.9.9.9"}, proxies, "198.51.100.1"},
		{"client-written hops are not believed", "10.1.2.3:4000", []string{"1.1.1.1, 8.8.8.8, 198.51.100.1"}, proxies, "198.51.100.1"},
		{"several header lines read as one list", "10.1.2.3:4000", []string{"1.1.1.1", "198.51.100.1, 10.0.0.2"}, proxies, "198.51.100.1"},
		{"every hop trusted: the leftmost", "10.1.2.3:4000", []string{"10.0.0.1, 10.0.0.2"}, proxies, "10.0.0.1"},
		{"garbage beyond trusted hops: the last one seen", "10.1.2.3:4000", []string{"not-an-ip, 10.0.0.2"}, proxies, "10.0.0.2"},
		{"garbage as the only hop: the peer", "10.1.2.3:4000", []string{"nonsense"}, proxies, "10.1.2.3"},
		{"hop with a port", "10.1.2.3:4000", []string{"198.51.100.1:5555"}, proxies, "198.51.100.1"},
		{"IPv6 peer and client", "[2001:db8:ff::1]:443", []string{"2001:db8:1::42"}, proxies, "2001:db8:1::42"},
		{"IPv4-mapped IPv6 peer", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"peer that is no address", "@", nil, proxies, "invalid IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/v1/visitors", nil)
			r.RemoteAddr = tc.remote
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := clientAddr(r, tc.proxies).String(); got != tc.want {
				t.Fatalf("client = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr bool
	}{
		{"none", nil, []string{}, false},
		{"CIDR prefixes, masked", []string{"10.1.0.0/8", " 2001:db8::/32 "}, []string{"10.0.0.0/8", "2001:db8::/32"}, false},
		{"bare addresses are one host", []string{"192.0.2.7", "::ffff:192.0.2.8", "2001:db8::1"},
			[]string{"192.0.2.7/32", "192.0.2.8/32", "2001:db8::1/128"}, false},
		{"empty entries skipped", []string{"", "10.0.0.0/8"}, []string{"10.0.0.0/8"}, false},
		{"host name refused", []string{"proxy.internal"}, nil, true},
		{"bad prefix length refused", []string{"10.0.0.0/33"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTrustedProxies(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].String() != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestTruncateRunes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "Zoe", 64, "Zoe"},
		{"exact", "abcd", 4, "abcd"},
		{"ascii cut", "abcdef", 4, "abcd"},
		{"two-byte characters", "ééééé", 3, "ééé"},
		{"three-byte characters", "王小明同学", 2, "王小"},
		{"four-byte characters", "😀😀😀", 2, "😀😀"},
		{"cut after a multibyte character", "a王b", 2, "a王"},
		{"zero", "abc", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := truncateRunes(tc.in, tc.n); got != tc.want {
				t.Fatalf("truncateRunes(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestVisitorLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("198.51.100.1")
	b := netip.MustParseAddr("198.51.100.2")
	type step struct {
		at        time.Duration // after t0
		addr      string
		allowed   bool
		retryOver time.Duration // when refused: Retry-After is more than this
	}
	tests := []struct {
		name  string
		rate  float64 // per minute
		burst int
		steps []step
	}{
		{"burst then refused until a token is back", 60, 2, []step{
			{0, "198.51.100.1", true, 0}, {0, "198.51.100.1", true, 0},
			{0, "198.51.100.1", false, 900 * time.Millisecond},
			{500 * time.Millisecond, "198.51.100.1", false, 400 * time.Millisecond},
			{time.Second, "198.51.100.1", true, 0},
		}},
		{"refusals do not drain the bucket", 60, 1, []step{
			{0, "198.51.100.1", true, 0},
			{100 * time.Millisecond, "198.51.100.1", false, 0}, {200 * time.Millisecond, "198.51.100.1", false, 0},
			{1000 * time.Millisecond, "198.51.100.1", true, 0},
		}},
		{"clients have their own buckets", 60, 1, []step{
			{0, "198.51.100.1", true, 0}, {0, "198.51.100.2", true, 0}, {0, "198.51.100.1", false, 0},
		}},
		{"an IPv6 /64 is one client", 60, 1, []step{
			{0, "2001:db8:1:2::1", true, 0}, {0, "2001:db8:1:2:ffff::9", false, 0}, {0, "2001:db8:1:3::1", true, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newVisitorLimiter(tc.rate, tc.burst, 100)
			for i, s := range tc.steps {
				ok, retry := l.allow(netip.MustParseAddr(s.addr), t0.Add(s.at))
				if ok != s.allowed {
					t.Fatalf("step %d (%s at %s): allowed = %v, want %v", i, s.addr, s.at, ok, s.allowed)
				}
				if !ok && retry <= s.retryOver {
					t.Fatalf("step %d: retry after %s, want more than %s", i, retry, s.retryOver)
				}
			}
		})
	}
	t.Run("idle buckets are forgotten, as if full", func(t *testing.T) {
		t.Parallel()
		l := newVisitorLimiter(60, 2, 100) // refills in 2s
		l.allow(a, t0)
		l.allow(a, t0)
		l.allow(b, t0)
		if n := l.clients(); n != 2 {
			t.Fatalf("clients = %d, want 2", n)
		}
		// b comes back after a refill period: a (idle as long) is swept, b is new again.
		if ok, _ := l.allow(b, t0.Add(2*time.Second)); !ok {
			t.Fatal("b refused after a refill")
		}
		if ok, _ := l.allow(netip.MustParseAddr("198.51.100.3"), t0.Add(2*time.Second)); !ok {
			t.Fatal("newcomer refused")
		}
		if n := l.clients(); n != 2 {
			t.Fatalf("clients = %d after the sweep, want 2 (b and the newcomer)", n)
		}
		if ok, _ := l.allow(a, t0.Add(2*time.Second)); !ok {
			t.Fatal("a refused after a full refill")
		}
	})
	t.Run("bounded under a flood of addresses", func(t *testing.T) {
		t.Parallel()
		const bound = 50
		l := newVisitorLimiter(60, 1, bound)
		for i := range 1000 {
			addr := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
			if ok, _ := l.allow(addr, t0); !ok {
				t.Fatalf("newcomer %s refused", addr)
			}
			if n := l.clients(); n > bound {
				t.Fatalf("clients = %d, over the bound %d", n, bound)
			}
		}
	})
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    time.Duration
		want int
	}{
		{"under a second is one", 10 * time.Millisecond, 1},
		{"rounded up", 1500 * time.Millisecond, 2},
		{"whole", 3 * time.Second, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := retryAfterSeconds(tc.d); got != tc.want {
				t.Fatalf("retryAfterSeconds(%s) = %d, want %d", tc.d, got, tc.want)
			}
		})
	}
}
