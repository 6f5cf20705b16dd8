package server

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// refusal is written to a connection over a cap before it is closed: a plain HTTP answer a
// browser, a load balancer and a person reading logs all understand, rather than a reset.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\n\r\ntoo many connections\n"

// ConnLimiter is a listener that keeps at most max connections open, and at most perAddr from
// one client address (an IPv6 client by its /64). Trusted proxies count only toward max: every
// client behind them shares their address. A connection over a cap is answered 503 and closed
// at once; Accept goes on with the next.
type ConnLimiter struct {
	net.Listener
	max, perAddr int
	proxies      []netip.Prefix
	refused      func(reason string)

	mu    sync.Mutex
	open  int
	addrs map[netip.Prefix]int
}

// LimitConns wraps ln. refused, when not nil, is told of each refusal ("max" or "address").
func LimitConns(ln net.Listener, max, perAddr int, proxies []netip.Prefix, refused func(reason string)) *ConnLimiter {
	return &ConnLimiter{Listener: ln, max: max, perAddr: perAddr, proxies: proxies, refused: refused,
		addrs: map[netip.Prefix]int{}}
}

// Accept returns the next connection within the caps.
func (l *ConnLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, keyed := netip.Prefix{}, false
		if a := parseAddr(c.RemoteAddr().String()); a.IsValid() && !trusted(a, l.proxies) {
			key, keyed = clientKey(a), true
		}
		reason := ""
		l.mu.Lock()
		switch {
		case l.open >= l.max:
			reason = "max"
		case keyed && l.addrs[key] >= l.perAddr:
			reason = "address"
		default:
			l.open++
			if keyed {
				l.addrs[key]++
			}
		}
		l.mu.Unlock()
		if reason == "" {
			return &limitedConn{Conn: c, l: l, key: key, keyed: keyed}, nil
		}
		if l.refused != nil {
			l.refused(reason)
		}
		// A fresh socket's send buffer is empty: the write does not wait, and the deadline
		// makes sure of it.
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write([]byte(refusal))
		_ = c.Close()
	}
}

// Open returns the number of connections open (tests, metrics).
func (l *ConnLimiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *ConnLimiter) release(key netip.Prefix, keyed bool) {
	l.mu.Lock()
	l.open--
	if keyed {
		if l.addrs[key]--; l.addrs[key] <= 0 {
			delete(l.addrs, key)
		}
	}
	l.mu.Unlock()
}

// limitedConn gives its place back once closed, however many times Close is called (net/http
// and a hijacker may both close it).
type limitedConn struct {
	net.Conn
	l     *ConnLimiter
	key   netip.Prefix
	keyed bool
	once  sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key, c.keyed) })
	return err
}
