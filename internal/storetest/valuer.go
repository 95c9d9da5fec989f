package storetest

import (
	"sync"

	"github.com/polybot/polybot"
)

// Valuer is a polybot.Valuer for tests: marks set by hand, no fees, the
// given pairs.
type Valuer struct {
	mu    sync.Mutex
	marks map[string]polybot.Mark
	pairs []*polybot.MarketPair
}

// NewValuer returns a Valuer with no marks and the given approved pairs.
func NewValuer(pairs ...*polybot.MarketPair) *Valuer {
	return &Valuer{marks: map[string]polybot.Mark{}, pairs: pairs}
}

// Set marks inst at bid, live.
func (v *Valuer) Set(inst polybot.Instrument, bid string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.marks[inst.Key()] = polybot.Mark{Price: polybot.MustDecimal(bid), At: T0}
}

// Stale keeps inst's last mark and flags it stale.
func (v *Valuer) Stale(inst polybot.Instrument) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.marks[inst.Key()]
	m.Stale = true
	v.marks[inst.Key()] = m
}

// SetAll copies w's marks (not its pairs).
func (v *Valuer) SetAll(w *Valuer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, m := range w.marks {
		v.marks[k] = m
	}
}

// Mark implements polybot.Valuer.
func (v *Valuer) Mark(inst polybot.Instrument) (polybot.Mark, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, ok := v.marks[inst.Key()]
	return m, ok
}

// Fees implements polybot.Valuer: none.
func (v *Valuer) Fees() polybot.FeeModel { return polybot.NoFees{} }

// Hedges implements polybot.Valuer: the pairs it was given.
func (v *Valuer) Hedges() polybot.Hedges { return polybot.Hedges{Pairs: v.pairs} }

var _ polybot.Valuer = (*Valuer)(nil)
