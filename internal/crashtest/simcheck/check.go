package simcheck

import (
	"fmt"
	"maps"
	"slices"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

// The checks return what is wrong, one sentence a problem (none: all is
// well); the test reports them.

// DuplicateSends checks the simulators' submission logs against the
// store's intents (of one tenant or of many: a client order id names its
// tenant): no client order id reached a venue twice (Kalshi: the
// client_order_id of every order request, refused duplicates included;
// Polymarket: the salt, which PolyBot derives from the client order id),
// and every order that reached a venue is an intent of the store, for
// that venue.
func DuplicateSends(kSubs []KalshiSubmission, pSubs []PMSubmission, intents []*polybot.Intent) []string {
	var out []string
	ids := map[string]*polybot.Intent{}
	salts := map[string]*polybot.Intent{}
	for _, in := range intents {
		ids[in.ID] = in
		if in.Instrument.Venue == polybot.Polymarket {
			salts[polymarket.SaltFor(in.ID).String()] = in
		}
	}
	perID := map[string]int{}
	for _, s := range kSubs {
		perID[s.ClientOrderID]++
		if in := ids[s.ClientOrderID]; in == nil || in.Instrument.Venue != polybot.Kalshi {
			out = append(out, fmt.Sprintf("kalshi received client order id %q (key %s), which is no Kalshi intent of the store: an order sent before its intent was persisted",
				s.ClientOrderID, s.KeyID))
		}
	}
	for id, n := range perID {
		if n > 1 {
			out = append(out, fmt.Sprintf("kalshi received client order id %s %d times (intent %+v)", id, n, ids[id]))
		}
	}
	perSalt := map[string]int{}
	for _, s := range pSubs {
		perSalt[s.Salt]++
		if salts[s.Salt] == nil {
			out = append(out, fmt.Sprintf("polymarket received an order (maker %s, salt %s, hash %s) that is no Polymarket intent of the store", s.Maker, s.Salt, s.OrderID))
		}
	}
	for salt, n := range perSalt {
		if n > 1 {
			id := ""
			if in := salts[salt]; in != nil {
				id = in.ID
			}
			out = append(out, fmt.Sprintf("polymarket received client order id %s (salt %s) %d times", id, salt, n))
		}
	}
	return out
}

// LostFills checks one tenant's fills: every fill the venues made is in
// the store once, with its size, side and price, and the store has no
// fill the venues never made.
func LostFills(venue []polybot.Fill, stored []*polybot.TradeFill) []string {
	var out []string
	type key struct {
		venue polybot.Platform
		trade string
	}
	have := map[key]*polybot.TradeFill{}
	for _, f := range stored {
		if f.Mode != polybot.Live {
			out = append(out, fmt.Sprintf("a %s fill in a live-only run: %+v", f.Mode, f))
			continue
		}
		k := key{f.Venue, f.TradeID}
		if have[k] != nil {
			out = append(out, fmt.Sprintf("fill %s/%s recorded twice", f.Venue, f.TradeID))
		}
		have[k] = f
	}
	seen := map[key]bool{}
	for _, f := range venue {
		k := key{f.Instrument.Venue, f.TradeID}
		seen[k] = true
		got := have[k]
		if got == nil {
			out = append(out, fmt.Sprintf("fill lost: %s trade %s (%s %s %s @ %s, order %s/%s) is not in the store",
				k.venue, f.TradeID, f.Side, f.Size, f.Instrument.Key(), f.Price, f.ClientOrderID, f.VenueOrderID))
			continue
		}
		gi, gs, gp := yesTerms(got.Instrument, got.Side, got.Price)
		vi, vs, vp := yesTerms(f.Instrument, f.Side, f.Price)
		if got.Size != f.Size || gi != vi || gs != vs || gp != vp {
			out = append(out, fmt.Sprintf("fill %s/%s: the store has %s %s %s @ %s, the venue %s %s %s @ %s", k.venue, f.TradeID,
				got.Side, got.Size, got.Instrument.Key(), got.Price, f.Side, f.Size, f.Instrument.Key(), f.Price))
		}
	}
	for k, f := range have {
		if !seen[k] {
			out = append(out, fmt.Sprintf("the store has fill %s/%s (%s %s) that the venue never made", k.venue, k.trade, f.Side, f.Size))
		}
	}
	return out
}

// yesTerms states a Kalshi fill on the YES book, where the venue matches
// it: buying NO at p is selling YES at 1 − p. (The connector reports a fill
// in the terms of the order it placed when it remembers it, else in YES
// terms.) Other venues' fills are returned as they are.
func yesTerms(inst polybot.Instrument, side polybot.Side, price polybot.Decimal) (string, polybot.Side, polybot.Decimal) {
	if inst.Venue == polybot.Kalshi && inst.Outcome == polybot.No {
		yes, _ := kalshi.Instruments(inst.Market)
		return yes.Key(), 1 - side, polybot.One.Sub(price)
	}
	return inst.Key(), side, price
}

// PositionDiffs compares one tenant's live holdings with the venues'
// positions and returns the venues' (by "kalshi:<market>" and
// "polymarket:<token>") and every difference. Kalshi nets YES against NO
// in a market (a YES and a NO pay $1 together), so its position is
// YES − NO; Polymarket keeps shares per token.
func PositionDiffs(kPos, pPos []polybot.Position, holdings []*polybot.Holding) (map[string]polybot.Decimal, []string) {
	venue, store := map[string]polybot.Decimal{}, map[string]polybot.Decimal{}
	signed := func(p polybot.Instrument, size polybot.Decimal) (string, polybot.Decimal) {
		if p.Venue == polybot.Kalshi {
			if p.Outcome == polybot.No {
				size = size.Neg()
			}
			return "kalshi:" + p.Market, size
		}
		return "polymarket:" + p.Token, size
	}
	for _, p := range append(slices.Clone(kPos), pPos...) {
		k, s := signed(p.Instrument, p.Size)
		venue[k] = venue[k].Add(s)
	}
	for _, h := range holdings {
		if h.Mode != polybot.Live {
			continue
		}
		k, s := signed(h.Instrument, h.Size)
		store[k] = store[k].Add(s)
	}
	keys := map[string]bool{}
	for k := range venue {
		keys[k] = true
	}
	for k := range store {
		keys[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if venue[k] != store[k] {
			out = append(out, fmt.Sprintf("position %s: the store holds %s, the venue %s", k, store[k], venue[k]))
		}
	}
	return venue, out
}

// Unreconciled lists the intents still pending, unknown or open: after a
// final clean run there must be none.
func Unreconciled(intents []*polybot.Intent) []string {
	var out []string
	for _, in := range intents {
		switch in.State {
		case polybot.IntentPending, polybot.IntentUnknown, polybot.IntentOpen:
			out = append(out, fmt.Sprintf("intent %s (%s leg %d of %s, epoch %d) is still %s: %s", in.ID, in.Instrument.Venue, in.Leg,
				in.OpportunityID, in.Epoch, in.State, in.Error))
		}
	}
	return out
}
