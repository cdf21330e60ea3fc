// Package scenarios holds the resilience suites: Ginkgo specs, one file per
// resilience property, built only with the `resilience` tag (they need a
// Docker engine or the process fallback, and take minutes). Run them with
// `make test-resilience`; see README.md in this directory for the catalogue.
package scenarios
