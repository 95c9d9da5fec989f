package polymarket

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/eip712"
)

// OrderJSON is a signed V2 order as the official client serialises it in
// the POST /order body: the salt a JSON number, the other integers decimal
// strings, side "BUY" or "SELL", addresses EIP-55 checksummed. Fields are in
// the client's order.
type OrderJSON struct {
	Salt          json.Number `json:"salt"`
	Maker         string      `json:"maker"`
	Signer        string      `json:"signer"`
	TokenID       string      `json:"tokenId"`
	MakerAmount   string      `json:"makerAmount"`
	TakerAmount   string      `json:"takerAmount"`
	Side          string      `json:"side"`
	SignatureType int         `json:"signatureType"`
	Timestamp     string      `json:"timestamp"`
	Expiration    string      `json:"expiration"`
	Metadata      string      `json:"metadata"`
	Builder       string      `json:"builder"`
	Signature     string      `json:"signature"`
}

// OrderPayload is the POST /order body. Owner is the API key; OrderType is
// GTC, GTD, FOK or FAK. POST /orders takes an array of these.
type OrderPayload struct {
	DeferExec bool                `json:"deferExec"`
	PostOnly  bool                `json:"postOnly"`
	Order     OrderJSON           `json:"order"`
	Owner     string              `json:"owner"`
	OrderType polybot.TimeInForce `json:"orderType"`
}

// JSON returns o in its wire form.
func (o *SignedOrder) JSON() OrderJSON {
	exp := "0"
	if o.Expiration != nil {
		exp = o.Expiration.String()
	}
	return OrderJSON{
		Salt:          json.Number(o.Salt.String()),
		Maker:         o.Maker.String(),
		Signer:        o.Signer.String(),
		TokenID:       o.TokenID.String(),
		MakerAmount:   o.MakerAmount.String(),
		TakerAmount:   o.TakerAmount.String(),
		Side:          o.Side.String(),
		SignatureType: int(o.SignatureType),
		Timestamp:     o.Timestamp.String(),
		Expiration:    exp,
		Metadata:      eip712.HexHash(o.Metadata),
		Builder:       eip712.HexHash(o.Builder),
		Signature:     o.Signature.String(),
	}
}

// Payload returns the POST /order body for o. postOnly is refused for FOK
// and FAK, as the official client refuses it.
func (o *SignedOrder) Payload(owner string, orderType polybot.TimeInForce, postOnly bool) (OrderPayload, error) {
	switch orderType {
	case polybot.GTC, polybot.GTD:
	case polybot.FOK, polybot.FAK:
		if postOnly {
			return OrderPayload{}, polybot.FieldError("post_only", "not allowed for FOK or FAK orders")
		}
	default:
		return OrderPayload{}, polybot.FieldError("order_type", fmt.Sprintf("%q is not GTC, GTD, FOK or FAK", orderType))
	}
	return OrderPayload{PostOnly: postOnly, Order: o.JSON(), Owner: owner, OrderType: orderType}, nil
}

// Parse turns a wire order back into a SignedOrder (the simulator's side),
// recomputing nothing: call ExchangeDomain.VerifyOrder to check it, which
// also fills in the hash.
func (j OrderJSON) Parse() (*SignedOrder, error) {
	var o SignedOrder
	v := polybot.Validation{}
	uint256 := func(field, s string) *big.Int {
		n, ok := new(big.Int).SetString(s, 10)
		if !ok || n.Sign() < 0 || n.BitLen() > 256 {
			v.Add(field, "not a uint256 decimal")
			return new(big.Int)
		}
		return n
	}
	address := func(field, s string) eip712.Address {
		a, err := eip712.ParseAddress(s)
		if err != nil {
			v.Add(field, "not an address")
		}
		return a
	}
	bytes32 := func(field, s string) eip712.Hash {
		h, err := eip712.ParseHash(s)
		if err != nil || len(s) != 66 {
			v.Add(field, "not 0x and 32 bytes of hex")
		}
		return h
	}
	o.Salt = uint256("salt", string(j.Salt))
	o.Maker = address("maker", j.Maker)
	o.Signer = address("signer", j.Signer)
	o.TokenID = uint256("tokenId", j.TokenID)
	o.MakerAmount = uint256("makerAmount", j.MakerAmount)
	o.TakerAmount = uint256("takerAmount", j.TakerAmount)
	switch j.Side {
	case "BUY":
		o.Side = polybot.Buy
	case "SELL":
		o.Side = polybot.Sell
	default:
		v.Add("side", "not BUY or SELL")
	}
	if j.SignatureType < 0 || !SignatureType(j.SignatureType).valid() {
		v.Add("signatureType", "not 0, 1 or 2")
	}
	o.SignatureType = SignatureType(j.SignatureType)
	o.Timestamp = uint256("timestamp", j.Timestamp)
	if j.Expiration == "" {
		o.Expiration = new(big.Int)
	} else {
		o.Expiration = uint256("expiration", j.Expiration)
	}
	o.Metadata = bytes32("metadata", j.Metadata)
	o.Builder = bytes32("builder", j.Builder)
	sig, err := eip712.ParseSignature(j.Signature)
	if err != nil {
		v.Add("signature", "not 0x and 65 bytes of hex")
	}
	o.Signature = sig
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &o, nil
}
