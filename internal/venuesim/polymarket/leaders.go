package polymarket

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venuesim/matching"
)

// LeaderConfig is a wallet whose trades the simulator plays (copy trading's
// leaders): its trades appear in the Data API (/trades and /activity with
// user=Address) and move the books as they happen.
type LeaderConfig struct {
	Address string
	// Trades are replayed oldest first, spaced as their Times are (scaled
	// by Config.LeaderSpeed), each restamped with the simulator's clock
	// when it is played.
	Trades []polybot.LeaderTrade
	// Books, when set, are applied before every cycle of a looping replay
	// (Config.LeaderLoop): the leader's market as it was before its trades
	// took liquidity.
	Books []polybot.BookEvent
}

// leaderRec is one played leader trade.
type leaderRec struct {
	t polybot.LeaderTrade
}

// leaderAccount is the engine account a leader's orders trade under: not
// an address, so no simulated wallet's balance moves with them, but a
// user's resting order it meets is filled like any other.
func leaderAccount(addr string) string { return "leader:" + addr }

// AddLeaderTrade plays one trade of a leader wallet now. A buy or sell is
// sent to the token's book as an immediate-or-cancel order at the trade's
// price and size: a buy takes the asks at or below its price, a sell the
// bids at or above it (external liquidity first, then users' resting
// orders, which are filled). What the book could not fill is dropped: the
// leader traded it elsewhere. A redemption moves no book. The trade is
// recorded for the Data API either way. A zero Time is the simulator's
// clock; an empty TxHash is derived.
func (s *Server) AddLeaderTrade(t polybot.LeaderTrade) error {
	addr := polybot.NormalizeAddress(t.Wallet)
	if addr == "" {
		return polybot.FieldError("proxy_wallet", "must be a wallet address: 0x and 40 hex digits")
	}
	t.Wallet = addr
	if t.Time.IsZero() {
		t.Time = s.cfg.Now()
	}
	t.Instrument.Venue = polybot.Polymarket
	s.mu.Lock()
	m := s.markets[t.Instrument.Token]
	n := len(s.leaderTrades[addr])
	s.mu.Unlock()
	if m == nil && !t.Redeem {
		return polybot.Errorf(polybot.ENOTFOUND, "token %s is not listed", t.Instrument.Token)
	}
	if m != nil {
		t.Instrument.Market = m.ConditionID
		t.ConditionID = m.ConditionID
		t.Instrument.Outcome = polybot.Yes
		if m.Tokens[1] == t.Instrument.Token {
			t.Instrument.Outcome = polybot.No
		}
		if t.Title == "" {
			t.Title = m.Question
		}
		if t.Outcome == "" {
			t.Outcome = outcomeName(m, t.Instrument.Token)
		}
	}
	if t.TxHash == "" {
		t.TxHash = "0x" + hex.EncodeToString(sha256Sum([]byte("leader/"+addr+"/"+strconv.Itoa(n)+"/"+t.Time.String())))
	}
	if !t.Redeem {
		if t.Price.Sign() <= 0 || t.Size.Sign() <= 0 {
			return polybot.FieldError("price", "a leader's trade needs a positive price and size")
		}
		if _, err := s.engine.Submit(matching.Request{Book: t.Instrument.Token, Account: leaderAccount(addr),
			Side: t.Side, Price: t.Price, Size: t.Size, TIF: polybot.FAK}); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.leaderTrades[addr] = append(s.leaderTrades[addr], &leaderRec{t: t})
	s.mu.Unlock()
	return nil
}

// LeaderTrades returns a leader's played trades, oldest first.
func (s *Server) LeaderTrades(addr string) []polybot.LeaderTrade {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.leaderTrades[polybot.NormalizeAddress(addr)]
	out := make([]polybot.LeaderTrade, len(recs))
	for i, r := range recs {
		out[i] = r.t
	}
	return out
}

// playLeader replays a configured leader's trades, paced by speed (1: as
// they were spaced; ≤ 0: all at once); with Config.LeaderLoop, again and
// again, that long after each cycle ends, its books set back first and
// every transaction hash of cycle N > 0 suffixed "-cN" (a new trade to a
// follower's de-duplication, as on a live wallet).
func (s *Server) playLeader(ctx context.Context, l LeaderConfig, speed float64) {
	trades := slices.Clone(l.Trades)
	slices.SortStableFunc(trades, func(a, b polybot.LeaderTrade) int { return a.Time.Compare(b.Time) })
	if len(trades) == 0 {
		return
	}
	for cycle := 0; ; cycle++ {
		if cycle > 0 {
			for _, ev := range l.Books {
				if err := s.Apply(ev); err != nil {
					s.log.Warn("leader book reset", "leader", l.Address, "err", err)
				}
			}
		}
		first, start := trades[0].Time, time.Now()
		for _, t := range trades {
			if speed > 0 {
				due := start.Add(time.Duration(float64(t.Time.Sub(first)) / speed))
				timer := time.NewTimer(time.Until(due))
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
				}
			}
			if ctx.Err() != nil {
				return
			}
			t.Wallet = l.Address
			t.Time = s.cfg.Now()
			if cycle > 0 && t.TxHash != "" {
				t.TxHash += "-c" + strconv.Itoa(cycle)
			}
			if err := s.AddLeaderTrade(t); err != nil {
				s.log.Warn("leader trade refused", "leader", l.Address, "tx", t.TxHash, "err", err)
			}
		}
		if s.cfg.LeaderLoop <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.LeaderLoop):
		}
	}
}

