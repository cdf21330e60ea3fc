// Package mutants is the catalogue `make mutate` runs: small, plausible bugs
// planted in the gateway one at a time, each with the scenario labels that
// must catch it. A mutant is an exact string replacement that must match its
// file exactly once, so the catalogue survives a moving code base: a snippet
// that no longer matches makes the mutant stale (reported, never counted as
// caught) instead of silently mutating something else.
package mutants

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Mutant is one planted bug.
type Mutant struct {
	ID string
	// Rule is the README gateway rule the mutant breaks.
	Rule string
	// File is relative to the repository root.
	File string
	// Find must occur exactly once in File; it is replaced by Replace.
	Find, Replace string
	// Labels are the scenario labels that must catch the mutant (a Ginkgo
	// label filter of their union).
	Labels []string
	// Why says what the bug breaks and why the labels see it.
	Why string
}

// ErrStale marks a mutant whose Find snippet does not match its file exactly
// once (the code moved on): the catalogue entry needs updating.
var ErrStale = errors.New("stale mutant")

// Apply plants the mutant in the repository copy at root.
func (m *Mutant) Apply(root string) error {
	path := filepath.Join(root, filepath.FromSlash(m.File))
	src, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s does not exist", ErrStale, m.File)
		}
		return fmt.Errorf("read %s: %w", m.File, err)
	}
	out, err := m.patch(string(src))
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), info.Mode().Perm())
}

func (m *Mutant) patch(src string) (string, error) {
	switch n := strings.Count(src, m.Find); n {
	case 1:
		return strings.Replace(src, m.Find, m.Replace, 1), nil
	case 0:
		return "", fmt.Errorf("%w: the find snippet matches 0 times in %s", ErrStale, m.File)
	default:
		return "", fmt.Errorf("%w: the find snippet matches %d times in %s (must be exactly once)", ErrStale, n, m.File)
	}
}

// LabelFilter is the Ginkgo label filter that runs the mutant's labels.
func (m *Mutant) LabelFilter() string { return strings.Join(m.Labels, " || ") }

// Validate checks the catalogue's own consistency: unique ids, every field
// set, a replacement that changes something.
func Validate(cat []Mutant) error {
	seen := map[string]bool{}
	var errs []error
	for i, m := range cat {
		switch {
		case m.ID == "" || m.File == "" || m.Find == "" || m.Rule == "" || m.Why == "":
			errs = append(errs, fmt.Errorf("mutant %d (%q): id, rule, file, find and why are required", i, m.ID))
		case len(m.Labels) == 0:
			errs = append(errs, fmt.Errorf("mutant %s: no labels", m.ID))
		case m.Find == m.Replace:
			errs = append(errs, fmt.Errorf("mutant %s: replace equals find", m.ID))
		case seen[m.ID]:
			errs = append(errs, fmt.Errorf("mutant %s: duplicate id", m.ID))
		}
		seen[m.ID] = true
	}
	return errors.Join(errs...)
}

// Select returns the mutants named in ids (comma-separated, run in that
// order; empty = the whole catalogue in its order), or an error naming an
// unknown id.
func Select(cat []Mutant, ids string) ([]Mutant, error) {
	if strings.TrimSpace(ids) == "" {
		return cat, nil
	}
	byID := map[string]Mutant{}
	for _, m := range cat {
		byID[m.ID] = m
	}
	var out []Mutant
	var unknown []string
	seen := map[string]bool{}
	for _, id := range strings.Split(ids, ",") {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		m, ok := byID[id]
		if !ok {
			unknown = append(unknown, id)
			continue
		}
		out = append(out, m)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown mutants: %s", strings.Join(unknown, ", "))
	}
	return out, nil
}
