// Command mutate is `make mutate`: it plants each mutant of the catalogue
// (scenarios/mutants) in a fresh copy of the committed tree (git archive
// HEAD), builds the gateway, runs `make test-resilience` on the mutant's
// labels against that build, and writes the detection table
// (mutants.json, mutants.md, index.html) into MUTATE_OUT.
//
//	make mutate                          the whole catalogue (~1.5 min a mutant on 2 cores)
//	MUTANTS=id1,id2 make mutate          a subset
//	MUTATE_OUT=dir                       default reports/out/mutate
//	MUTATE_KEEP=1                        keep the temporary copies
//	MUTATE_APPEND=1                      update the existing table: rows of the mutants run are
//	                                     replaced, rows of mutants no longer in the catalogue dropped
//	go run ./scenarios/mutants/cmd/mutate -list   the catalogue
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/scenarios/mutants"
)

func main() {
	list := flag.Bool("list", false, "print the catalogue and exit")
	flag.BoolVar(&buildOnly, "build-only", false, "apply and build every mutant, run no scenario (checks the catalogue)")
	render := flag.Bool("render", false, "rewrite mutants.md and index.html from MUTATE_OUT's mutants.json, run nothing")
	flag.Parse()
	if *render {
		if err := rerender(); err != nil {
			fmt.Fprintln(os.Stderr, "mutate:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*list); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

var buildOnly bool

func run(list bool) error {
	if err := mutants.Validate(mutants.Catalogue); err != nil {
		return fmt.Errorf("catalogue: %w", err)
	}
	if list {
		for _, m := range mutants.Catalogue {
			fmt.Printf("%-45s %-30s %s\n", m.ID, m.LabelFilter(), m.File)
		}
		return nil
	}
	sel, err := mutants.Select(mutants.Catalogue, os.Getenv("MUTANTS"))
	if err != nil {
		return err
	}
	root, err := git("", "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	commit, err := git(root, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	out := os.Getenv("MUTATE_OUT")
	if out == "" {
		out = filepath.Join(root, "reports", "out", "mutate")
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "gauntlet-mutate-")
	if err != nil {
		return err
	}
	keep := os.Getenv("MUTATE_KEEP") == "1"
	if !keep {
		defer os.RemoveAll(work)
	}
	tarball := filepath.Join(work, "head.tar")
	if _, err := git(root, "archive", "--format=tar", "-o", tarball, "HEAD"); err != nil {
		return err
	}
	// mockbin and toxiproxy do not change between mutants: built once from HEAD.
	common := filepath.Join(work, "common")
	tree := filepath.Join(work, "tree")
	if err := extract(tarball, tree); err != nil {
		return err
	}
	fmt.Printf("mutate: %d mutants on %s, work dir %s, out %s\n", len(sel), commit[:12], work, out)
	if buildOnly {
		out = filepath.Join(work, "build-only") // the detection table stays as it was
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
	}
	for _, b := range [][2]string{{"mockbin", "./mockbin"}, {"toxiproxy", "github.com/Shopify/toxiproxy/v2/cmd/server"}} {
		if msg, err := goBuild(tree, filepath.Join(common, b[0]), b[1]); err != nil {
			return fmt.Errorf("build %s: %v\n%s", b[0], err, msg)
		}
	}

	rep := &reports.MutationReport{Start: time.Now(), Commit: commit}
	var prior time.Duration
	if os.Getenv("MUTATE_APPEND") == "1" {
		if old, err := readReport(filepath.Join(out, "mutants.json")); err == nil {
			rep.Start, prior = old.Start, old.Duration
			for _, r := range old.Mutants {
				if _, err := mutants.Select(mutants.Catalogue, r.ID); err == nil {
					rep.Mutants = append(rep.Mutants, r)
				} else {
					fmt.Printf("mutate: dropping %s from the table: no longer in the catalogue\n", r.ID)
				}
			}
			if old.Commit != commit {
				rep.Commit = old.Commit + " + " + commit
			}
		}
	}
	runStart := time.Now()
	for i, m := range sel {
		fmt.Printf("mutate: [%d/%d] %s (%s)\n", i+1, len(sel), m.ID, m.LabelFilter())
		res := runMutant(&m, tarball, tree, common, filepath.Join(out, "runs", m.ID))
		rep.Mutants = upsert(rep.Mutants, res)
		rep.Duration = prior + time.Since(runStart)
		fmt.Printf("mutate: %s: %s in %s %s\n", m.ID, res.Outcome, res.Duration.Round(time.Second), res.CatchText())
		if err := write(out, rep); err != nil {
			return err
		}
	}
	fmt.Printf("mutate: %s; table in %s\n", rep.Summary(), filepath.Join(out, "mutants.md"))
	if n := rep.Tally()[reports.MutantMissed]; n > 0 {
		return fmt.Errorf("%d mutant(s) missed", n)
	}
	return nil
}

func runMutant(m *mutants.Mutant, tarball, tree, common, out string) reports.MutantResult {
	start := time.Now()
	res := reports.MutantResult{ID: m.ID, Rule: m.Rule, File: m.File, Labels: m.Labels, Why: m.Why}
	fail := func(outcome string, err error) reports.MutantResult {
		res.Outcome, res.Detail = outcome, err.Error()
		res.Duration = time.Since(start)
		return res
	}
	// The same path for every mutant keeps Go's build cache warm.
	if err := os.RemoveAll(tree); err != nil {
		return fail(reports.MutantError, err)
	}
	if err := extract(tarball, tree); err != nil {
		return fail(reports.MutantError, err)
	}
	if err := m.Apply(tree); err != nil {
		if errors.Is(err, mutants.ErrStale) {
			return fail(reports.MutantStale, err)
		}
		return fail(reports.MutantError, err)
	}
	bin := filepath.Join(tree, ".mutate-bin")
	if msg, err := goBuild(tree, filepath.Join(bin, "gateway"), "./gateway"); err != nil {
		return fail(reports.MutantBuildError, fmt.Errorf("%v: %s", err, lastLines(msg, 6)))
	}
	if buildOnly {
		res.Outcome, res.Detail, res.Duration = "built", "built; no scenario run (-build-only)", time.Since(start)
		return res
	}
	for _, name := range []string{"mockbin", "toxiproxy"} {
		if err := linkOrCopy(filepath.Join(common, name), filepath.Join(bin, name)); err != nil {
			return fail(reports.MutantError, err)
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return fail(reports.MutantError, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fail(reports.MutantError, err)
	}
	logf, err := os.Create(filepath.Join(out, "run.log"))
	if err != nil {
		return fail(reports.MutantError, err)
	}
	defer logf.Close()
	cmd := exec.Command("bash", "scripts/test-resilience.sh")
	cmd.Dir = tree
	cmd.Stdout, cmd.Stderr = logf, logf
	env := append(filterEnv(os.Environ(), "GAUNTLET_PROVE_FAIL=", "LABELS=", "GAUNTLET_OUT=", "GAUNTLET_BIN_DIR=", "GAUNTLET_CHECK="),
		"LABELS="+m.LabelFilter(), "GAUNTLET_CHECK=0", "GAUNTLET_OUT="+out, "GAUNTLET_BIN_DIR="+bin)
	cmd.Env = env
	rc := cmd.Run()
	j := mutants.Judge(out)
	if j.Outcome == reports.MutantError && j.Specs == 0 {
		// The suite could not set up (e.g. Docker lost an image to another
		// run's cleanup): that judges nothing, so try once more.
		fmt.Fprintf(logf, "\nmutate: no scenario judged the mutant (%s); running once more\n", j.Detail)
		cmd = exec.Command("bash", "scripts/test-resilience.sh")
		cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = tree, logf, logf, env
		rc = cmd.Run()
		j = mutants.Judge(out)
	}
	res.Outcome, res.Catches, res.Detail, res.Specs, res.Failed = j.Outcome, j.Catches, j.Detail, j.Specs, j.Failed
	if j.Outcome == reports.MutantMissed && rc != nil {
		// Every scenario passed but the script failed (e.g. the report
		// render): still missed, with the reason noted.
		res.Detail += fmt.Sprintf("; test-resilience exited %v (see runs/%s/run.log)", rc, m.ID)
	}
	res.Duration = time.Since(start)
	return res
}

func rerender() error {
	out := os.Getenv("MUTATE_OUT")
	if out == "" {
		root, err := git("", "rev-parse", "--show-toplevel")
		if err != nil {
			return err
		}
		out = filepath.Join(root, "reports", "out", "mutate")
	}
	rep, err := readReport(filepath.Join(out, "mutants.json"))
	if err != nil {
		return err
	}
	return write(out, rep)
}

// upsert replaces the row of res's mutant, or appends it.
func upsert(rows []reports.MutantResult, res reports.MutantResult) []reports.MutantResult {
	for i := range rows {
		if rows[i].ID == res.ID {
			rows[i] = res
			return rows
		}
	}
	return append(rows, res)
}

func readReport(path string) (*reports.MutationReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep reports.MutationReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rep, nil
}

func write(out string, rep *reports.MutationReport) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "mutants.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md, page bytes.Buffer
	if err := reports.WriteMutationMarkdown(&md, rep); err != nil {
		return err
	}
	if err := reports.WriteMutationHTML(&page, rep); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "mutants.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "index.html"), page.Bytes(), 0o644)
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(outb)), nil
}

func extract(tarball, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if msg, err := exec.Command("tar", "-xf", tarball, "-C", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("extract %s: %v: %s", tarball, err, msg)
	}
	return nil
}

func goBuild(dir, out, pkg string) (string, error) {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	msg, err := cmd.CombinedOutput()
	return string(msg), err
}

func linkOrCopy(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	o, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}

func filterEnv(env []string, drop ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, p := range drop {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
