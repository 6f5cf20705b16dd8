package bot

import (
	"testing"
	"time"
)

// TestPartials: a streamed reply goes out as a keyframe, then deltas, with a keyframe again
// every KeyframeEvery and whenever the text does not extend what was sent; whatever frames a
// client receives in order, appending deltas to the keyframe gives the text the model wrote.
func TestPartials(t *testing.T) {
	t.Parallel()
	type step struct {
		at   time.Duration // since the start
		text string        // the whole reply so far
		want string        // "" none, "k:<text>" keyframe, "d:<delta>" delta
	}
	tests := []struct {
		name     string
		interval time.Duration
		steps    []step
	}{
		{"keyframe then deltas", 0, []step{
			{0, "Standard ", "k:Standard "},
			{10 * time.Millisecond, "Standard delivery ", "d:delivery "},
			{20 * time.Millisecond, "Standard delivery takes 2-4 days.", "d:takes 2-4 days."},
		}},
		{"throttled: text within the interval waits for the next frame", 50 * time.Millisecond, []step{
			{0, "a", "k:a"},
			{10 * time.Millisecond, "ab", ""},
			{30 * time.Millisecond, "abc", ""},
			{60 * time.Millisecond, "abcd", "d:bcd"},
		}},
		{"a keyframe every second", 0, []step{
			{0, "one", "k:one"},
			{500 * time.Millisecond, "one two", "d: two"},
			{time.Second, "one two three", "k:one two three"},
			{1100 * time.Millisecond, "one two three four", "d: four"},
		}},
		{"nothing new: no frame", 0, []step{
			{0, "same", "k:same"},
			{10 * time.Millisecond, "same", ""},
			{20 * time.Millisecond, "same!", "d:!"},
		}},
		{"text that does not extend what was sent: a keyframe", 0, []step{
			{0, "Hello wor", "k:Hello wor"},
			{10 * time.Millisecond, "Hi there", "k:Hi there"},
			{20 * time.Millisecond, "Hi there, friend", "d:, friend"},
		}},
		{"multi-byte text is cut between characters", 0, []step{
			{0, "标准", "k:标准"},
			{10 * time.Millisecond, "标准配送需要", "d:配送需要"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			p := &partials{interval: tc.interval}
			var held string // what a client assembles
			var part int32
			for i, s := range tc.steps {
				f := p.next(s.text, t0.Add(s.at))
				got := ""
				switch {
				case f == nil:
				case f.GetDelta() != "" && f.GetText() == "":
					got = "d:" + f.GetDelta()
				case f.GetText() != "" && f.GetDelta() == "":
					got = "k:" + f.GetText()
				default:
					t.Fatalf("step %d: frame with text %q and delta %q", i, f.GetText(), f.GetDelta())
				}
				if got != s.want {
					t.Fatalf("step %d: %q, want %q", i, got, s.want)
				}
				if f == nil {
					continue
				}
				if !f.GetPartial() || f.GetPart() != part+1 {
					t.Fatalf("step %d: partial %v part %d after %d", i, f.GetPartial(), f.GetPart(), part)
				}
				part = f.GetPart()
				if f.GetDelta() != "" {
					held += f.GetDelta()
				} else {
					held = f.GetText()
				}
				if held != s.text {
					t.Fatalf("step %d: assembled %q, the model wrote %q", i, held, s.text)
				}
			}
		})
	}
}
