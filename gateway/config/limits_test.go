package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestScanJSON(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name, in  string
		maxValues int
		want      error
	}{
		{"at the nesting limit", nest(MaxNesting), 100, nil},
		{"one past the nesting limit", nest(MaxNesting + 1), 100, ErrTooDeep},
		{"brackets inside strings do not nest", `["` + strings.Repeat("[", 100) + `"]`, 100, nil},
		{"escaped quote keeps the string open", `["\"` + strings.Repeat("{", 100) + `"]`, 100, nil},
		// [1,2,3] is 4 values: the array and three numbers.
		{"at the value limit", `[1,2,3]`, 4, nil},
		{"one past the value limit", `[1,2,3,4]`, 4, TooManyValues(4)},
		{"commas in strings are not values", `["a,b,c,d,e"]`, 2, nil},
		// Empty containers are values too: a comma-free chain is counted.
		{"containers count", `[[[[]]]]`, 3, TooManyValues(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ScanJSON([]byte(tt.in), tt.maxValues)
			if fmt.Sprint(err) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// The declarative loader refuses YAML nested past MaxNesting or expanding
// past MaxDeclarativeValues before it builds any value, and says so in
// Kong's code 14 error.
func TestDeclarativeYAMLLimits(t *testing.T) {
	var laughs strings.Builder
	laughs.WriteString("_format_version: \"3.0\"\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 8; i++ { // 10^9 values once expanded
		fmt.Fprintf(&laughs, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	tests := []struct {
		name, doc, want string
	}{
		{"billion laughs", laughs.String(), TooManyValues(MaxDeclarativeValues).Msg},
		{"flow nesting past the limit", "_format_version: \"3.0\"\nx: " + strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting), ErrTooDeep.Msg},
		{"json nesting past the limit", `{"_format_version":"3.0","x":` + strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting) + `}`, ErrTooDeep.Msg},
		// An alias deepens where it is used, not where its anchor is.
		{"alias used deep", "_format_version: \"3.0\"\na: &a " + strings.Repeat("[", MaxNesting-2) + strings.Repeat("]", MaxNesting-2) + "\nb: [[*a]]", ErrTooDeep.Msg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadDeclarative([]byte(tt.doc))
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeDeclarativeConfig {
				t.Fatalf("got %v, want a code 14 error", err)
			}
			if got := fmt.Sprint(e.Fields["error"]); !strings.HasSuffix(got, tt.want) {
				t.Fatalf("error %q, want it to end in %q", got, tt.want)
			}
		})
	}
	// At the limit the document loads (and fails only on its unknown key).
	_, err := LoadDeclarative([]byte("_format_version: \"3.0\"\nx: " + strings.Repeat("[", MaxNesting-1) + strings.Repeat("]", MaxNesting-1)))
	var e *Error
	if !errors.As(err, &e) || fmt.Sprint(e.Fields) != "map[x:unknown field]" {
		t.Fatalf("document at the nesting limit: %v", err)
	}
}

// Sets drop duplicates, keep first-seen order, and compare as JSON does
// (1 and 1.0 are one number).
func TestSetDedupe(t *testing.T) {
	f := &Field{Type: TSet, Elem: &Field{Type: TAny}}
	got, err := normalizeValue(f, []any{"a", "b", "a", 1.0, 1, map[string]any{"x": 1.0}, map[string]any{"x": 1}, "b"}, entityValues)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a b 1 map[x:1]]" {
		t.Fatalf("got %v", got)
	}
}

