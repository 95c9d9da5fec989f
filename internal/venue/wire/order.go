package wire

import (
	"strconv"

	"github.com/polybot/polybot"
)

// OrderRules are what a venue asks of every order request before its own
// price and size rules: its client order ids, its instruments and the times
// in force it takes.
type OrderRules struct {
	Venue polybot.Platform
	// Name is the venue as the messages name it ("Alpaca").
	Name string
	// MaxClientOrderID is the longest client order id the venue takes (0:
	// no limit).
	MaxClientOrderID int
	// Instrument is what an instrument of the venue is, as the message says
	// it must be: "an Alpaca symbol".
	Instrument string
	// TIF maps each time in force the venue takes to its wire value ("":
	// none given); Refused says why the venue takes no orders of the
	// others it knows. Any other is unknown.
	TIF     map[polybot.TimeInForce]string
	Refused map[polybot.TimeInForce]string
}

// Check validates req, the venue's own rules added by more (nil: none) to
// the shared ones (a client order id of at most MaxClientOrderID
// characters, an instrument of the venue with a market, a positive size),
// then maps its time in force. It returns the time in force's wire value,
// or an EINVALID error naming the fields that failed: the order's fields
// first, then time_in_force.
func (r OrderRules) Check(req polybot.OrderRequest, more func(polybot.Validation)) (tif string, err error) {
	v := polybot.Validation{}
	if req.ClientOrderID == "" {
		v.Add("client_order_id", "is required")
	} else if r.MaxClientOrderID > 0 && len(req.ClientOrderID) > r.MaxClientOrderID {
		v.Add("client_order_id", r.Name+" takes at most "+strconv.Itoa(r.MaxClientOrderID)+" characters")
	}
	if req.Instrument.Venue != r.Venue || req.Instrument.Market == "" {
		v.Add("instrument", "must be "+r.Instrument)
	}
	if req.Size.Sign() <= 0 {
		v.Add("size", "must be positive")
	}
	if more != nil {
		more(v)
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	if w, ok := r.TIF[req.TIF]; ok {
		return w, nil
	}
	if why, ok := r.Refused[req.TIF]; ok {
		return "", polybot.FieldError("time_in_force", why)
	}
	return "", polybot.FieldError("time_in_force", "unknown time in force "+string(req.TIF))
}
