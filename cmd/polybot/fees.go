package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/fee"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

// unknownPolymarketSchedule prices a Polymarket token whose market's fee
// schedule could not be read: the highest published taker rate (crypto,
// 0.07), so an unknown schedule never overstates an edge.
var unknownPolymarketSchedule = fee.PolymarketSchedule{Rate: polybot.MustDecimal("0.07"), Exponent: 1}

// registryMarkets lists, once each, the Polymarket tokens and Kalshi
// tickers the registries name: every pair's, every outcome set's (approved
// or not: an approval needs no restart to be priced) and every relation's.
func registryMarkets(h polybot.Hedges) (tokens, tickers []string) {
	seen := map[string]bool{}
	add := func(in polybot.Instrument) {
		switch {
		case in.Venue == polybot.Polymarket && in.Token != "" && !seen["p"+in.Token]:
			seen["p"+in.Token] = true
			tokens = append(tokens, in.Token)
		case in.Venue == polybot.Kalshi && in.Market != "" && !seen["k"+in.Market]:
			seen["k"+in.Market] = true
			tickers = append(tickers, in.Market)
		}
	}
	market := func(m polybot.BinaryMarket) { add(m.Yes); add(m.No) }
	for _, p := range h.Pairs {
		a, b := p.Markets()
		market(a)
		market(b)
	}
	for _, s := range h.Sets {
		for _, o := range s.Outcomes {
			for _, m := range o.Markets {
				market(m)
			}
		}
	}
	for _, r := range h.Relations {
		if r.Kind == polybot.RelationImplies {
			market(r.A)
			market(r.B)
		}
	}
	return tokens, tickers
}

// venueFees builds the fee model and order facts of the trading universe
// from the venues' own data: each Polymarket market's fee schedule,
// minimum order size and tick (Gamma), and each Kalshi market's series
// schedule with its event's override, and tick (REST). It reads whatever
// endpoints ep names, the real venues or the simulators. A market it
// cannot read is logged and priced conservatively: Polymarket at the
// highest published rate, Kalshi at the general schedule.
func venueFees(ctx context.Context, ep venueEndpoints, h polybot.Hedges, log *slog.Logger) (fee.Venues, *fee.Facts) {
	fees := fee.Venues{
		Polymarket: fee.Polymarket{Default: unknownPolymarketSchedule, Tokens: map[string]fee.PolymarketSchedule{}},
		Kalshi:     fee.Kalshi{Markets: map[string]fee.KalshiSchedule{}},
	}
	facts := &fee.Facts{Tokens: map[string]fee.Rules{}, Markets: map[string]fee.Rules{}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	tokens, tickers := registryMarkets(h)
	if len(tokens) > 0 {
		pc := polymarket.NewClient(ep.polymarket)
		ms, err := pc.Markets(ctx, polymarket.MarketsQuery{TokenIDs: tokens, Limit: len(tokens)})
		if err != nil {
			log.Error("Polymarket fee schedules unread: pricing every token at the highest published rate", "err", err)
		}
		for _, m := range ms {
			for _, t := range m.TokenIDs {
				fees.Polymarket.Tokens[t] = m.FeeSchedule
				facts.Tokens[t] = fee.Rules{Tick: m.TickSize, MinSize: m.MinOrderSize}
			}
			log.Info("Polymarket fee schedule", "market", m.ConditionID, "fees_enabled", m.FeesEnabled,
				"rate", m.FeeSchedule.Rate, "exponent", m.FeeSchedule.ExponentValue(), "min_order_size", m.MinOrderSize)
		}
		for _, t := range tokens {
			if _, ok := fees.Polymarket.Tokens[t]; !ok {
				log.Warn("Polymarket token without a fee schedule: priced at the highest published rate", "token", t)
			}
		}
	}

	kc, err := kalshi.NewClient(ep.kalshiREST, &http.Client{Timeout: 10 * time.Second}, nil)
	if err != nil {
		log.Error("Kalshi fee schedules unread: the general schedule applies", "err", err)
		return fees, facts
	}
	for _, t := range tickers {
		s, err := kc.MarketFeeSchedule(ctx, t)
		if err != nil {
			log.Warn("Kalshi fee schedule unread: the general schedule applies", "market", t, "err", err)
			continue
		}
		fees.Kalshi.Markets[t] = s
		if m, err := kc.Market(ctx, t); err == nil {
			facts.Markets[t] = fee.Rules{Tick: m.TickSize()}
		}
		log.Info("Kalshi fee schedule", "market", t, "fee_type", s.Type, "multiplier", s.Multiplier)
	}
	return fees, facts
}
