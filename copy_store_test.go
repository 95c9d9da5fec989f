package polybot

import (
	"testing"
	"time"
)

func TestIsCopyOpportunityClaimsOnlyItsOwnLeadersCopies(t *testing.T) {
	for _, c := range []struct {
		leader, opp string
		want        bool
	}{
		{"a", CopyOpportunityID("a", "0xtx/1"), true},
		{"a", CopyOpportunityID("a-b", "0xtx/1"), false}, // "copy-a-b-…" is leader a-b's
		{"a-b", CopyOpportunityID("a-b", "0xtx/1"), true},
		{"a", "copy-a-", false},
		{"a", "news-a-123", false},
		{"a", "copy-ab-123", false},
	} {
		if got := IsCopyOpportunity(c.leader, c.opp); got != c.want {
			t.Errorf("IsCopyOpportunity(%q, %q) = %v, want %v", c.leader, c.opp, got, c.want)
		}
	}
	if id := CopyOpportunityID("a", "0xtx/1"); len(id) != len("copy-a-")+16 {
		t.Errorf("CopyOpportunityID = %q, want 16 hex digits after copy-a-", id)
	}
}

func TestLeaderDescribeSaysSizingCapsAndGuards(t *testing.T) {
	for _, c := range []struct {
		l    Leader
		want string
	}{
		{Leader{Mode: CopyProportional, Multiplier: MustDecimal("0.5"), PriceGuard: MustDecimal("0.02"), MaxAge: time.Minute},
			"0.5× the leader's notional; buys only within 2¢ of the leader's fill; trades older than 1 minute ignored"},
		{Leader{Mode: CopyFixed, FixedUSD: MustDecimal("12.5"), MaxTradeUSD: MustDecimal("25"), MaxMarketUSD: MustDecimal("50"),
			MaxDayUSD: MustDecimal("100"), MinLeaderUSD: MustDecimal("10"), MaxAge: 90 * time.Second},
			"$12.50 a trade; at most $25.00 a trade; at most $50.00 a market; at most $100.00 a day; leader trades under $10.00 ignored; buys only within 0¢ of the leader's fill; trades older than 1 minute 30 seconds ignored"},
		{Leader{Mode: CopyBalancePct, BalancePct: MustDecimal("2.5"), PriceGuard: MustDecimal("0.005")},
			"2.5% of your balance a trade; buys only within 0.5¢ of the leader's fill"},
	} {
		if got := c.l.Describe(); got != c.want {
			t.Errorf("Describe() = %q\nwant        %q", got, c.want)
		}
	}
}

func TestGroupFollowersGroupsConsecutiveAddresses(t *testing.T) {
	u1, u2 := NewID(), NewID()
	got := GroupFollowers([]string{"0xa", "0xa", "0xb"},
		[]WalletFollower{{u1, "l1"}, {u2, "l2"}, {u1, "l3"}})
	if len(got) != 2 || got[0].Address != "0xa" || len(got[0].Leaders) != 2 || got[0].Leaders[1].LeaderID != "l2" ||
		got[1].Address != "0xb" || len(got[1].Leaders) != 1 {
		t.Errorf("GroupFollowers = %+v", got)
	}
	if got := GroupFollowers(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("GroupFollowers(nothing) = %v, want an empty list", got)
	}
}
