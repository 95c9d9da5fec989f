package polybot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestCheckCredentialFormatNamesTheField(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})
	der8, _ := x509.MarshalPKCS8PrivateKey(rk)
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der8})
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	derEC, _ := x509.MarshalPKCS8PrivateKey(ek)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: derEC})
	const uuid, wallet = "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
	f := func(kv ...string) map[string][]byte {
		m := map[string][]byte{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []byte(kv[i+1])
		}
		return m
	}
	cases := []struct {
		name   string
		p      Platform
		fields map[string][]byte
		bad    string // the field named, "" for valid
	}{
		{"kalshi PKCS#1", Kalshi, f(FieldAPIKey, uuid, FieldPrivateKey, string(pkcs1)), ""},
		{"kalshi PKCS#8", Kalshi, f(FieldAPIKey, strings.ToUpper(uuid), FieldPrivateKey, string(pkcs8)), ""},
		{"kalshi key id hello", Kalshi, f(FieldAPIKey, "hello", FieldPrivateKey, string(pkcs1)), FieldAPIKey},
		{"kalshi key id without dashes", Kalshi, f(FieldAPIKey, strings.ReplaceAll(uuid, "-", ""), FieldPrivateKey, string(pkcs1)), FieldAPIKey},
		{"kalshi key id with a non-hex digit", Kalshi, f(FieldAPIKey, "g"+uuid[1:], FieldPrivateKey, string(pkcs1)), FieldAPIKey},
		{"kalshi no key id", Kalshi, f(FieldPrivateKey, string(pkcs1)), FieldAPIKey},
		{"kalshi EC key", Kalshi, f(FieldAPIKey, uuid, FieldPrivateKey, string(ecPEM)), FieldPrivateKey},
		{"kalshi PEM body only", Kalshi, f(FieldAPIKey, uuid, FieldPrivateKey, strings.Join(strings.Split(string(pkcs1), "\n")[1:5], "\n")), FieldPrivateKey},
		{"kalshi huge", Kalshi, f(FieldAPIKey, uuid, FieldPrivateKey, strings.Repeat("A", 17<<10)), FieldPrivateKey},
		{"polymarket 0x", Polymarket, f(FieldPrivateKey, "0x"+wallet), ""},
		{"polymarket bare", Polymarket, f(FieldPrivateKey, wallet), ""},
		{"polymarket hello", Polymarket, f(FieldPrivateKey, "hello"), FieldPrivateKey},
		{"polymarket 63 digits", Polymarket, f(FieldPrivateKey, wallet[1:]), FieldPrivateKey},
		{"polymarket zero", Polymarket, f(FieldPrivateKey, strings.Repeat("0", 64)), FieldPrivateKey},
		{"polymarket no key", Polymarket, f(FieldAPIKey, uuid), FieldPrivateKey},
		{"polymarket L2 set", Polymarket, f(FieldPrivateKey, wallet, FieldAPIKey, uuid, FieldAPISecret, "c2VjcmV0LXNlY3JldA==", FieldPassphrase, "p"), ""},
		{"polymarket L2 url-safe secret", Polymarket, f(FieldPrivateKey, wallet, FieldAPIKey, uuid, FieldAPISecret, "-_8=", FieldPassphrase, "p"), ""},
		{"polymarket L2 without passphrase", Polymarket, f(FieldPrivateKey, wallet, FieldAPIKey, uuid, FieldAPISecret, "c2VjcmV0"), FieldPassphrase},
		{"polymarket L2 key not UUID", Polymarket, f(FieldPrivateKey, wallet, FieldAPIKey, "k", FieldAPISecret, "c2VjcmV0", FieldPassphrase, "p"), FieldAPIKey},
		{"polymarket L2 secret not base64", Polymarket, f(FieldPrivateKey, wallet, FieldAPIKey, uuid, FieldAPISecret, "s e c r e t", FieldPassphrase, "p"), FieldAPISecret},
		{"alpaca", Alpaca, f(FieldAPIKey, "AK", FieldAPISecret, "SK"), ""},
		{"alpaca no secret", Alpaca, f(FieldAPIKey, "AK"), FieldAPISecret},
		{"ibkr", IBKR, f(FieldAPIKey, "U123", FieldAPISecret, "https://localhost:5000"), ""},
		{"ibkr http gateway", IBKR, f(FieldAPIKey, "DU1234567", FieldAPISecret, "http://127.0.0.1:5000/"), ""},
		{"ibkr no account", IBKR, f(FieldAPISecret, "https://localhost:5000"), FieldAPIKey},
		{"ibkr account with a space", IBKR, f(FieldAPIKey, "U 123", FieldAPISecret, "https://localhost:5000"), FieldAPIKey},
		{"ibkr no gateway", IBKR, f(FieldAPIKey, "U123"), FieldAPISecret},
		{"ibkr gateway not a URL", IBKR, f(FieldAPIKey, "U123", FieldAPISecret, "gw-host:5000"), FieldAPISecret},
		{"ibkr gateway with credentials", IBKR, f(FieldAPIKey, "U123", FieldAPISecret, "https://me:pw@localhost:5000"), FieldAPISecret},
	}
	for _, tc := range cases {
		err := CheckCredentialFormat(tc.p, tc.fields)
		if tc.bad == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if ErrorCode(err) != EINVALID || ErrorFields(err)[tc.bad] == "" {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.bad)
		}
		for _, v := range tc.fields {
			if len(v) > 8 && strings.Contains(err.Error(), string(v)) {
				t.Errorf("%s: the error shows the value", tc.name)
			}
		}
	}
}

