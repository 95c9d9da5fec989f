package kalshi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
)

// ReplayConfig replays the cross-venue recording (shared/data/crossvenue/
// fed_dec2025_hold.csv) into the FedTicker book as external liquidity: the
// best YES bid at its depth, and the best NO bid as a YES ask at 1 − bid.
type ReplayConfig struct {
	CrossVenueCSV string `json:"cross_venue_csv"`
	// Data is the recording itself, used when CrossVenueCSV is empty
	// (replay.FedDec2025HoldCSV when both are empty).
	Data  []byte  `json:"-"`
	Speed float64 `json:"speed"` // 1 = real time; ≤ 0 as fast as possible
	Loop  bool    `json:"loop"`
}

// SyntheticConfig drives a generated load: Markets markets named SYNTH-<i>,
// UpdatesPerSecond book changes a second across them.
type SyntheticConfig struct {
	Markets          int    `json:"markets"`
	UpdatesPerSecond int    `json:"updates_per_second"`
	Levels           int    `json:"levels"`
	Seed             uint64 `json:"seed"`
	// Count stops the feed after this many events (0: never).
	Count int `json:"count"`
}

// SetBook replaces a market's external liquidity with Kalshi's bids-only
// view: YES bids, and NO bids (each a YES ask at 1 − price). Simulated
// orders stay; external levels that cross them trade with them.
func (s *Server) SetBook(ticker string, yesBids, noBids []polybot.Level) error {
	if m, _ := s.marketOf(ticker); m == nil {
		return polybot.Errorf(polybot.ENOTFOUND, "no market %q", ticker)
	}
	asks := make([]polybot.Level, len(noBids))
	for i, l := range noBids {
		asks[i] = polybot.Level{Price: polybot.One.Sub(l.Price), Size: l.Size}
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	_, err := s.eng.SetExternal(ticker, yesBids, asks)
	return err
}

// apply puts one normalised YES-instrument event into the engine.
func (s *Server) apply(ev polybot.BookEvent) {
	if ev.Instrument.Venue != polybot.Kalshi || ev.Instrument.Outcome != polybot.Yes {
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	var err error
	switch ev.Kind {
	case polybot.BookSnapshot:
		_, err = s.eng.SetExternal(ev.Instrument.Market, ev.Bids, ev.Asks)
	case polybot.BookDelta:
		_, err = s.eng.UpdateExternal(ev.Instrument.Market, ev.Bids, ev.Asks)
	}
	if err != nil {
		s.log.Debug("kalshi sim: feed event not applied", "market", ev.Instrument.Market, "err", err)
	}
}

func (s *Server) runReplay(ctx context.Context, rc ReplayConfig) {
	var r io.Reader
	switch {
	case rc.CrossVenueCSV != "":
		f, err := os.Open(rc.CrossVenueCSV)
		if err != nil {
			s.log.Error("kalshi sim: replay", "err", err)
			return
		}
		defer f.Close()
		r = f
	case rc.Data != nil:
		r = bytes.NewReader(rc.Data)
	default:
		r = bytes.NewReader(replay.FedDec2025HoldCSV)
	}
	evs, skipped, err := replay.ReadCrossVenue(r, replay.FedDec2025Hold)
	if err != nil {
		s.log.Error("kalshi sim: replay", "err", err)
		return
	}
	for _, sk := range skipped {
		s.log.Info("kalshi sim: replay skips a row", "line", sk.Line, "reason", sk.Reason)
	}
	if m, _ := s.marketOf(replay.FedDec2025Hold.KalshiTicker); m == nil {
		_, dm := DefaultMarkets()
		_ = s.AddMarket(dm[0])
	}
	for {
		if err := replay.Play(ctx, replay.Events(evs), replay.Options{Speed: rc.Speed}, s.apply); err != nil || !rc.Loop {
			return
		}
	}
}

func (s *Server) runSynthetic(ctx context.Context, sc SyntheticConfig) {
	g := replay.NewSynthetic(replay.SyntheticConfig{Venue: polybot.Kalshi, Markets: sc.Markets,
		UpdatesPerSecond: sc.UpdatesPerSecond, Levels: sc.Levels, Seed: sc.Seed, Count: sc.Count})
	for _, in := range g.Instruments() {
		if m, _ := s.marketOf(in.Market); m == nil {
			_ = s.AddMarket(MarketConfig{Ticker: in.Market, EventTicker: "SYNTH", SeriesTicker: "SYNTH", Title: "Synthetic " + in.Market})
		}
	}
	_ = replay.Play(ctx, g, replay.Options{Speed: 1}, s.apply)
}

// addEvent lists a recorded event: its set's Event as the event ticker
// (the set's id when it has none), its name as the title, mutually
// exclusive (an outcome set's outcomes are), and each outcome's own market
// with the outcome's label as yes_sub_title.
func (s *Server) addEvent(rec *replay.EventRecording) error {
	set := &rec.Set
	if set.Venue != polybot.Kalshi {
		return polybot.FieldError("events", fmt.Sprintf("%s is a %s event, not a Kalshi one", set.ID, set.Venue))
	}
	if err := set.Validate(); err != nil {
		return fmt.Errorf("event %s: %w", set.ID, err)
	}
	ec := EventConfig{Ticker: set.Event, Title: set.Name, MutuallyExclusive: true}
	if ec.Ticker == "" {
		ec.Ticker = strings.ToUpper(set.ID)
	}
	if err := s.AddEvent(ec); err != nil {
		return err
	}
	s.mu.Lock()
	series := s.events[ec.Ticker].SeriesTicker
	s.mu.Unlock()
	for _, o := range set.Outcomes {
		t := o.Markets[0].Yes.Market
		if m, _ := s.marketOf(t); m != nil {
			return polybot.Errorf(polybot.ECONFLICT, "event %s: market %s is already listed", set.ID, t)
		}
		if err := s.AddMarket(MarketConfig{Ticker: t, EventTicker: ec.Ticker, SeriesTicker: series,
			Title: set.Name + ": " + o.Label + "?", YesSubTitle: o.Label}); err != nil {
			return err
		}
	}
	return nil
}

// runEvent replays a recorded event's books (their YES instruments: a
// Kalshi market is one YES book).
func (s *Server) runEvent(ctx context.Context, rec *replay.EventRecording) {
	for {
		if err := replay.Play(ctx, rec.Source(), replay.Options{Speed: s.cfg.EventSpeed}, s.apply); err != nil || !s.cfg.EventLoop {
			return
		}
	}
}
