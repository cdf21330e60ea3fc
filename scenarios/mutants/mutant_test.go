package mutants

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestApply(t *testing.T) {
	src := "package x\n\nfunc f(a int) bool {\n\treturn a > 0\n}\n\nfunc g() int { return 1 }\nfunc h() int { return 1 }\n"
	cases := []struct {
		name      string
		m         Mutant
		wantErr   string
		wantStale bool
		want      string
	}{
		{name: "exactly once", m: Mutant{File: "x/x.go", Find: "return a > 0", Replace: "return a >= 0"},
			want: strings.Replace(src, "a > 0", "a >= 0", 1)},
		{name: "no match is stale", m: Mutant{File: "x/x.go", Find: "return a < 0", Replace: "return true"},
			wantStale: true, wantErr: "matches 0 times"},
		{name: "two matches are stale", m: Mutant{File: "x/x.go", Find: "return 1", Replace: "return 2"},
			wantStale: true, wantErr: "matches 2 times"},
		{name: "missing file is stale", m: Mutant{File: "x/gone.go", Find: "a", Replace: "b"},
			wantStale: true, wantErr: "does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeTree(t, map[string]string{"x/x.go": src})
			err := c.m.Apply(root)
			got, _ := os.ReadFile(filepath.Join(root, "x/x.go"))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Apply() = %v, want an error with %q", err, c.wantErr)
				}
				if errors.Is(err, ErrStale) != c.wantStale {
					t.Fatalf("errors.Is(%v, ErrStale) = %v, want %v", err, !c.wantStale, c.wantStale)
				}
				if string(got) != src {
					t.Fatalf("a failed Apply changed the file:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply() = %v", err)
			}
			if string(got) != c.want {
				t.Fatalf("patched file:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := Mutant{ID: "a", Rule: "r", File: "f", Find: "x", Replace: "y", Labels: []string{"l"}, Why: "w"}
	if err := Validate([]Mutant{ok}); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	same := ok
	same.ID, same.Replace = "b", "x"
	nolabel := ok
	nolabel.ID, nolabel.Labels = "c", nil
	err := Validate([]Mutant{ok, ok, same, nolabel, {ID: "d"}})
	for _, want := range []string{"a: duplicate id", "b: replace equals find", "c: no labels", `"d"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestSelect(t *testing.T) {
	cat := []Mutant{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	got, err := Select(cat, " c, a ,c")
	if err != nil || len(got) != 2 || got[0].ID != "c" || got[1].ID != "a" {
		t.Fatalf("Select(c,a,c) = %v, %v; want [c a] in the order given, once each", got, err)
	}
	if all, _ := Select(cat, ""); len(all) != 3 {
		t.Fatalf("Select(\"\") = %d mutants, want all 3", len(all))
	}
	if _, err := Select(cat, "a,zz"); err == nil || !strings.Contains(err.Error(), "zz") {
		t.Fatalf("Select(a,zz) = %v, want an error naming zz", err)
	}
}

func TestLabelFilter(t *testing.T) {
	m := Mutant{Labels: []string{"kill", "restart"}}
	if got := m.LabelFilter(); got != "kill || restart" {
		t.Fatalf("LabelFilter() = %q", got)
	}
}

// The catalogue itself is consistent, and every mutant still matches the
// code it mutates exactly once (stale entries fail here, before a long run).
func TestCatalogue(t *testing.T) {
	if err := Validate(Catalogue); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Catalogue {
		src, err := os.ReadFile(filepath.Join(root, m.File))
		if err != nil {
			t.Errorf("%s: %v", m.ID, err)
			continue
		}
		if _, err := m.patch(string(src)); err != nil {
			t.Errorf("%s: %v", m.ID, err)
		}
	}
}
