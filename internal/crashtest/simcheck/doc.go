// Package simcheck is what the end-to-end tests that drive the real
// polybot binary against `polybot sim` share (internal/crashtest,
// internal/failovertest): building and running the binary as child
// processes, starting the simulators and reading what they received, and
// the checks of that against the store: no client order id sent twice, no
// fill lost, positions equal to the venues', nothing left unreconciled.
//
// It is for tests only. It imports the root package and the venue
// connectors (to read the simulators as a tenant would), never a store.
package simcheck
