package polybot

// FeeModel prices a venue's trading fees. It is a venue fact: detection,
// the pre-flight check, paper fills, the risk gate's marks, P&L, replay and
// the simulators all use the same model, built in internal/fee.
type FeeModel interface {
	// TakerFee is the fee, in dollars, of ONE taker order trading count
	// contracts of inst at price (dollars per contract paying $1), with the
	// venue's rounding.
	TakerFee(inst Instrument, price, count Decimal) Decimal
}

// NoFees charges nothing.
type NoFees struct{}

// TakerFee implements FeeModel.
func (NoFees) TakerFee(Instrument, Decimal, Decimal) Decimal { return Zero }