// BenchmarkNormalizeSet is the set dedupe on one entity's tags. Before the
// map it was quadratic (40k tags: 6.9 s through the Admin API).
func BenchmarkNormalizeSet(b *testing.B) {
	f := tagsField()
	for _, n := range []int{10_000, 40_000, MaxEntityValues} {
		tags := make([]any, n)
		for i := range tags {
			tags[i] = fmt.Sprintf("tag-%d", i)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := normalizeValue(f, tags, entityValues); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// yamlShape is the nesting depth and the value count of a decoded document.
func yamlShape(v any) (depth, values int) {
	var kids []any
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			kids = append(kids, e)
		}
	case []any:
		kids = x
	default:
		return 0, 1
	}
	values = 1
	for _, k := range kids {
		d, n := yamlShape(k)
		depth, values = max(depth, d), values+n
	}
	return depth + 1, values
}

// FuzzDeclarative: a declarative document of any content loads or is
// refused with Kong's code 14 error; it never panics, and what decodeYAML
// returns keeps the nesting and value limits.
func FuzzDeclarative(f *testing.F) {
	for _, s := range []string{
		"_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://h\n  routes:\n  - paths: [/a]\n",
		"_format_version: \"3.0\"\nupstreams:\n- name: u\n  targets: [{target: a:1}]\n",
		"a: &a [x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
		"a: &a {<<: *a}\n",
		strings.Repeat("[", MaxNesting+1) + strings.Repeat("]", MaxNesting+1),
		`{"_format_version":"3.0","consumers":[{"username":"u","tags":["a","a"]}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if v, err := decodeYAML([]byte(doc)); err == nil {
			if d, n := yamlShape(JSONShape(v)); d > MaxNesting || n > MaxDeclarativeValues {
				t.Fatalf("decoded %d deep with %d values", d, n)
			}
		}
		_, err := LoadDeclarative([]byte(doc))
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Code != CodeDeclarativeConfig) {
			t.Fatalf("error %T %v, want Kong's code 14", err, err)
		}
	})
}

// declarativeServices is a kong.yml of n services with one route each.
func declarativeServices(n int) []byte {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "- name: s%d\n  host: h\n  routes:\n  - name: r%d\n    paths: [/p%d]\n", i, i, i)
	}
	return []byte(b.String())
}

// BenchmarkLoadDeclarative grows linearly with the entity count (per-op time
// ∝ n): the load indexes ids, keys and unique keys. Before the index it was
// quadratic: 1,000 / 2,000 / 4,000 services took 0.19 / 0.54 / 2.1 s.
func BenchmarkLoadDeclarative(b *testing.B) {
	for _, n := range []int{1000, 4000, 16000} {
		doc := declarativeServices(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := LoadDeclarative(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The index answers what the scans answered: a duplicate is still refused
// with Kong's declarative message, references by name still resolve, and
// the Config returned scans again (no index outlives the load).
func TestDeclarativeIndexMatchesScans(t *testing.T) {
	c, err := LoadDeclarative(declarativeServices(50))
	if err != nil {
		t.Fatal(err)
	}
	if c.idx != nil {
		t.Fatal("the loaded Config kept its index")
	}
	if len(c.Services) != 50 || len(c.Routes) != 50 || c.Route("r49").Service.ID != c.Service("s49").ID {
		t.Fatalf("loaded %d services, %d routes", len(c.Services), len(c.Routes))
	}
	dup := "_format_version: \"3.0\"\nservices:\n- {name: a, host: h}\n- {name: b, host: h}\n- {name: a, host: h}\n" +
		"upstreams:\n- name: u\n  targets: [{target: \"x:1\"}, {target: \"x:1\"}]\n" +
		"routes:\n- {name: r, paths: [/], service: b}\n"
	_, err = LoadDeclarative([]byte(dup))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("duplicates loaded: %v", err)
	}
	want := `map[services:[<nil> <nil> uniqueness violation: 'services' entity with name set to 'a' already declared] ` +
		`upstreams:[map[targets:[<nil> uniqueness violation: 'targets' entity with target set to 'x:1', upstream set to '{id="`
	if got := fmt.Sprint(e.Fields); !strings.HasPrefix(got, want) {
		t.Fatalf("fields\n got %s\nwant prefix %s", got, want)
	}
}
