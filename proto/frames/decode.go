package frames

import (
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// decodeFlat is DecodeJSON's fast path: the frames clients send all the time (send, typing,
// read, ping, sync) are one flat object of strings, integers and booleans, and protojson spends
// about 2 µs and 23 allocations on each through reflection, 4-5% of a whole one-process system's
// CPU at 1,000 messages a second (BENCHMARKS.md). decodeFlat reads exactly that subset by hand
// and reports false for anything else (a nested object, an escape in a string, null, a number
// in exponent form, an unknown or repeated key, trailing data...), so that protojson decides
// every frame outside it, errors included: the two can never disagree on a frame decodeFlat
// accepts (FuzzDecodeFlat checks it against protojson).
func decodeFlat(data []byte, f *fd.ClientFrame) bool {
	f.Reset()
	p := flatParser{b: data}
	if !p.byte('{') {
		return false
	}
	var seen uint32
	if p.byte('}') {
		return p.end()
	}
	for {
		ks, ke, ok := p.str()
		if !ok || !p.byte(':') {
			return false
		}
		field := flatField(data[ks:ke])
		if field < 0 || seen&(1<<field) != 0 {
			return false
		}
		seen |= 1 << field
		if !p.value(f, field) {
			return false
		}
		if p.byte('}') {
			return p.end()
		}
		if !p.byte(',') {
			return false
		}
	}
}

// The fields decodeFlat reads, by their place in seen.
const (
	fType = iota
	fID
	fConv
	fKind
	fText
	fAfter
	fBefore
	fLimit
	fSeq
	fStatus
	fToAgent
	fToQueue
	fLabel
	fRemove
	fScore
	fComment
	fEmail
)

// flatField maps a JSON key, the protocol's name or protojson's camelCase one, to its field;
// -1 for any other key (protojson then ignores it or decodes it).
func flatField(k []byte) int {
	switch string(k) {
	case "type":
		return fType
	case "id":
		return fID
	case "conv":
		return fConv
	case "kind":
		return fKind
	case "text":
		return fText
	case "after":
		return fAfter
	case "before":
		return fBefore
	case "limit":
		return fLimit
	case "seq":
		return fSeq
	case "status":
		return fStatus
	case "to_agent", "toAgent":
		return fToAgent
	case "to_queue", "toQueue":
		return fToQueue
	case "label":
		return fLabel
	case "remove":
		return fRemove
	case "score":
		return fScore
	case "comment":
		return fComment
	case "email":
		return fEmail
	}
	return -1
}

type flatParser struct {
	b []byte
	i int
	// s is b as one string, made at the first string value: every string field is a slice of
	// it, one allocation per frame instead of one per field (the frame is small, and its text
	// is most of it anyway).
	s string
}

func (p *flatParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c, after white space, if it comes next.
func (p *flatParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether nothing but white space is left.
func (p *flatParser) end() bool {
	p.space()
	return p.i == len(p.b)
}

// str reads a string without escapes or control characters, in valid UTF-8, and returns
// where its bytes are in the input.
func (p *flatParser) str() (start, end int, ok bool) {
	if !p.byte('"') {
		return 0, 0, false
	}
	start = p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			end = p.i
			p.i++
			return start, end, utf8.Valid(p.b[start:end])
		case c == '\\' || c < 0x20:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// int reads an integer written as a JSON number or a string of decimal digits, both in their
// plain form (no exponent, fraction, sign but a leading minus, or leading zero), within bits.
func (p *flatParser) int(bits int) (int64, bool) {
	p.space()
	quoted := p.i < len(p.b) && p.b[p.i] == '"'
	if quoted {
		p.i++
	}
	neg := p.i < len(p.b) && p.b[p.i] == '-'
	if neg {
		p.i++
	}
	start := p.i
	var n uint64
	for ; p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9'; p.i++ {
		n = n*10 + uint64(p.b[p.i]-'0')
	}
	digits := p.i - start
	// 18 digits cannot overflow; the bounds below are checked on the exact value.
	if digits == 0 || digits > 18 || (digits > 1 && p.b[start] == '0') || (neg && n == 0) {
		return 0, false
	}
	if quoted {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return 0, false
		}
		p.i++
	} else if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	limit := uint64(1)<<(bits-1) - 1
	if n > limit {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// bool reads true or false.
func (p *flatParser) bool() (v, ok bool) {
	p.space()
	switch rest := p.b[p.i:]; {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

// value reads the value of field into f.
func (p *flatParser) value(f *fd.ClientFrame, field int) bool {
	switch field {
	case fAfter, fBefore, fSeq:
		n, ok := p.int(64)
		if !ok {
			return false
		}
		v := proto.Int64(n)
		switch field {
		case fAfter:
			f.After = v
		case fBefore:
			f.Before = v
		default:
			f.Seq = v
		}
		return true
	case fLimit, fScore:
		n, ok := p.int(32)
		if !ok {
			return false
		}
		if field == fLimit {
			f.Limit = proto.Int32(int32(n))
		} else {
			f.Score = proto.Int32(int32(n))
		}
		return true
	case fRemove:
		v, ok := p.bool()
		f.Remove = v
		return ok
	}
	start, end, ok := p.str()
	if !ok {
		return false
	}
	if p.s == "" {
		p.s = string(p.b)
	}
	v := p.s[start:end]
	switch field {
	case fType:
		f.Type = v
	case fID:
		f.Id = v
	case fConv:
		f.Conv = v
	case fKind:
		f.Kind = v
	case fText:
		f.Text = v
	case fStatus:
		f.Status = v
	case fToAgent:
		f.ToAgent = v
	case fToQueue:
		f.ToQueue = v
	case fLabel:
		f.Label = v
	case fComment:
		f.Comment = v
	case fEmail:
		f.Email = v
	}
	return true
}
