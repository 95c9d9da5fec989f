package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/egress"
	"github.com/polybot/polybot/internal/eip712"
	"github.com/polybot/polybot/internal/secrets"
	"github.com/polybot/polybot/internal/venue/alpaca"
	"github.com/polybot/polybot/internal/venue/ibkr"
	"github.com/polybot/polybot/internal/venue/kalshi"
	"github.com/polybot/polybot/internal/venue/polymarket"
)

// venueEndpoints are where the connectors point: the real venues, or the
// simulators with --sim.
type venueEndpoints struct {
	polymarket  polymarket.Config
	kalshiREST  string // live keys
	kalshiDemo  string // paper keys
	kalshiWS    string
	alpacaLive  string // live keys
	alpacaPaper string // paper keys
	// ibkrGateway, when set (--sim), is the Client Portal gateway every
	// IBKR key trades through; otherwise each key names its own, which the
	// server calls only at a public address unless ibkrAllowPrivate
	// (internal/egress: a tenant must not reach the platform's network).
	ibkrGateway      string
	ibkrAllowPrivate bool
}

func realVenues() venueEndpoints {
	return venueEndpoints{polymarket: polymarket.DefaultConfig(), kalshiREST: kalshi.ProdBaseURL, kalshiDemo: kalshi.DemoBaseURL, kalshiWS: kalshi.ProdWSURL,
		alpacaLive: alpaca.LiveBaseURL, alpacaPaper: alpaca.PaperBaseURL}
}

// withIBKRPrivate is v with private IBKR gateway addresses allowed or not.
func (v venueEndpoints) withIBKRPrivate(allow bool) venueEndpoints {
	v.ibkrAllowPrivate = allow
	return v
}

func (s *sims) venues() venueEndpoints {
	return venueEndpoints{polymarket: s.pmURLs.ClientConfig(polymarket.ChainPolygon), kalshiREST: s.kURLs.REST, kalshiDemo: s.kURLs.REST, kalshiWS: s.kURLs.WS,
		alpacaLive: s.alpacaURL, alpacaPaper: s.alpacaURL, ibkrGateway: s.ibkrURL}
}

// exchangeFor builds a tenant's connection to one venue from its decrypted
// credentials. The plaintext is only read here; the caller wipes it.
func (v venueEndpoints) exchangeFor(ctx context.Context, st polybot.Store, tenant polybot.ID, platform polybot.Platform, paper bool,
	creds secrets.Plaintext, extra json.RawMessage, log *slog.Logger) (polybot.Exchange, error) {
	switch platform {
	case polybot.Kalshi:
		base := v.kalshiREST
		if paper {
			base = v.kalshiDemo
		}
		return kalshi.NewExchange(kalshi.ExchangeConfig{BaseURL: base, KeyID: creds.Get(polybot.FieldAPIKey),
			PrivateKeyPEM: creds[polybot.FieldPrivateKey], HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	case polybot.Polymarket:
		wallet, err := eip712.NewSigner(creds.Get(polybot.FieldPrivateKey))
		if err != nil {
			return nil, polybot.FieldError(polybot.FieldPrivateKey, "must be a 32-byte hex wallet key")
		}
		api := polymarket.APICreds{Key: creds.Get(polybot.FieldAPIKey), Secret: creds.Get(polybot.FieldAPISecret), Passphrase: creds.Get(polybot.FieldPassphrase)}
		return polymarket.NewExchange(polymarket.NewClient(v.polymarket), polymarket.Credentials{Wallet: wallet, API: api},
			polymarket.ExchangeOptions{Log: log, Index: &intentOrderIndex{st: st, tenant: tenant, mem: polymarket.NewMemoryOrderIndex()}})
	case polybot.Alpaca:
		base := v.alpacaLive
		if paper {
			base = v.alpacaPaper
		}
		return alpaca.New(alpaca.Config{KeyID: creds.Get(polybot.FieldAPIKey), SecretKey: creds.Get(polybot.FieldAPISecret), BaseURL: base})
	case polybot.IBKR:
		// The key is the account id and the gateway's URL; under --sim the
		// simulator's gateway (its port changes on every start). Every
		// order question is refused (the zero ReplyPolicy): PolyBot's
		// limits sit at the touch, so a "price far from the market"
		// question means the book it priced from is stale.
		gw := creds.Get(ibkr.FieldGatewayURL)
		if v.ibkrGateway != "" {
			return ibkr.New(ibkr.Config{GatewayURL: v.ibkrGateway, Account: creds.Get(polybot.FieldAPIKey), Logger: log})
		}
		if !v.ibkrAllowPrivate {
			if err := egress.CheckURL(ctx, gw); err != nil {
				return nil, polybot.FieldError(ibkr.FieldGatewayURL, "cannot be used: "+err.Error()+
					". This server calls only public addresses for a tenant; a self-hosted PolyBot beside its own gateway allows them with --ibkr-allow-private-gateway")
			}
		}
		// The dialer checks again on the address it dials (DNS may answer
		// differently the second time).
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: egress.Dialer(10*time.Second, v.ibkrAllowPrivate).DialContext, TLSHandshakeTimeout: 10 * time.Second}}
		return ibkr.New(ibkr.Config{GatewayURL: gw, Account: creds.Get(polybot.FieldAPIKey), Logger: log, HTTPClient: hc})
	}
	return nil, polybot.Errorf(polybot.EINVALID, "trading on %s is not supported yet", platform)
}

// intentOrderIndex keeps Polymarket's order ids (order hashes) on the
// tenant's persisted intents, so an order whose outcome was unknown can be
// found after a restart.
type intentOrderIndex struct {
	st     polybot.Store
	tenant polybot.ID
	mem    polymarket.OrderIndex // this process's ids, both ways
}

func (x *intentOrderIndex) Put(ctx context.Context, clientOrderID, orderID string) error {
	if err := x.mem.Put(ctx, clientOrderID, orderID); err != nil {
		return err
	}
	return x.st.Tenant(ctx, x.tenant, func(tx polybot.TenantTx) error {
		in, err := tx.Intent(clientOrderID)
		if err != nil {
			return err
		}
		in.VenueOrderID = orderID
		return tx.UpdateIntent(in)
	})
}

func (x *intentOrderIndex) OrderID(ctx context.Context, clientOrderID string) (string, bool) {
	if id, ok := x.mem.OrderID(ctx, clientOrderID); ok {
		return id, true
	}
	var id string
	err := x.st.TenantView(ctx, x.tenant, func(tx polybot.TenantTx) error {
		in, err := tx.Intent(clientOrderID)
		if err == nil {
			id = in.VenueOrderID
		}
		return err
	})
	return id, err == nil && id != ""
}

// ClientOrderID finds the intent of a venue order id: this process's orders
// first, then the tenant's recent intents.
func (x *intentOrderIndex) ClientOrderID(ctx context.Context, orderID string) (string, bool) {
	if id, ok := x.mem.ClientOrderID(ctx, orderID); ok {
		return id, true
	}
	var id string
	_ = x.st.TenantView(ctx, x.tenant, func(tx polybot.TenantTx) error {
		ins, err := tx.Intents(nil, time.Time{}, 1000)
		for _, in := range ins {
			if in.VenueOrderID == orderID {
				id = in.ID
				break
			}
		}
		return err
	})
	return id, id != ""
}
