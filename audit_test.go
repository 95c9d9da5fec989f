package polybot_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/polybot/polybot"
)

// testKey is an AuditKey for tests: HMAC-SHA256 under a fixed key.
type testKey string

func (k testKey) MAC(msg []byte) []byte {
	m := hmac.New(sha256.New, []byte(k))
	m.Write(msg)
	return m.Sum(nil)
}

const key = testKey("audit test key")

func chain(n int) []polybot.AuditEntry {
	var out []polybot.AuditEntry
	prevSeq, prevHash := int64(0), ""
	u := polybot.NewID()
	for i := 0; i < n; i++ {
		e := polybot.AuditEntry{UserID: &u, Actor: u.String(), Action: polybot.AuditConfigUpdate, Target: "config",
			Details: `{"n":1}`, CreatedAt: time.Unix(1700000000, int64(i)*1000)}
		if err := e.Seal(prevSeq, prevHash, key); err != nil {
			panic(err)
		}
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
		{"whole chain recomputed with SHA-256 (head too)", func(c []polybot.AuditEntry) []polybot.AuditEntry {
			return sha256Chain(c)
		}, false},
		{"whole chain recomputed under another key", func(c []polybot.AuditEntry) []polybot.AuditEntry {
			prevSeq, prevHash := int64(0), ""
			for i := range c {
				_ = c[i].Seal(prevSeq, prevHash, testKey("another key"))
				prevSeq, prevHash = c[i].Seq, c[i].Hash
			}
			return c
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := chain(5)
			head := orig[len(orig)-1]
			c := tt.tamper(append([]polybot.AuditEntry(nil), orig...))
			probs := polybot.VerifyAuditChain(c, head.Seq, head.Hash, key)
			if (len(probs) == 0) != tt.ok {
				t.Errorf("problems = %v, want ok=%v", probs, tt.ok)
			}
		})
	}
}

func sha256Chain(c []polybot.AuditEntry) []polybot.AuditEntry {
	prev := polybot.GenesisHash
	for i := range c {
		c[i].PrevHash = prev
		c[i].Hash = c[i].ComputeHash()
		prev = c[i].Hash
	}
	return c
}

func TestAuditChainRecomputedWithSHA256IsNamedAtEveryRow(t *testing.T) {
	c := sha256Chain(chain(4))
	probs := polybot.VerifyAuditChain(c, 4, c[3].Hash, key)
	named := map[int64]bool{}
	for _, p := range probs {
		if strings.Contains(p.Reason, "plain SHA-256") {
			named[p.Seq] = true
		}
	}
	if len(named) != 4 {
		t.Fatalf("problems = %v, want rows 1-4 named as SHA-256", probs)
	}
}

func TestSealAndVerifyWithoutAKeyFailClosed(t *testing.T) {
	var e polybot.AuditEntry
	if err := e.Seal(0, "", nil); err == nil || e.Hash != "" {
		t.Fatalf("Seal without a key: %v, hash %q", err, e.Hash)
	}
	if probs := polybot.VerifyAuditChain(chain(2), 2, "", nil); len(probs) == 0 {
		t.Fatal("VerifyAuditChain without a key reported nothing")
	}
}

func TestResealAuditChainKeysAnIntactSHA256ChainAndRefusesABrokenOne(t *testing.T) {
	old := sha256Chain(chain(3))
	out, head, err := polybot.ResealAuditChain(old, 3, old[2].Hash, key)
	if err != nil {
		t.Fatal(err)
	}
	if probs := polybot.VerifyAuditChain(out, 3, head, key); len(probs) != 0 || head != out[2].Hash {
		t.Fatalf("re-sealed chain: %v", probs)
	}
	broken := sha256Chain(chain(3))
	broken[1].Target = "forged"
	if _, _, err := polybot.ResealAuditChain(broken, 3, broken[2].Hash, key); polybot.ErrorCode(err) != polybot.EINVALID || !strings.Contains(err.Error(), "seq 2") {
		t.Fatalf("re-sealing a broken chain: %v, want EINVALID naming seq 2", err)
	}
}
