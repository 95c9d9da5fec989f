package kalshi

import (
	"context"
	"strings"

	"github.com/polybot/polybot/internal/fee"
)

// FeeSchedule is a series' fee schedule; the formula lives in internal/fee.
type FeeSchedule = fee.KalshiSchedule

// ScheduleFor returns the schedule of a series, with an event's override
// when it has one.
func ScheduleFor(s Series, e *Event) FeeSchedule {
	if e == nil {
		return fee.KalshiScheduleFor(s.FeeType, s.FeeMultiplier, "", nil)
	}
	return fee.KalshiScheduleFor(s.FeeType, s.FeeMultiplier, e.FeeTypeOverride, e.FeeMultiplierOverride)
}

// MarketFeeSchedule reads the schedule market ticker trades under from the
// venue: the market's event (for an override), then the event's series.
func (c *Client) MarketFeeSchedule(ctx context.Context, ticker string) (FeeSchedule, error) {
	m, err := c.Market(ctx, ticker)
	if err != nil {
		return FeeSchedule{}, err
	}
	ev, err := c.Event(ctx, m.EventTicker)
	if err != nil {
		return FeeSchedule{}, err
	}
	series := ev.SeriesTicker
	if series == "" {
		series, _, _ = strings.Cut(ticker, "-")
	}
	s, err := c.Series(ctx, series)
	if err != nil {
		return FeeSchedule{}, err
	}
	return ScheduleFor(*s, ev), nil
}
