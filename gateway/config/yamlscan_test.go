package config

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// scanCount is what ScanYAML counts in a document, without a limit.
func scanCount(doc string) (int, error) {
	s := newYAMLScan([]byte(doc), math.MaxInt)
	s.run()
	return s.values, s.err
}

// yamlCount is what decodeYAML counts after yaml.v3 has parsed doc (aliases
// expanded, up to limit), and whether yaml.v3 parses it at all.
func yamlCount(doc string, limit int) (n int, deep, ok bool) {
	var root yaml.Node
	if yaml.Unmarshal([]byte(doc), &root) != nil {
		return 0, false, false
	}
	var walk func(n *yaml.Node, depth int) bool
	budget := limit
	walk = func(n *yaml.Node, depth int) bool {
		if n.Kind == yaml.AliasNode {
			return walk(n.Alias, depth)
		}
		if n.Kind != yaml.DocumentNode {
			if budget--; budget < 0 {
				return false
			}
			if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
				if depth++; depth > MaxNesting {
					deep = true
				}
			}
		}
		for _, c := range n.Content {
			if !walk(c, depth) {
				return false
			}
		}
		return true
	}
	walk(&root, 0)
	return limit - budget, deep, true
}

// checkConservative fails when ScanYAML would refuse doc although yaml.v3
// decodes it within the limits: its count must never exceed yaml.v3's.
func checkConservative(t *testing.T, doc string) (scanned, parsed int) {
	t.Helper()
	got, err := scanCount(doc)
	want, deep, ok := yamlCount(doc, 10*len(doc)+100)
	if !ok {
		return got, -1
	}
	if got > want {
		t.Fatalf("scan counts %d values, yaml.v3 has %d in %.300q", got, want, doc)
	}
	if errors.Is(err, ErrTooDeep) && !deep {
		t.Fatalf("scan refuses nesting yaml.v3 keeps within %d levels: %q", MaxNesting, doc)
	}
	return got, want
}

var scanYAMLCases = []string{
	"_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://h:80/p\n  routes:\n  - paths: [/a, /b]\n    methods:\n    - GET\n",
	"a:\nb:\n-\n- \n",
	"- - - a\n  - b\n- c: d\n  e:\n",
	// Block scalars: what looks like structure inside is one scalar.
	"a: |\n  - x: 1\n  - y: 2\n\n  - z: 3\nb: >-\n    k: v\n  # not a comment\nc: d\n",
	"|\n- a: b\n- c: d\n",
	"--- |\n a: b\n c: d\n",
	"a:\n  |\n  b: c\n  d: e\n",
	"- |2\n    - a\n    - b\n- >+\n\n  x: y\n",
	"a: |  # comment\n   b: c\n",
	// Quoted scalars across lines, with ':', '-' and '#' inside.
	"a: \"x\n  - b: c\n  # d\n  e\"\nf: 'it''s\n  - g: h'\n",
	"a: \"\\\"- b: c\\\n  d\"\n",
	"'a: b': \"c: d\"\n\"- e\": '- f'\n",
	// Plain scalars: continuation lines, '#' and ':' rules.
	"a: b\n  - c\n  - d\ne: f\n",
	"- a\n  - b\n- c\n",
	"a: b #c: d\ne: f#g\nh: i:j\n",
	"a: http://x:80/y\nb: c:\n",
	"a\nb\nc: \n",
	// Flow collections, JSON, nested and across lines.
	"{\"a\": [1, 2, {\"b\": null}], \"c\": {}}",
	"a: [b, c, {d: e, f}, [g, h]]\ni: {j: [k, l], m: }\n",
	"a: [b,\n  c, d\n  e]\n",
	"[a: b, c: d, e]\n",
	"{a: b, ? c, d: }\n",
	"[[[[]]]]",
	// Anchors, aliases, tags.
	// Two tags (or anchors) on one node: yaml.v3 decodes one empty scalar
	// and ignores the rest (found by FuzzScanYAML).
	"!00 !\n- 00000\n000", "&a &b\n- c\nd", "!a &x !b\n- c\nd", "&x !a &y\n- c\nd", "!a &x\n- c\n- d\n",
	"a: &x [1, 2]\nb: *x\nc: &y\n  d: e\nf: *y\n- g\n",
	"a: &x b\n*x : c\n",
	"- &a !!str a\n- !!map {b: c}\n- ! d\n- *a\n",
	"&a a: b\n",
	"- &a\n  b: c\n- !t\n  - d\n",
	// Explicit keys.
	"? a\n: b\n? - c\n  - d\n: e\n",
	"? |\n  x: y\n: z\n",
	// Comments, directives, document markers, several documents.
	"# a: b\n%YAML 1.2\n---\na: b # c: d\n...\nc: d\ne: f\n",
	"a: b\n---\nc: d\ne: f\ng: h\n",
	"---\n---\na: b\n",
	// yaml.v3 decodes the document's node and ignores what follows it.
	"|\n- a: b\n- c: d\n",
	"'a'\n- b\n- c\n",
	"[a]\n- b\n- c\n",
	"a\n: b\n",
	"  a: b\nc: d\ne: f\n",
	"*a\n- b\n",
	"--- a\n",
	// Line breaks and byte order marks yaml.v3 accepts.
	"a: b\r\nc:\r\n- d\r\n",
	"a: b\rc: d\r",
	"\uFEFFa: b\nc: d\n",
	"a: b\u2028c: d\u2029- e\u0085f: g\n",
	"a: |\n  b\u2028c: d\n",
	// Tabs.
	"a:\tb\nc: [d,\te]\n",
	"a: b\n\tc\n",
	"-\ta\n-\tb: c\n",
	// Indentation changes.
	"a:\n    b:\n        c: d\n    e: f\ng: h\n",
	"a:\n- b\n- c\nd: e\n",
	"- a:\n  - b\n  c: d\n",
	strings.Repeat("- ", MaxNesting-1) + "a\n",
	strings.Repeat("- ", MaxNesting) + "a\n",
	strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting),
}

