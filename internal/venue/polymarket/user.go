package polymarket

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/venue/wire"
)

// UserEvent is one normalised user-channel event: an order's new state, or
// our fills from a trade (de-duplicate them by TradeID: a trade is
// reported again as it moves from MATCHED to MINED and CONFIRMED).
type UserEvent struct {
	Order       *polybot.OrderStatus
	OrderEvent  string // PLACEMENT, UPDATE or CANCELLATION
	Fills       []polybot.Fill
	TradeStatus string // MATCHED, MINED, CONFIRMED, RETRYING or FAILED
	Received    time.Time
}

type userSubscribe struct {
	Auth    userAuth `json:"auth"`
	Markets []string `json:"markets,omitempty"`
	Type    string   `json:"type"`
}

type userAuth struct {
	APIKey     string `json:"apiKey"`
	Secret     string `json:"secret"`
	Passphrase string `json:"passphrase"`
}

// userOrderJSON is the user channel's order event.
type userOrderJSON struct {
	OpenOrderJSON
	EventType string `json:"event_type"`
	Type      string `json:"type"`
}

// Stream runs the user channel with the tenant's API credentials until ctx
// ends, reconnecting with backoff, and passes order updates and our fills to
// sink. markets (condition ids) narrows the stream; none means all.
func (x *Exchange) Stream(ctx context.Context, markets []string, sink func(UserEvent)) error {
	return wire.Redial(ctx, reconnect, x.log.With("channel", "user"),
		wire.LastedOver(time.Minute, func(ctx context.Context) error { return x.userSession(ctx, markets, sink) }), nil)
}

func (x *Exchange) userSession(ctx context.Context, markets []string, sink func(UserEvent)) error {
	a, err := x.creds(ctx)
	if err != nil {
		return err
	}
	conn, err := dialWS(ctx, x.c.cfg.UserWSURL)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	if err := writeJSON(ctx, conn, userSubscribe{Auth: userAuth{APIKey: a.Key, Secret: a.Secret, Passphrase: a.Passphrase},
		Markets: markets, Type: "user"}); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go pinger(sctx, conn, x.c.cfg.PingInterval)
	for {
		rctx, rcancel := context.WithTimeout(sctx, 3*x.c.cfg.PingInterval)
		_, msg, err := conn.Read(rctx)
		rcancel()
		if err != nil {
			return err
		}
		msg = bytes.TrimSpace(msg)
		if len(msg) == 0 || msg[0] == 'P' { // PONG
			continue
		}
		var raws []json.RawMessage
		if msg[0] == '[' {
			if err := json.Unmarshal(msg, &raws); err != nil {
				x.log.Warn("user channel: undecodable message", "err", err)
				continue
			}
		} else {
			raws = []json.RawMessage{msg}
		}
		for _, raw := range raws {
			ev, ok, err := x.decodeUser(ctx, raw, a.Key)
			if err != nil {
				x.log.Warn("user channel: undecodable event", "err", err)
				continue
			}
			if ok {
				sink(ev)
			}
		}
	}
}

// decodeUser normalises one user-channel event.
func (x *Exchange) decodeUser(ctx context.Context, raw []byte, apiKey string) (UserEvent, bool, error) {
	var head struct {
		EventType string `json:"event_type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return UserEvent{}, false, err
	}
	now := time.Now()
	switch head.EventType {
	case EventOrder:
		var o userOrderJSON
		if err := json.Unmarshal(raw, &o); err != nil {
			return UserEvent{}, false, err
		}
		st, err := x.status(ctx, o.OpenOrderJSON)
		if err != nil {
			return UserEvent{}, false, err
		}
		if o.Type == "CANCELLATION" && st.State != polybot.OrderFilled {
			st.State = polybot.OrderCancelled
		}
		return UserEvent{Order: st, OrderEvent: o.Type, Received: now}, true, nil
	case EventTrade:
		var t TradeJSON
		if err := json.Unmarshal(raw, &t); err != nil {
			return UserEvent{}, false, err
		}
		fs, err := x.fills(ctx, t, apiKey)
		if err != nil {
			return UserEvent{}, false, err
		}
		return UserEvent{Fills: fs, TradeStatus: t.Status, Received: now}, len(fs) > 0 || t.Status == "FAILED", nil
	}
	return UserEvent{}, false, nil
}
