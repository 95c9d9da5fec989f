package kalshi

import (
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