func TestCredentialRejectionInPlainWords(t *testing.T) {
	cases := []struct {
		name  string
		p     Platform
		ve    *VenueError
		hasL2 bool
		field string
		want  string // "" when it is not a refusal
	}{
		{"kalshi unknown key id", Kalshi, &VenueError{Status: 401, Code: "authentication_error", Message: "authentication error: NOT_FOUND"}, false,
			FieldAPIKey, "Kalshi does not know this API key ID. Check that you copied it from the right account (demo or live)."},
		{"kalshi wrong private key", Kalshi, &VenueError{Status: 401, Code: "authentication_error", Message: "authentication error: INCORRECT_API_KEY_SIGNATURE"}, false,
			FieldPrivateKey, "this private key does not belong to this API key ID"},
		{"kalshi clock", Kalshi, &VenueError{Status: 401, Code: "header_timestamp_expired"}, false, FieldAPIKey, "clock"},
		{"kalshi other 403", Kalshi, &VenueError{Status: 403}, false, FieldAPIKey, "Kalshi refused this key"},
		{"polymarket wallet", Polymarket, &VenueError{Status: 401, Message: "Invalid L1 Request headers"}, false, FieldPrivateKey, "Polymarket did not accept this wallet key"},
		{"polymarket L2", Polymarket, &VenueError{Status: 401, Message: "Unauthorized/Invalid api key"}, true, FieldAPIKey, "L2 API credentials"},
		{"a 500 is no refusal", Kalshi, &VenueError{Status: 500}, false, "", ""},
		{"a 429 is no refusal", Polymarket, &VenueError{Status: 429}, false, "", ""},
	}
	for _, tc := range cases {
		field, msg, ok := CredentialRejection(tc.p, tc.ve, tc.hasL2)
		if ok != (tc.want != "") {
			t.Errorf("%s: refusal %v", tc.name, ok)
			continue
		}
		if ok && (field != tc.field || !strings.Contains(msg, tc.want) || strings.Contains(msg, "NOT_FOUND")) {
			t.Errorf("%s: %s %q, want %s saying %q", tc.name, field, msg, tc.field, tc.want)
		}
	}
}