// TestScanYAMLConservative: on every kind of YAML construct, ScanYAML counts
// at most the values yaml.v3 decodes, so it never refuses a document the
// limits allow; the post-parse count (checkYAMLNode) stays the exact check.
func TestScanYAMLConservative(t *testing.T) {
	for _, doc := range scanYAMLCases {
		got, want := checkConservative(t, doc)
		t.Logf("%d of %d values: %q", got, want, doc)
	}
}

// TestScanYAMLExact: on the block style kong.yml files are written in
// (and decK dumps), the scan counts every value, so it refuses where the
// post-parse count would.
func TestScanYAMLExact(t *testing.T) {
	for _, doc := range []string{
		string(declarativeServices(50)),
		overLimitYAML(100),
		"_format_version: \"3.0\"\nconsumers:\n- username: u\n  keyauth_credentials:\n  - key: k\n  tags:\n  - a\n  - b\n",
	} {
		got, want := checkConservative(t, doc)
		// The document's own collection is the one value not counted.
		if got != want-1 {
			t.Errorf("scan counts %d values, yaml.v3 has %d in %.300q", got, want, doc)
		}
	}
}

// overLimitYAML is the audit's document: n services of three fields each,
// seven values a service.
func overLimitYAML(n int) string {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "- name: s%d\n  url: http://u%d.example:8080/p\n  retries: 5\n", i, i%97)
	}
	return b.String()
}

// TestDeclarativeOverLimitRefusedEarly: a 1.1M-value document (about
// 10 MiB, what the audit sent to POST /config) is refused with the error
// the post-parse count gave, and before yaml.v3 allocates its tree. The
// bound: yaml.v3 allocates a yaml.Node (about 200 bytes) and a token per
// value, over 200 MB here; the scan allocates its state and the error, a
// few KB. 1 MiB is far below the first and leaves room for the second.
func TestDeclarativeOverLimitRefusedEarly(t *testing.T) {
	doc := []byte(overLimitYAML(160_000))
	want := DeclarativeError(map[string]any{"error": "failed parsing declarative configuration: more than 1000000 values"})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := LoadDeclarative(doc)
	runtime.ReadMemStats(&after)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeDeclarativeConfig || err.Error() != want.Error() {
		t.Fatalf("got %v, want %v", err, want)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("refusing allocated %d bytes, want under 1 MiB: the document was parsed", n)
	}
	if err := PrecheckDeclarative(doc); err == nil || err.Error() != want.Error() {
		t.Fatalf("PrecheckDeclarative: %v", err)
	}
}

// TestDeclarativeLargeAccepted: a legitimate large document, 10,000
// services with a route each, passes the scan and loads.
func TestDeclarativeLargeAccepted(t *testing.T) {
	doc := declarativeServices(10_000)
	if err := ScanYAML(doc, MaxDeclarativeValues); err != nil {
		t.Fatal(err)
	}
	c, err := LoadDeclarative(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Services) != 10_000 || len(c.Routes) != 10_000 {
		t.Fatalf("%d services, %d routes", len(c.Services), len(c.Routes))
	}
}

// BenchmarkDeclarativeOverLimit is the refusal of the audit's document:
// about 10 MiB, 1.1M values. Before ScanYAML it took yaml.v3's whole parse
// (3 s, 270 MB here); now it stops at the millionth value.
func BenchmarkDeclarativeOverLimit(b *testing.B) {
	doc := []byte(overLimitYAML(160_000))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadDeclarative(doc); err == nil {
			b.Fatal("accepted")
		}
	}
}

// FuzzScanYAML: ScanYAML never panics and never counts more values or more
// nesting than yaml.v3 decodes, whatever the input.
func FuzzScanYAML(f *testing.F) {
	for _, doc := range scanYAMLCases {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		checkConservative(t, doc)
	})
}
