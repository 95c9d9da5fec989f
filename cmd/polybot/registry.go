package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/marketdata/replay"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venue/polymarket"
	ibkrsim "github.com/polybot/polybot/internal/venuesim/ibkr"
	kalshisim "github.com/polybot/polybot/internal/venuesim/kalshi"
)

// readVenueEvent reads one recorded event back from the venue (here, the
// simulator serving it) through the venue's connector, as an admin's
// import reads a real venue's: Gamma /events by slug for Polymarket, the
// event with its nested markets for Kalshi. The set is keyed by the
// venue's own instruments (the simulator lists recorded tokens under the
// venue's numeric ids).
func readVenueEvent(ctx context.Context, ep venueEndpoints, rec *replay.EventRecording) (*polybot.OutcomeSet, error) {
	switch rec.Set.Venue {
	case polybot.Polymarket:
		evs, err := polymarket.NewClient(ep.polymarket).Events(ctx, polymarket.EventsQuery{Slugs: []string{rec.Set.ID}})
		if err != nil {
			return nil, err
		}
		if len(evs) != 1 {
			return nil, fmt.Errorf("gamma lists %d events with slug %s", len(evs), rec.Set.ID)
		}
		set, _, err := polymarket.OutcomeSetOf(evs[0])
		return set, err
	case polybot.Kalshi:
		kc, err := kalshi.NewClient(ep.kalshiREST, &http.Client{Timeout: 10 * time.Second}, nil)
		if err != nil {
			return nil, err
		}
		ev, err := kc.Event(ctx, rec.Set.Event)
		if err != nil {
			return nil, err
		}
		set, _, err := kalshi.OutcomeSetOf(ev)
		return set, err
	}
	return nil, fmt.Errorf("no events on %s", rec.Set.Venue)
}

