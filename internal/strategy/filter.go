package strategy

import "github.com/polybot/polybot"

// Wants reports whether a tenant with config cfg, on a plan granting
// features, wants o: the strategy is on in both the config and the plan
// (Config.Enabled), every venue o trades on is enabled (PlatformEnabled),
// and o's ProfitPct is at least cfg.MinProfitPct. A nil config or
// opportunity wants nothing.
func Wants(cfg *polybot.Config, features polybot.Features, o *polybot.Opportunity) bool {
	if cfg == nil || o == nil || len(o.Legs) == 0 {
		return false
	}
	if !cfg.Enabled(o.Strategy, features) {
		return false
	}
	for i := range o.Legs {
		if !cfg.PlatformEnabled(o.Legs[i].Instrument.Venue) {
			return false
		}
	}
	// A direct news buy or a copy has no edge to hold to min_profit_pct:
	// the rule's max price, or the leader's price and guard, bound it.
	return (o.Direct && (o.Strategy == polybot.StrategyNews || o.Strategy == polybot.StrategyCopy)) || !o.ProfitPct.LessThan(cfg.MinProfitPct)
}
