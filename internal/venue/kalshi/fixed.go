package kalshi

import (
	"errors"
	"math/big"
	"strconv"

	"github.com/polybot/polybot"
)

// Kalshi sends prices as dollar strings ("0.5600") and counts as two-place
// strings ("10.00"). Both parse exactly into polybot.Decimal (with
// polybot.ParseDecimal / ParseDecimalBytes); this file writes them back.

// formatFixed writes d with exactly places fractional digits ("0.5600",
// "10.00"). It fails if d needs more places than that: Kalshi would reject
// or round the value, and we never round money silently.
func formatFixed(d polybot.Decimal, places int) (string, error) {
	if d.Places() > places {
		return "", errors.New("kalshi: " + d.String() + " has more than " + strconv.Itoa(places) + " decimal places")
	}
	return string(appendFixed(nil, d, places)), nil
}

// appendFixed appends d with places fractional digits, truncating any
// further digits (callers check Places first where that matters).
func appendFixed(dst []byte, d polybot.Decimal, places int) []byte {
	u := d.Micros()
	if u < 0 {
		dst = append(dst, '-')
		u = -u
	}
	dst = strconv.AppendInt(dst, u/1_000_000, 10)
	if places == 0 {
		return dst
	}
	dst = append(dst, '.')
	frac := u % 1_000_000
	div := int64(100_000)
	for i := 0; i < places; i++ {
		dst = append(dst, byte('0'+frac/div%10))
		div /= 10
	}
	return dst
}

// centsToDecimal turns an integer count of cents into dollars.
func centsToDecimal(c int64) polybot.Decimal { return polybot.NewDecimal(c, 2) }

// divDecimal returns a/b truncated toward zero to six places, exactly.
func divDecimal(a, b polybot.Decimal) (polybot.Decimal, bool) {
	if b.IsZero() {
		return polybot.Zero, false
	}
	n := new(big.Int).Mul(big.NewInt(a.Micros()), big.NewInt(1_000_000))
	n.Quo(n, big.NewInt(b.Micros()))
	if !n.IsInt64() {
		return polybot.Zero, false
	}
	return polybot.DecimalFromMicros(n.Int64()), true
}
