package polybot_test

import (
	"testing"
	"time"

	"github.com/polybot/polybot"
)

func chain(n int) []polybot.AuditEntry {
	var out []polybot.AuditEntry
	prevSeq, prevHash := int64(0), ""
	u := polybot.NewID()
	for i := 0; i < n; i++ {
		e := polybot.AuditEntry{UserID: &u, Actor: u.String(), Action: polybot.AuditConfigUpdate, Target: "config",
			Details: `{"n":1}`, CreatedAt: time.Unix(1700000000, int64(i)*1000)}
		e.Seal(prevSeq, prevHash)
		prevSeq, prevHash = e.Seq, e.Hash
		out = append(out, e)
	}
	return out
}

func TestAuditChainDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func([]polybot.AuditEntry) []polybot.AuditEntry
		ok     bool
	}{
		{"untouched chain verifies", func(c []polybot.AuditEntry) []polybot.AuditEntry { return c }, true},
		{"edited details", func(c []polybot.AuditEntry) []polybot.AuditEntry { c[2].Details = `{"n":2}`; return c }, false},
		{"edited actor", func(c []polybot.AuditEntry) []polybot.AuditEntry { c[0].Actor = "someone"; return c }, false},
		{"edited time", func(c []polybot.AuditEntry) []polybot.AuditEntry {
			c[1].CreatedAt = c[1].CreatedAt.Add(time.Second)
			return c
		}, false},
		{"deleted middle row", func(c []polybot.AuditEntry) []polybot.AuditEntry { return append(c[:2], c[3:]...) }, false},
		{"deleted last row", func(c []polybot.AuditEntry) []polybot.AuditEntry { return c[:len(c)-1] }, false},
		{"rehashed edit still breaks the next link", func(c []polybot.AuditEntry) []polybot.AuditEntry {
			c[1].Details = `{"n":9}`
			c[1].Hash = c[1].ComputeHash()
			return c
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := chain(5)
			head := orig[len(orig)-1]
			c := tt.tamper(append([]polybot.AuditEntry(nil), orig...))
			probs := polybot.VerifyAuditChain(c, head.Seq, head.Hash)
			if (len(probs) == 0) != tt.ok {
				t.Errorf("problems = %v, want ok=%v", probs, tt.ok)
			}
		})
	}
}
