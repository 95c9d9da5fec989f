package polybot

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Decimal is an exact fixed-point number with six decimal places, stored as
// an int64 count of millionths. It carries prices, sizes, fees, limits and
// P&L: never float64. Six places match Polymarket's on-chain amounts and are
// finer than any tick or cent used by the venues.
type Decimal struct{ u int64 }

// DecimalPlaces is the number of fractional digits a Decimal keeps.
const DecimalPlaces = 6

const decimalScale = 1_000_000

// Common values.
var (
	Zero = Decimal{}
	One  = Decimal{decimalScale}
)

// NewDecimal returns units × 10^-places, for example NewDecimal(4999, 2) = 49.99.
// It panics if places > 6 would lose digits; it is meant for constants.
func NewDecimal(units int64, places int) Decimal {
	if places < 0 || places > DecimalPlaces {
		panic("polybot.NewDecimal: places out of range")
	}
	m := int64(1)
	for i := places; i < DecimalPlaces; i++ {
		m *= 10
	}
	hi, lo := bits.Mul64(uint64(abs64(units)), uint64(m))
	if hi != 0 || lo > math.MaxInt64 {
		panic("polybot.NewDecimal: overflow")
	}
	if units < 0 {
		return Decimal{-int64(lo)}
	}
	return Decimal{int64(lo)}
}

// DecimalFromMicros returns the Decimal whose value is micros × 10^-6.
func DecimalFromMicros(micros int64) Decimal { return Decimal{micros} }

// Micros returns the value in millionths.
func (d Decimal) Micros() int64 { return d.u }

// The one decimal syntax every parser of money in PolyBot accepts, for
// strings (ParseDecimal) and for bytes read in place from a venue's frame
// (ParseDecimalBytes):
//
//   - an optional sign ('-' or '+'), digits with at most one '.', and at
//     least one digit ("0.5", ".48", "-54.00", "+3");
//   - at most DecimalPlaces (6) significant fractional digits: further
//     digits must be zeros ("0.12345600" is fine, "0.1234567" is refused,
//     never rounded: a price we would have to round is a price we misread);
//   - a magnitude below 2^63 millionths (about ±9.2e12);
//   - at most 32 bytes in all; no exponent, no space.
var (
	errDecimalSyntax = errors.New("not a decimal number")
	errDecimalPlaces = errors.New("more than 6 decimal places")
	errDecimalRange  = errors.New("out of range")
)

// ParseDecimal parses a plain decimal such as "50", "-1.25" or "0.000001"
// under the syntax above.
func ParseDecimal(s string) (Decimal, error) { return parseDecimal(s) }

// ParseDecimalBytes is ParseDecimal for bytes; it does not allocate, so the
// venues' hot-path decoders call it on sub-slices of a frame.
func ParseDecimalBytes(b []byte) (Decimal, error) { return parseDecimal(b) }

func parseDecimal[T string | []byte](s T) (Decimal, error) {
	if len(s) == 0 || len(s) > 32 {
		return Zero, errDecimalSyntax
	}
	neg := false
	i := 0
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i++
	}
	var intPart, frac uint64
	digits, fracDigits := 0, 0
	seenDot := false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !seenDot:
			seenDot = true
		case c >= '0' && c <= '9':
			if seenDot {
				if fracDigits == DecimalPlaces {
					if c != '0' {
						return Zero, errDecimalPlaces
					}
					continue
				}
				frac = frac*10 + uint64(c-'0')
				fracDigits++
			} else {
				if intPart > (math.MaxInt64/decimalScale)/10+1 {
					return Zero, errDecimalRange
				}
				intPart = intPart*10 + uint64(c-'0')
				digits++
			}
		default:
			return Zero, errDecimalSyntax
		}
	}
	if digits == 0 && fracDigits == 0 {
		return Zero, errDecimalSyntax
	}
	for j := fracDigits; j < DecimalPlaces; j++ {
		frac *= 10
	}
	if intPart > math.MaxInt64/decimalScale {
		return Zero, errDecimalRange
	}
	v := intPart*decimalScale + frac
	if v > math.MaxInt64 {
		return Zero, errDecimalRange
	}
	if neg {
		return Decimal{-int64(v)}, nil
	}
	return Decimal{int64(v)}, nil
}

// MustDecimal is ParseDecimal for constants; it panics on bad input.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic("polybot.MustDecimal(" + s + "): " + err.Error())
	}
	return d
}

// String formats d without trailing zeros beyond two places: "50.00", "0.015", "-3.10".
func (d Decimal) String() string {
	var b [24]byte
	return string(d.Append(b[:0]))
}

// Append appends d as String formats it to b.
func (d Decimal) Append(b []byte) []byte {
	u := d.u
	var mag uint64
	if u < 0 {
		mag = uint64(-(u + 1)) + 1
		b = append(b, '-')
	} else {
		mag = uint64(u)
	}
	b = strconv.AppendUint(b, mag/decimalScale, 10)
	b = append(b, '.')
	var fs [6]byte
	fp := mag % decimalScale
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i] = '0' + byte(fp%10)
		fp /= 10
	}
	n := len(fs)
	for n > 2 && fs[n-1] == '0' {
		n--
	}
	return append(b, fs[:n]...)
}

