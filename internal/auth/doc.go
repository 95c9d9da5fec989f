// Package auth owns PolyBot's credential primitives: argon2id password
// hashes, opaque session, API and CSRF tokens and their stored hashes, the
// in-memory failed-login limiter (per email and client address, with
// doubling delays), and verification of Supabase-issued JWTs on
// github.com/golang-jwt/jwt/v5 and github.com/MicahParks/keyfunc/v3.
//
// It decides whether a credential is genuine; it does not decide who may do
// what (the server checks roles and tenancy) and it stores nothing. It must not
// import any database package, the store adapters, or net/http server code:
// internal/server wires these primitives to requests and to the store. The
// only network use is the JWKS fetch, through an *http.Client the caller may
// supply.
//
// Errors returned to callers are *polybot.Error values whose messages are safe
// to show; none of them contains a password, a token or key material.
package auth
