package polymarket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	pm "github.com/polybot/polybot/internal/venue/polymarket"
)

// Source is a feed of market data the simulator turns into external
// liquidity: snapshots replace a token's external levels, deltas set some
// of them, trades become last_trade_price messages and tick-size events
// tick_size_change. Replays of recordings and the synthetic generator are
// Sources; so is anything with this Run method (polybot.MarketFeed has it).
type Source interface {
	Run(ctx context.Context, sink func(polybot.BookEvent)) error
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, sink func(polybot.BookEvent)) error

// Run implements Source.
func (f SourceFunc) Run(ctx context.Context, sink func(polybot.BookEvent)) error { return f(ctx, sink) }

// Apply feeds one event to the simulator as a Source would. A token it has
// not listed is listed on its first snapshot (its market id from the event,
// YES with a derived NO token).
func (s *Server) Apply(ev polybot.BookEvent) error { return s.apply(ev) }

func (s *Server) apply(ev polybot.BookEvent) error {
	if ev.Instrument.Token == "" {
		return polybot.FieldError("instrument", "needs a token id")
	}
	tok := tokenID(ev.Instrument.Token)
	ev.Instrument.Token = tok
	s.mu.Lock()
	m := s.markets[tok]
	s.mu.Unlock()
	if m == nil {
		if ev.Kind != polybot.BookSnapshot {
			return nil
		}
		mk := marketFor(ev)
		mk.FeeSchedule = s.cfg.FeedFeeSchedule
		if err := s.AddMarket(mk); err != nil {
			return err
		}
		s.mu.Lock()
		m = s.markets[tok]
		s.mu.Unlock()
	}
	switch ev.Kind {
	case polybot.BookSnapshot:
		if !ev.TickSize.IsZero() && ev.TickSize != m.TickSize {
			if err := s.SetTickSize(tok, ev.TickSize); err != nil {
				return err
			}
		}
		_, err := s.engine.SetExternal(tok, ev.Bids, ev.Asks)
		return err
	case polybot.BookDelta:
		_, err := s.engine.UpdateExternal(tok, ev.Bids, ev.Asks)
		return err
	case polybot.BookTickSize:
		return s.SetTickSize(tok, ev.TickSize)
	case polybot.BookTrade:
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lastTrade[tok] = ev.TradePrice
		at := ev.Time
		if at.IsZero() {
			at = s.cfg.Now()
		}
		s.broadcastMarket(tok, map[string]any{"asset_id": tok, "event_type": pm.EventLastTradePrice,
			"fee_rate_bps": "0", "market": m.ConditionID, "price": wire(ev.TradePrice), "side": ev.TradeSide.String(),
			"size": wire(ev.TradeSize), "timestamp": millis(at)})
	}
	return nil
}

// marketFor lists a market for a token first seen in a feed.
func marketFor(ev polybot.BookEvent) Market {
	tok := ev.Instrument.Token
	cid := ev.Instrument.Market
	if cid == "" {
		cid = "0x" + hex.EncodeToString(sha256Sum([]byte("market/"+tok)))
	}
	// The complementary token id: derived, decimal, distinct.
	h := sha256.Sum256([]byte("no/" + tok))
	no := new(big.Int).SetBytes(h[:]).String()
	tokens := [2]string{tok, no}
	if ev.Instrument.Outcome == polybot.No {
		tokens = [2]string{no, tok}
	}
	tick := ev.TickSize
	if tick.IsZero() {
		tick = polybot.NewDecimal(1, 2)
	}
	return Market{ConditionID: cid, Tokens: tokens, TickSize: tick}
}

// MarketLister is a Source that knows its markets up front; New lists
// them, so both tokens of each market are paired from the start.
type MarketLister interface {
	Markets() []Market
}

// Replay plays a replay source (internal/marketdata/replay) paced by opts,
// its Polymarket events only; loop starts over with next() at the end.
func Replay(next func() replay.Source, opts replay.Options, loop bool) Source {
	return SourceFunc(func(ctx context.Context, sink func(polybot.BookEvent)) error {
		for {
			err := replay.Play(ctx, next(), opts, func(ev polybot.BookEvent) {
				if ev.Instrument.Venue == polybot.Polymarket {
					sink(ev)
				}
			})
			if err != nil || !loop {
				return err
			}
		}
	})
}

type listedSource struct {
	Source
	markets []Market
}

func (l listedSource) Markets() []Market { return l.markets }

// ReplayFile replays a recording from shared/data (or testdata): a .jsonl
// file of market-channel book messages, or the cross-venue .csv (its
// Polymarket side, for the event replay.FedDec2025Hold).
func ReplayFile(path string, opts replay.Options, loop bool) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl":
		evs, err := replay.ReadPolymarketBooks(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return Replay(func() replay.Source { return replay.Events(evs) }, opts, loop), nil
	case ".csv":
		src, err := ReplayCrossVenue(f, opts, loop)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return src, nil
	}
	return nil, fmt.Errorf("%s: not a .jsonl or .csv recording", path)
}

// ReplayCrossVenue replays the Polymarket side of a cross-venue recording of
// the event replay.FedDec2025Hold (replay.FedDec2025HoldCSV is built in).
func ReplayCrossVenue(r io.Reader, opts replay.Options, loop bool) (Source, error) {
	m := replay.FedDec2025Hold
	evs, _, err := replay.ReadCrossVenue(r, m)
	if err != nil {
		return nil, err
	}
	cid := "0x" + hex.EncodeToString(sha256Sum([]byte("crossvenue/"+m.PolymarketYesToken)))
	for i := range evs {
		if evs[i].Instrument.Venue == polybot.Polymarket {
			evs[i].Instrument.Market = cid
		}
	}
	return listedSource{
		Source: Replay(func() replay.Source { return replay.Events(evs) }, opts, loop),
		markets: []Market{{ConditionID: cid, Tokens: [2]string{m.PolymarketYesToken, m.PolymarketNoToken},
			Question: "Fed decision in December 2025: no change?", Slug: "fed-decision-dec-2025-no-change"}},
	}, nil
}

// Synthetic is the seeded load generator of internal/marketdata/replay (N
// markets, M updates a second in all), paced in real time.
func Synthetic(cfg replay.SyntheticConfig) Source {
	cfg.Venue = polybot.Polymarket
	return Replay(func() replay.Source { return replay.NewSynthetic(cfg) }, replay.Options{Speed: 1}, false)
}

// tokenID returns a feed's token as a decimal uint256 token id, which
// orders need: ids that are not (a synthetic "synthetic-0") are hashed.
func tokenID(tok string) string {
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			h := sha256.Sum256([]byte("token/" + tok))
			return new(big.Int).SetBytes(h[:]).String()
		}
	}
	return tok
}
