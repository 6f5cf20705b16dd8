package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// attack is one attacker at full speed, run beside a chat run (bench.sh with ATTACK set) to see
// what it costs the well-behaved clients. Kinds, after the abuse issue's items:
//
//	post    POST /v1/sse without a session, as fast as it answers (rate limits)
//	sync    a conversation of 32 KiB messages of "<" (six bytes each in JSON), synced from the
//	        start over and over on several connections (replies and queues in bytes)
//	upload  uploads that send 8 MiB and stall, to the attacker's conversations and to others'
//	        (memory, caps, deadlines)
//	slow    SSE streams that stop reading while their conversation fills, headers that never
//	        end, visitor bodies that never come (timeouts, write deadlines, connection caps)
type attack struct {
	t    target
	src  net.IP
	conc int
	hc   *http.Client

	ok, refused, failed atomic.Int64
	mu                  sync.Mutex
	codes               map[string]int
	took                []time.Duration // sync: from the frame to synced
}

func (a *attack) count(what string) {
	a.mu.Lock()
	a.codes[what]++
	a.mu.Unlock()
}

func runAttack(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	a := &attack{codes: map[string]int{}}
	a.t.flags(fs)
	kind := fs.String("kind", "post", "post, sync, upload or slow")
	fs.IntVar(&a.conc, "conc", 8, "concurrent attacking connections or requests")
	duration := fs.Duration("duration", 60*time.Second, "how long to attack")
	src := fs.String("src", "127.0.0.9", "source address (its own, so per-address caps count it alone)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a.src = net.ParseIP(*src)
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: a.src}}
	a.hc = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: a.conc}}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	var peak atomic.Int64 // RSS sampled every second, no forced GC: what the pod would see
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if v, err := a.t.metric(ctx, "process_resident_memory_bytes"); err == nil && int64(v) > peak.Load() {
				peak.Store(int64(v))
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	})
	var err error
	switch *kind {
	case "post":
		err = a.post(ctx)
	case "sync":
		err = a.sync(ctx)
	case "upload":
		err = a.upload(ctx)
	case "slow":
		err = a.slow(ctx)
	default:
		err = fmt.Errorf("unknown attack %q", *kind)
	}
	cancel()
	wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(out, "attack %s x%d for %s: accepted %d, refused %d, failed %d; answers %v; gateway RSS peak %.1f MiB\n",
		*kind, a.conc, *duration, a.ok.Load(), a.refused.Load(), a.failed.Load(), a.codes, float64(peak.Load())/(1<<20))
	if len(a.took) > 0 {
		fmt.Fprintf(out, "sync replay time: %s\n", percentiles(a.took))
	}
	return err
}

