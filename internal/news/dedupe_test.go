package news

import (
	"fmt"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func TestDeduperActsOnAStoryOnce(t *testing.T) {
	alice, bob := polybot.NewID(), polybot.NewID()
	type step struct {
		owner       polybot.ID
		title, link string
		at          time.Duration // after t0
		new         bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"the same story from two sources: same title, other link", []step{
			{polybot.NilID, "Fed's Williams: room for a cut 'in the near term'", "https://wire-a.example.com/williams", 0, true},
			{polybot.NilID, "FED'S WILLIAMS — ROOM FOR A CUT IN THE NEAR TERM", "https://wire-b.example.com/story/991", time.Minute, false},
		}},
		{"the same item re-polled with an edited title", []step{
			{polybot.NilID, "Williams sees room for cut", "https://wire-a.example.com/williams?utm_source=rss", 0, true},
			{polybot.NilID, "UPDATE 1-Williams sees room for near-term cut", "http://www.wire-a.example.com/williams/", 2 * time.Minute, false},
		}},
		{"two stories", []step{
			{polybot.NilID, "Williams sees room for cut", "https://wire-a.example.com/1", 0, true},
			{polybot.NilID, "Payrolls beat forecasts", "https://wire-a.example.com/2", time.Second, true},
			{polybot.NilID, "Payrolls beat forecasts", "", 2 * time.Second, false},
		}},
		{"no links: titles decide", []step{
			{polybot.NilID, "Oil steadies", "", 0, true},
			{polybot.NilID, "Oil steadies.", "", time.Second, false},
			{polybot.NilID, "Oil slips", "", 2 * time.Second, true},
		}},
		{"a sighting keeps a story a duplicate past the first retention", []step{
			{polybot.NilID, "Still listed", "https://wire-a.example.com/s", 0, true},
			{polybot.NilID, "Still listed", "https://wire-a.example.com/s", 47 * time.Hour, false},
			{polybot.NilID, "Still listed", "https://wire-a.example.com/s", 94 * time.Hour, false},
		}},
		{"after the retention it is news again", []step{
			{polybot.NilID, "Annual report", "https://wire-a.example.com/r", 0, true},
			{polybot.NilID, "Annual report", "https://wire-a.example.com/r", 48 * time.Hour, true},
		}},
		{"a user's own feed does not hide a platform headline from others", []step{
			{alice, "Governor backs cut", "https://private.example.com/g", 0, true},
			{polybot.NilID, "Governor backs cut", "https://wire-a.example.com/g", time.Second, true},
			{alice, "Governor backs cut", "https://private.example.com/g2", 2 * time.Second, false},
			{bob, "Governor backs cut", "https://bobs.example.com/g", 3 * time.Second, false}, // the platform had it
		}},
		{"a platform headline is a duplicate for every user", []step{
			{polybot.NilID, "Rates held", "https://wire-a.example.com/h", 0, true},
			{alice, "Rates held", "https://private.example.com/h", time.Second, false},
		}},
		{"users' own headlines are apart", []step{
			{alice, "Niche story", "https://private.example.com/n", 0, true},
			{bob, "Niche story", "https://private.example.com/n", time.Second, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDeduper(48*time.Hour, 0)
			for i, s := range tc.steps {
				h := polybot.Headline{Title: s.title, Link: s.link}
				if got := d.Add(s.owner, &h, t0.Add(s.at)); got != s.new {
					t.Fatalf("step %d (%q): new = %v, want %v", i, s.title, got, s.new)
				}
			}
		})
	}
}

func TestDeduperStaysWithinItsBound(t *testing.T) {
	d := NewDeduper(48*time.Hour, 100)
	first := polybot.Headline{Title: "The first story", Link: "https://wire.example.com/first"}
	d.Add(polybot.NilID, &first, t0)
	recent := polybot.Headline{Title: "A story seen again and again", Link: "https://wire.example.com/again"}
	for i := range 500 {
		h := polybot.Headline{Title: fmt.Sprintf("Story %d", i), Link: fmt.Sprintf("https://wire.example.com/%d", i)}
		now := t0.Add(time.Duration(i+1) * time.Second)
		d.Add(polybot.NilID, &h, now)
		d.Add(polybot.NilID, &recent, now)
		if d.Len() > 100 {
			t.Fatalf("holds %d keys after %d stories, want at most 100", d.Len(), i+1)
		}
	}
	if !d.Add(polybot.NilID, &first, t0.Add(time.Hour)) {
		t.Fatal("the least recently seen story was kept over newer ones")
	}
	if d.Add(polybot.NilID, &recent, t0.Add(time.Hour)) {
		t.Fatal("a story seen every second was forgotten")
	}
}

func TestDeduperForgetsExpiredKeys(t *testing.T) {
	d := NewDeduper(time.Hour, 0)
	for i := range 50 {
		h := polybot.Headline{Title: fmt.Sprintf("Story %d", i), Link: fmt.Sprintf("https://wire.example.com/%d", i)}
		d.Add(polybot.NilID, &h, t0)
	}
	h := polybot.Headline{Title: "Later"}
	d.Add(polybot.NilID, &h, t0.Add(2*time.Hour))
	if d.Len() != 1 {
		t.Fatalf("holds %d keys after the others expired, want 1", d.Len())
	}
}
