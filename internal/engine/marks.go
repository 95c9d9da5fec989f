package engine

import (
	"sync"
	"sync/atomic"

	"github.com/polybot/polybot"
)

// valuer prices tenants' holdings for the risk gate and the server's
// views (polybot.Valuer): the hubs' best bids, the last good mark of every
// instrument kept while its book is not live (a reconnect never turns a
// hedged book into a "total loss"), the venues' fee model and the approved
// registry entries (pairs, outcome sets, relations) that make complete sets.
type valuer struct {
	books  hubBooks
	fees   polybot.FeeModel
	now    polybot.Clock
	last   sync.Map // instrument key → polybot.Mark
	hedges atomic.Pointer[polybot.Hedges]
}

var _ polybot.Valuer = (*valuer)(nil)

func newValuer(books hubBooks, fees polybot.FeeModel, now polybot.Clock, u Universe) *valuer {
	if fees == nil {
		fees = polybot.NoFees{}
	}
	v := &valuer{books: books, fees: fees, now: now}
	v.setHedges(u)
	return v
}

func (v *valuer) setHedges(u Universe) {
	h := u.hedges()
	v.hedges.Store(&h)
}

// Mark is inst's best bid now, or its last good one (Stale) while its book
// is not live or shows no bid.
func (v *valuer) Mark(inst polybot.Instrument) (polybot.Mark, bool) {
	k := inst.Key()
	if view, ok := v.books.View(inst); ok {
		if b, has := view.BestBid(); has {
			at := view.Received
			if at.IsZero() {
				at = v.now()
			}
			m := polybot.Mark{Price: b.Price, At: at}
			v.last.Store(k, m)
			return m, true
		}
	}
	if m, ok := v.last.Load(k); ok {
		mm := m.(polybot.Mark)
		mm.Stale = true
		return mm, true
	}
	return polybot.Mark{}, false
}

func (v *valuer) Fees() polybot.FeeModel { return v.fees }

func (v *valuer) Hedges() polybot.Hedges {
	if h := v.hedges.Load(); h != nil {
		return *h
	}
	return polybot.Hedges{}
}