// post floods POST /v1/sse with sends, one user, no session.
func (a *attack) post(ctx context.Context) error {
	tok, err := a.t.token("atk_post", frames.RoleCustomer)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for g := range a.conc {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body := frames.AppendClientJSON(nil, &fd.ClientFrame{Type: frames.TypeSend, Id: fmt.Sprintf("p%d_%d", g, i),
					Kind: frames.KindText, Text: "spam"})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.t.url+"/v1/sse", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := a.hc.Do(req)
				if err != nil {
					a.failed.Add(1)
					continue
				}
				var raw []json.RawMessage
				_ = json.NewDecoder(resp.Body).Decode(&raw)
				resp.Body.Close()
				for _, r := range raw {
					f := &fd.ServerFrame{}
					if protojson.Unmarshal(r, f) != nil {
						continue
					}
					switch {
					case f.GetType() == frames.TypeAck:
						a.ok.Add(1)
					case f.GetCode() == frames.CodeRateLimited:
						a.refused.Add(1)
					default:
						a.count(f.GetType() + "/" + f.GetCode())
					}
				}
				if resp.StatusCode != http.StatusOK {
					a.count(resp.Status)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// bigSend is a send frame of 32 KiB of "<", written by hand: the client encoder would escape
// each "<" and exceed the frame limit, the server's JSON decoder takes them as they are.
func bigSend(id, conv string) []byte {
	return []byte(`{"type":"send","id":"` + id + `","conv":"` + conv + `","text":"` + strings.Repeat("<", frames.MaxTextBytes) + `"}`)
}

// bigConversation opens a conversation for user and fills it with n big messages.
func (a *attack) bigConversation(ctx context.Context, user string, n int) (*websocket.Conn, string, error) {
	c, _, err := a.t.dial(ctx, user, frames.RoleCustomer, a.src)
	if err != nil {
		return nil, "", err
	}
	conv := ""
	for i := range n {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.Write(wctx, websocket.MessageText, bigSend(fmt.Sprintf("big%d", i), conv))
		cancel()
		if err != nil {
			return nil, "", err
		}
		var refused error
		err = readFrames(ctx, c, func(_ time.Time, f *fd.ServerFrame) bool {
			switch f.GetType() {
			case frames.TypeAck:
				conv = f.GetConv()
				return false
			case frames.TypeError:
				refused = fmt.Errorf("big message refused: %s", f.GetMessage())
				return false
			}
			return true
		})
		if err == nil {
			err = refused
		}
		if err != nil {
			return nil, "", err
		}
	}
	return c, conv, nil
}

// sync replays a conversation of big messages from the start on conc connections, over and
// over, reading everything (a client that reads is not cut off; it only costs the gateway).
func (a *attack) sync(ctx context.Context) error {
	owner, conv, err := a.bigConversation(ctx, "atk_sync", 20)
	if err != nil {
		return err
	}
	defer drain(owner)()
	var wg sync.WaitGroup
	for range min(a.conc, 8) { // the tenant's connections per user
		wg.Go(func() {
			for ctx.Err() == nil {
				c, _, err := a.t.dial(ctx, "atk_sync", frames.RoleCustomer, a.src)
				if err != nil {
					a.failed.Add(1)
					continue
				}
				for ctx.Err() == nil {
					t0 := time.Now()
					if err := write(ctx, c, &fd.ClientFrame{Type: frames.TypeSync, Conv: conv, After: new(int64)}); err != nil {
						a.count("aborted")
						break
					}
					err := readFrames(ctx, c, func(now time.Time, f *fd.ServerFrame) bool {
						switch f.GetType() {
						case frames.TypeSynced:
							a.ok.Add(1)
							a.count(fmt.Sprintf("recovered=%v", f.GetRecovered()))
							a.mu.Lock()
							a.took = append(a.took, now.Sub(t0))
							a.mu.Unlock()
							return false
						case frames.TypeError:
							a.count("error " + f.GetCode())
							return false // refused: ask again, at once (the attacker's full speed)
						}
						return true
					})
					if err != nil {
						a.count("aborted")
						break
					}
				}
				_ = c.CloseNow()
			}
		})
	}
	wg.Wait()
	return nil
}

// upload runs conc uploads at a time from conc/4 users that send 8 MiB and stall until the
// gateway ends them: half to their own conversation (four at a time per user), half to another
// user's.
func (a *attack) upload(ctx context.Context) error {
	users := max(2, a.conc/4)
	convs := make([]string, users)
	for i := range users {
		c, conv, err := a.bigConversation(ctx, fmt.Sprintf("atk_up%d", i), 0)
		if err != nil {
			return err
		}
		defer c.CloseNow()
		if err := write(ctx, c, &fd.ClientFrame{Type: frames.TypeSend, Id: "hi", Kind: frames.KindText, Text: "hi"}); err != nil {
			return err
		}
		if err := readFrames(ctx, c, func(_ time.Time, f *fd.ServerFrame) bool {
			if f.GetType() == frames.TypeAck {
				conv = f.GetConv()
			}
			return conv == ""
		}); err != nil {
			return err
		}
		convs[i] = conv
		go func() {
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
			}
		}()
	}
	chunk := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64<<10)...)
	var wg sync.WaitGroup
	for i := range a.conc {
		wg.Go(func() {
			u := i % users
			tok, _ := a.t.token(fmt.Sprintf("atk_up%d", u), frames.RoleCustomer)
			conv := convs[u]
			if i%2 == 1 {
				conv = convs[(u+1)%users] // not theirs
			}
			for ctx.Err() == nil {
				pr, pw := io.Pipe()
				mw := multipart.NewWriter(pw)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.t.url+"/v1/attachments", pr)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				go func() {
					_ = mw.WriteField("conv", conv)
					fw, err := mw.CreateFormFile("file", "x.png")
					if err != nil {
						return // answered already
					}
					for sent := 0; sent < 8<<20; sent += len(chunk) {
						if _, err := fw.Write(chunk); err != nil {
							return
						}
					}
					<-ctx.Done() // stall
					_ = pw.CloseWithError(ctx.Err())
				}()
				resp, err := a.hc.Do(req)
				_ = pr.CloseWithError(errors.New("done"))
				if err != nil {
					a.failed.Add(1)
					continue
				}
				msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					a.ok.Add(1)
				} else {
					a.refused.Add(1)
					a.count(fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(msg))))
				}
				if resp.StatusCode == http.StatusTooManyRequests {
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// slow keeps conc SSE streams that stopped reading while their conversation fills with big
// messages, and conc times 10 connections that send half a request (headers or a visitor body)
// and wait, reconnecting whenever the gateway hangs up.
func (a *attack) slow(ctx context.Context) error {
	owner, conv, err := a.bigConversation(ctx, "atk_slow", 1)
	if err != nil {
		return err
	}
	defer drain(owner)()
	tok, _ := a.t.token("atk_slow", frames.RoleCustomer)
	host := strings.TrimPrefix(a.t.url, "http://")
	// A small receive buffer (it also stops the kernel growing it): the gateway's writes block
	// once its send buffer is full.
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: a.src},
		Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
	hold := func(request string) {
		for ctx.Err() == nil {
			c, err := d.DialContext(ctx, "tcp", host)
			if err != nil {
				a.failed.Add(1)
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			_, _ = io.WriteString(c, request)
			buf := make([]byte, 512)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			if strings.HasPrefix(string(buf[:n]), "HTTP/1.1 503") {
				a.refused.Add(1)
				_ = c.Close()
				continue
			}
			a.ok.Add(1)
			// Never read again; wait for the gateway to hang up (or the end).
			done := make(chan struct{})
			go func() {
				select {
				case <-ctx.Done():
					_ = c.Close()
				case <-done:
				}
			}()
			_ = c.SetReadDeadline(time.Time{})
			if strings.Contains(request, "/v1/sse") {
				<-ctx.Done() // a reader that stopped reads nothing, not even the close
			} else {
				_, _ = io.Copy(io.Discard, c)
				a.count("closed by gateway")
			}
			close(done)
			_ = c.Close()
		}
	}
	var wg sync.WaitGroup
	for range min(a.conc, 8) {
		wg.Go(func() { hold("GET /v1/sse?token=" + tok + " HTTP/1.1\r\nHost: x\r\n\r\n") })
	}
	for i := range 10 * a.conc {
		if i%2 == 0 {
			wg.Go(func() { hold("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ") })
		} else {
			wg.Go(func() {
				hold("POST /v1/visitors HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
			})
		}
	}
	// The conversation fills: 10 big messages a second, the tenant's rate.
	for i := 0; ctx.Err() == nil; i++ {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := owner.Write(wctx, websocket.MessageText, bigSend(fmt.Sprintf("fill%d", i), conv))
		cancel()
		if err != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	wg.Wait()
	return nil
}

// drain reads and drops whatever c receives, so the gateway never stops writing to the owner of
// an attacked conversation; the returned func closes c and waits for the reader to end.
func drain(c *websocket.Conn) (closeAndWait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return func() { _ = c.CloseNow(); <-done }
}