// seedSimRegistry puts the simulators' multi-outcome events into the
// registry, read back from the simulators through the connectors, under
// the recording's id, name and resolution notes, approved: these are the
// events whose rules we read when we added their recordings (the
// registry's seed, as the Fed pair is). A set is exhaustive only if both
// the recording and the venue say so. The implications a recording
// names between its markets are seeded approved too. An admin can
// withdraw any of them; a later start puts back only what is missing.
func seedSimRegistry(ctx context.Context, st polybot.Store, ep venueEndpoints, recs []*replay.EventRecording, log *slog.Logger) error {
	for _, rec := range recs {
		read, err := readVenueEvent(ctx, ep, rec)
		if err != nil {
			return fmt.Errorf("event %s: %w", rec.Set.ID, err)
		}
		// The venue's market of each recorded outcome, by label.
		byLabel := map[string]polybot.BinaryMarket{}
		for _, o := range read.Outcomes {
			byLabel[o.Label] = o.Markets[0]
		}
		set := *read
		set.ID, set.Name, set.ResolutionNotes = rec.Set.ID, rec.Set.Name, rec.Set.ResolutionNotes
		set.Exhaustive = read.Exhaustive && rec.Set.Exhaustive
		set.Approved = true
		venueOf := map[string]polybot.BinaryMarket{}
		for _, o := range rec.Set.Outcomes {
			m, ok := byLabel[o.Label]
			if !ok {
				return fmt.Errorf("event %s: the venue does not list outcome %q", rec.Set.ID, o.Label)
			}
			venueOf[o.Markets[0].Yes.Key()] = m
		}
		var rels []*polybot.Relation
		for _, r := range recordedRelations(rec) {
			a, okA := venueOf[r.A.Yes.Key()]
			b, okB := venueOf[r.B.Yes.Key()]
			if !okA || !okB {
				return fmt.Errorf("relation %s: a market is not in event %s", r.ID, rec.Set.ID)
			}
			c := *r
			c.A, c.B, c.Approved = a, b, true
			rels = append(rels, &c)
		}
		added := 0
		err = st.Admin(ctx, func(tx polybot.AdminTx) error {
			if _, err := tx.OutcomeSet(set.ID); polybot.ErrorCode(err) == polybot.ENOTFOUND {
				if err := tx.PutOutcomeSet(&set); err != nil {
					return err
				}
				added++
			} else if err != nil {
				return err
			}
			for _, r := range rels {
				if _, err := tx.Relation(r.ID); polybot.ErrorCode(err) == polybot.ENOTFOUND {
					if err := tx.PutRelation(r); err != nil {
						return err
					}
					added++
				} else if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("event %s: %w", rec.Set.ID, err)
		}
		log.Info("simulated multi-outcome event in the registry", "set", set.ID, "venue", set.Venue, "outcomes", len(set.Outcomes),
			"exhaustive", set.Exhaustive, "relations", len(rels), "added", added)
	}
	return nil
}

// builtInRelations are the relations the built-in recordings name.
var builtInRelations = replay.CPIJul2026Implications

// recordedRelations are the built-in relations between rec's own markets.
func recordedRelations(rec *replay.EventRecording) []*polybot.Relation {
	in := map[string]bool{}
	for _, o := range rec.Set.Outcomes {
		in[o.Markets[0].Yes.Key()] = true
	}
	var out []*polybot.Relation
	for _, r := range builtInRelations() {
		if in[r.A.Yes.Key()] && in[r.B.Yes.Key()] {
			out = append(out, r)
		}
	}
	return out
}

// fedHoldPairID is the seeded Polymarket–Kalshi pair of the Fed's December
// 2025 decision (migration 0002).
const fedHoldPairID = "fed-dec2025-hold"

// simPairs are the pairs serve --sim adds for the simulated ForecastEx Fed
// market, so cross-venue arbitrage runs over three venues: its "above
// 3.875%" question against Kalshi's hold market and Polymarket's "No
// change" market (the legs of fedHoldPairID). ForecastEx's question is not
// the same event: its YES also pays on a hike, which the other two price as
// NO. The notes say so; they are approved in the simulator only, where the
// hike never comes.
func simPairs(polymarketLeg polybot.PairLeg) []*polybot.MarketPair {
	yes := strconv.FormatInt(ibkrsim.FedHoldConid, 10)
	fx := polybot.PairLeg{Venue: polybot.IBKR, Market: yes, Yes: yes, No: strconv.FormatInt(ibkrsim.FedHoldConid+1, 10)}
	notes := "ForecastEx's question (FF, FOMC meeting ending 10 December 2025: is the Fed funds target rate set above 3.875%, i.e. " +
		"the upper bound stays at 4.00% or rises) and the other venue's hold market both resolve YES on a hold and NO on a cut; on a hike " +
		"ForecastEx resolves YES and the hold market NO, so ForecastEx NO + hold YES loses both legs on a hike. Seeded by serve --sim " +
		"for the simulated ForecastEx market; not a real ForecastEx listing."
	out := []*polybot.MarketPair{{ID: "fed-dec2025-hold-ibkr-kalshi", Name: "Fed decision December 2025: no cut (ForecastEx) / hold (Kalshi)",
		Legs: [2]polybot.PairLeg{polybot.KalshiLeg(kalshisim.FedTicker), fx}, ResolutionNotes: notes, Approved: true}}
	if polymarketLeg.Venue == polybot.Polymarket {
		out = append(out, &polybot.MarketPair{ID: "fed-dec2025-hold-ibkr-polymarket",
			Name: "Fed decision December 2025: no cut (ForecastEx) / no change (Polymarket)",
			Legs: [2]polybot.PairLeg{polymarketLeg, fx}, ResolutionNotes: notes, Approved: true})
	}
	return out
}

// seedSimPairs adds simPairs to the registry where missing (an admin may
// withdraw them; a later start puts back only what is missing).
func seedSimPairs(ctx context.Context, st polybot.Store, log *slog.Logger) error {
	return st.Admin(ctx, func(tx polybot.AdminTx) error {
		var pm polybot.PairLeg
		if fed, err := tx.MarketPair(fedHoldPairID); err == nil {
			pm, _ = fed.Leg(polybot.Polymarket)
		} else if polybot.ErrorCode(err) != polybot.ENOTFOUND {
			return err
		}
		for _, p := range simPairs(pm) {
			if _, err := tx.MarketPair(p.ID); polybot.ErrorCode(err) != polybot.ENOTFOUND {
				if err != nil {
					return err
				}
				continue
			}
			if err := tx.PutMarketPair(p); err != nil {
				return err
			}
			log.Info("simulated ForecastEx pair in the registry", "pair", p.ID)
		}
		return nil
	})
}
