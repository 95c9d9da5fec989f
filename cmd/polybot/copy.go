package main

import (
	"context"
	"errors"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/engine"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

// dataAPILeaders reads followed wallets' trades from the Polymarket Data
// API (/activity, trades and redemptions, oldest first from since): the
// real venue's, or the simulator's.
type dataAPILeaders struct{ c *polymarket.Client }

var _ engine.LeaderSource = dataAPILeaders{}

func (d dataAPILeaders) LeaderTrades(ctx context.Context, wallet string, since time.Time) ([]polybot.LeaderTrade, error) {
	rows, err := d.c.WalletActivity(ctx, polymarket.WalletActivityQuery{User: wallet, Start: since.Unix(), Limit: 500, Ascending: true,
		Types: []string{polymarket.ActivityTrade, polymarket.ActivityRedeem}})
	if err != nil {
		return nil, err
	}
	out := make([]polybot.LeaderTrade, 0, len(rows))
	for _, r := range rows {
		t, err := r.ToLeaderTrade()
		if errors.Is(err, polymarket.ErrNotATrade) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !t.Time.Before(since) {
			out = append(out, t)
		}
	}
	return out, nil
}

// copyStore is the engine's access to the store for copy trading.
func copyStore(st polybot.Store) engine.CopyStore {
	return engine.CopyStore{
		Leaders: func(tx polybot.TenantTx) ([]*polybot.Leader, error) { return tx.Leaders() },
		Cursor: func(ctx context.Context, tenant polybot.ID, leaderID string) (at time.Time, key string, err error) {
			err = st.TenantView(ctx, tenant, func(tx polybot.TenantTx) error {
				at, key, err = tx.LeaderCursor(leaderID)
				return err
			})
			return at, key, err
		},
		SetCursor: func(ctx context.Context, tenant polybot.ID, leaderID string, at time.Time, key string) error {
			return st.Tenant(ctx, tenant, func(tx polybot.TenantTx) error { return tx.SetLeaderCursor(leaderID, at, key) })
		},
		Record: func(ctx context.Context, tenant polybot.ID, r engine.CopyRecord) error {
			return st.Tenant(ctx, tenant, func(tx polybot.TenantTx) error {
				return tx.PutCopyRecord(&polybot.CopyRecord{LeaderID: r.LeaderID, TradeKey: r.Trade.Key(), LeaderSide: r.Trade.Side,
					LeaderPrice: r.Trade.Price, LeaderSize: r.Trade.Size, LeaderTime: r.Trade.Time, Instrument: r.Trade.Instrument,
					Title: r.Trade.Title, Action: r.Action, Reason: r.Reason, OpportunityID: r.OpportunityID, Size: r.Size, Price: r.Price,
					At: r.At})
			})
		},
	}
}

// demoLeader is the demo user's leader in serve --sim: the simulator's
// real recorded wallet, followed at a twentieth of its notional, $20 a
// copy and $150 a day at most, 2 cents of price guard, trades up to a
// minute old.
func demoLeader(address string) *polybot.Leader {
	l := &polybot.Leader{ID: "demo-kch123", Address: address, Label: "kch123 (recorded wallet, replayed)", Enabled: true,
		Mode: polybot.CopyProportional, Multiplier: polybot.MustDecimal("0.05"), MaxTradeUSD: polybot.MustDecimal("20"),
		MaxDayUSD: polybot.MustDecimal("150"), PriceGuard: polybot.MustDecimal("0.02"), MaxAge: time.Minute}
	return l
}

// seedSimLeader makes the demo user follow a simulated leader wallet,
// once (an existing leader of that wallet is kept as the user left it).
func seedSimLeader(ctx context.Context, st polybot.Store, demo polybot.ID, wallet string) error {
	return st.Tenant(ctx, demo, func(tx polybot.TenantTx) error {
		ls, err := tx.Leaders()
		if err != nil {
			return err
		}
		for _, l := range ls {
			if l.Address == polybot.NormalizeAddress(wallet) {
				return nil
			}
		}
		return tx.PutLeader(demoLeader(wallet))
	})
}