// dataRow is one Data API row with its time, for merging and sorting.
type dataRow struct {
	at  int64
	row map[string]any
}

// leaderRowsLocked is a leader's trades as Data API rows, newest first:
// /activity rows (type, usdcSize) when activity is set, else /trades rows.
func (s *Server) leaderRowsLocked(addr string, activity bool) []dataRow {
	recs := s.leaderTrades[addr]
	out := make([]dataRow, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		t := recs[i].t
		if t.Redeem && !activity {
			continue
		}
		idx := 0
		if t.Instrument.Outcome == polybot.No {
			idx = 1
		}
		slug := ""
		if m := s.markets[t.Instrument.Token]; m != nil {
			slug = m.Slug
		}
		row := map[string]any{"proxyWallet": addr, "asset": t.Instrument.Token, "conditionId": t.Instrument.Market,
			"size": json.Number(wire(t.Size)), "price": json.Number(wire(t.Price)), "timestamp": t.Time.Unix(),
			"title": t.Title, "slug": slug, "eventSlug": slug, "outcome": t.Outcome, "outcomeIndex": idx,
			"side": t.Side.String(), "transactionHash": t.TxHash}
		if activity {
			row["type"] = "TRADE"
			row["usdcSize"] = json.Number(wire(t.Notional()))
			if t.Redeem {
				row["type"] = "REDEEM"
				row["side"] = ""
			}
		}
		out = append(out, dataRow{t.Time.Unix(), row})
	}
	return out
}

// accountRowsLocked is a simulated wallet's own fills as Data API rows,
// newest first.
func (s *Server) accountRowsLocked(a *account, activity bool) []dataRow {
	var out []dataRow
	if a == nil {
		return out
	}
	for i := len(s.trades) - 1; i >= 0; i-- {
		t := s.trades[i]
		side := t.j.Side
		switch a {
		case t.taker:
		case t.maker:
			side = t.makerSide.String()
		default:
			continue
		}
		m := s.markets[t.j.AssetID]
		idx := 0
		if m != nil && m.Tokens[1] == t.j.AssetID {
			idx = 1
		}
		row := map[string]any{
			"proxyWallet": a.addr.String(), "side": side, "asset": t.j.AssetID, "conditionId": t.j.Market,
			"size": json.Number(t.j.Size), "price": json.Number(t.j.Price), "timestamp": t.at.Unix(),
			"title": m.Question, "slug": m.Slug, "outcome": t.j.Outcome, "outcomeIndex": idx,
			"transactionHash": t.j.TransactionHash,
		}
		if activity {
			row["type"] = "TRADE"
			row["usdcSize"] = json.Number(wire(polybot.MustDecimal(t.j.Price).Mul(polybot.MustDecimal(t.j.Size))))
		}
		out = append(out, dataRow{t.at.Unix(), row})
	}
	return out
}

// dataRows answers /trades (activity false) and /activity: the user's
// own fills and, for a leader, its trades, newest first (oldest first on
// /activity with sortDirection=ASC), filtered by market (condition ids,
// comma-separated), type and start/end on /activity, then offset and
// limit (default 100; /activity at most 500, offsets past 10,000 refused).
func (s *Server) dataRows(w http.ResponseWriter, r *http.Request, activity bool) error {
	q := r.URL.Query()
	addr := polybot.NormalizeAddress(q.Get("user"))
	if addr == "" {
		return fail(http.StatusBadRequest, "invalid user address")
	}
	a, err := s.walletParam(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	rows := append(s.accountRowsLocked(a, activity), s.leaderRowsLocked(addr, activity)...)
	s.mu.Unlock()
	slices.SortStableFunc(rows, func(x, y dataRow) int { return int(y.at - x.at) })
	if activity && strings.EqualFold(q.Get("sortDirection"), "ASC") {
		slices.Reverse(rows)
	}
	markets := splitList(q.Get("market"))
	types := splitList(strings.ToUpper(q.Get("type")))
	start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
	out := []map[string]any{}
	for _, d := range rows {
		if len(markets) > 0 && !slices.ContainsFunc(markets, func(m string) bool { return strings.EqualFold(m, d.row["conditionId"].(string)) }) {
			continue
		}
		if activity {
			if len(types) > 0 && !slices.Contains(types, d.row["type"].(string)) {
				continue
			}
			if (start > 0 && d.at < start) || (end > 0 && d.at > end) {
				continue
			}
		}
		out = append(out, d.row)
	}
	off, _ := strconv.Atoi(q.Get("offset"))
	if activity && off > 10000 {
		return fail(http.StatusBadRequest, "max historical activity offset of 10000 exceeded")
	}
	out = out[min(max(off, 0), len(out)):]
	lim, _ := strconv.Atoi(q.Get("limit"))
	if lim <= 0 {
		lim = 100
	}
	if activity {
		lim = min(lim, 500)
	}
	if lim < len(out) {
		out = out[:lim]
	}
	return writeJSON(w, out)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
