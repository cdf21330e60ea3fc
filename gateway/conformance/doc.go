// Package conformance checks the gateway against Kong 3.9's own spec files.
//
// The tests in this package are tables of Case rows, one per Kong it(...)
// block that applies to the gateway. Each row names the Kong spec file and
// line it was ported from, builds its state through the Admin API, sends the
// request under test and asserts what Kong's spec asserts: status, a few JSON
// fields, headers. Every row runs against a fresh in-process gateway.
//
// Rows for features the gateway does not have carry a Skip reason, and rows
// where the gateway deliberately differs from Kong (README "Differences from
// Kong") carry a Differs note and assert the gateway's behaviour. The test
// run ends with one line:
//
//	conformance: N of M Kong spec cases pass; K skipped (not implemented: …)
//
// computed from the tables, never typed by hand.
package conformance