// Add returns d+e.
func (d Decimal) Add(e Decimal) Decimal { return Decimal{d.u + e.u} }

// Sub returns d−e.
func (d Decimal) Sub(e Decimal) Decimal { return Decimal{d.u - e.u} }

// Neg returns −d.
func (d Decimal) Neg() Decimal { return Decimal{-d.u} }

// MulInt returns d×n.
func (d Decimal) MulInt(n int64) Decimal { return Decimal{d.u * n} }

// Mul returns d×e truncated toward zero to six places.
func (d Decimal) Mul(e Decimal) Decimal {
	hi, lo := bits.Mul64(uint64(abs64(d.u)), uint64(abs64(e.u)))
	if hi >= decimalScale {
		panic("polybot.Decimal.Mul: overflow")
	}
	q, _ := bits.Div64(hi, lo, decimalScale)
	if q > math.MaxInt64 {
		panic("polybot.Decimal.Mul: overflow")
	}
	r := int64(q)
	if (d.u < 0) != (e.u < 0) {
		r = -r
	}
	return Decimal{r}
}

// Cmp returns -1, 0 or +1.
func (d Decimal) Cmp(e Decimal) int {
	switch {
	case d.u < e.u:
		return -1
	case d.u > e.u:
		return 1
	}
	return 0
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.Cmp(Zero) }

// IsZero reports whether d is 0.
func (d Decimal) IsZero() bool { return d.u == 0 }

// LessThan reports d < e.
func (d Decimal) LessThan(e Decimal) bool { return d.u < e.u }

// GreaterThan reports d > e.
func (d Decimal) GreaterThan(e Decimal) bool { return d.u > e.u }

// Places reports how many fractional digits d needs.
func (d Decimal) Places() int {
	f := abs64(d.u) % decimalScale
	if f == 0 {
		return 0
	}
	n := DecimalPlaces
	for f%10 == 0 {
		f /= 10
		n--
	}
	return n
}

// MarshalJSON writes d as a JSON string, so no client reads it as a float.
func (d Decimal) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 26)
	b = append(b, '"')
	b = d.Append(b)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts a JSON string or a JSON number, parsed exactly.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Value implements driver.Valuer: Decimals are stored as exact text
// (NUMERIC on PostgreSQL, TEXT on SQLite).
func (d Decimal) Value() (driver.Value, error) { return d.String(), nil }

// Scan implements sql.Scanner.
func (d *Decimal) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return d.UnmarshalJSON([]byte(v))
	case []byte:
		return d.UnmarshalJSON(v)
	case int64:
		*d = NewDecimal(v, 0)
		return nil
	case nil:
		*d = Zero
		return nil
	}
	return fmt.Errorf("cannot scan %T into polybot.Decimal", src)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Div returns d÷e truncated toward zero to six places. It panics if e is 0.
func (d Decimal) Div(e Decimal) Decimal {
	if e.u == 0 {
		panic("polybot.Decimal.Div: division by zero")
	}
	n, m := abs64(d.u), abs64(e.u)
	hi, lo := bits.Mul64(uint64(n), decimalScale)
	if hi >= uint64(m) {
		panic("polybot.Decimal.Div: overflow")
	}
	q, _ := bits.Div64(hi, lo, uint64(m))
	if q > math.MaxInt64 {
		panic("polybot.Decimal.Div: overflow")
	}
	r := int64(q)
	if (d.u < 0) != (e.u < 0) {
		r = -r
	}
	return Decimal{r}
}

// Min returns the smaller of d and e.
func (d Decimal) Min(e Decimal) Decimal {
	if e.u < d.u {
		return e
	}
	return d
}

// Max returns the larger of d and e.
func (d Decimal) Max(e Decimal) Decimal {
	if e.u > d.u {
		return e
	}
	return d
}

// Floor returns d rounded down to a multiple of step (step > 0).
func (d Decimal) Floor(step Decimal) Decimal {
	r := d.u % step.u
	if r < 0 {
		r += step.u
	}
	return Decimal{d.u - r}
}

// Ceil returns d rounded up to a multiple of step (step > 0).
func (d Decimal) Ceil(step Decimal) Decimal {
	f := d.Floor(step)
	if f.u == d.u {
		return f
	}
	return Decimal{f.u + step.u}
}

// RoundCents rounds d to whole cents, halves away from zero.
func (d Decimal) RoundCents() Decimal {
	const cent = decimalScale / 100
	u := d.u
	if u < 0 {
		return Decimal{-((-u + cent/2) / cent * cent)}
	}
	return Decimal{(u + cent/2) / cent * cent}
}

// FormatUSD formats d as money the way a user reads it: rounded to the
// cent, with thousands separators, "$1,234.50", "-$0.07". The API, the
// dashboard, refusal reasons and notifications all use it, so one figure
// reads the same everywhere.
func FormatUSD(d Decimal) string {
	d = d.RoundCents()
	neg := d.Sign() < 0
	if neg {
		d = d.Neg()
	}
	ip := d.u / decimalScale
	cents := d.u % decimalScale / (decimalScale / 100)
	digits := strconv.FormatInt(ip, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteByte('$')
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	fmt.Fprintf(&b, ".%02d", cents)
	return b.String()
}
