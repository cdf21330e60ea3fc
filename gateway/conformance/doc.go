// Package conformance checks the gateway against Kong 3.9's own spec files.
//
// The tests in this package are tables of Case rows, one per Kong it(...)
// block that applies to the gateway. Each row names the Kong spec file and
// line it was ported from, builds its state through the Admin API, sends the
// request under test and asserts what Kong's spec asserts: status, a few JSON
// fields, headers. Every row runs, in parallel with the others, against a
// fresh in-process gateway (loopback listeners, a temp data dir; DBLess rows
// run with database=off) and its own echo upstream.
//
// A row:
//
//	Case{
//		Spec:  "spec/02-integration/04-admin_api/08-targets_routes_spec.lua:1028",
//		Name:  "updates target (by target)",
//		Setup: []Step{post("/upstreams", obj{"name": "u"}), post("/upstreams/u/targets", obj{"target": "api-2:80"}, "t2")},
//		Steps: []Step{
//			{Method: "PUT", Path: "/upstreams/u/targets/api-2:80", Body: obj{"target": "api-2:801"}, Status: 200,
//				JSON: obj{"id": "{{t2}}", "weight": 100}},
//			get("/upstreams/u/targets/api-2:80", 404, nil),
//		},
//	}
//
// Step.JSON and Step.Headers map dotted paths ("fields.host", "data.0.id",
// "data.#") to values compared as JSON or to Matchers (Absent, NotNull, Len,
// Contains, Match, Set, Not, Num); Save keeps response values for {{vars}} in
// later steps; To: Proxy sends through the proxy, where {{echo_url}} is the
// echo upstream and Seen checks the request it received. Case.Run takes over
// for what a table cannot say. contentTypes(c) expands Kong's
// it_content_types into its form, multipart and JSON rows.
//
// Rows for features the gateway does not have carry a Skip reason, and rows
// where the gateway deliberately differs from Kong (README "Differences from
// Kong") carry a Differs note and assert the gateway's behaviour. The test
// run ends with one line:
//
//	conformance: N of M Kong spec cases pass; K skipped (not implemented: …)
//
// computed from the tables, never typed by hand; -update-readme writes it
// into README.md. TestSpecCoverage logs the rows per spec file.
package conformance
