// Command reports renders, compares and checks Gauntlet load reports.
//
//	reports render DIR            DIR/records/*.json → index.html, summary.md, scenarios/
//	reports diff BASE NEW         compare two records (or two records directories)
//	reports check DIR             open the index and a scenario page in headless Chromium
//
// Exit codes: 0 fine, 1 a bound crossed or a check failed, 2 bad usage or
// unreadable input.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/reports"
	"github.com/gauntlet-dev/gauntlet/reports/headless"
)

// errFailed marks a run that worked but found a regression or a broken page.
var errFailed = errors.New("failed")

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, log)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errFailed):
		fmt.Fprintln(os.Stderr, "reports:", err)
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "reports:", err)
		os.Exit(2)
	}
}

const usage = `usage:
  reports render [-quiet] DIR
  reports diff [flags] BASE.json NEW.json   (or BASE_DIR NEW_DIR of records)
  reports check [flags] DIR
Run "reports COMMAND -h" for the flags of a command.`

func run(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		//lint:ignore ST1005 the error is the usage text, printed as it is
		return errors.New(usage)
	}
	switch args[0] {
	case "render":
		return renderCmd(args[1:], out)
	case "diff":
		return diffCmd(args[1:], out)
	case "check":
		return checkCmd(ctx, args[1:], out, log)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(out, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func renderCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	quiet := fs.Bool("quiet", false, "print only the index path, not the text reports")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("render: want one directory (with records/ inside)")
	}
	dir := fs.Arg(0)
	res, err := reports.Render(dir)
	if err != nil {
		return err
	}
	if !*quiet {
		// The plain-text reports go to the log of the job that rendered them.
		recs, err := reports.ReadDir(filepath.Join(dir, reports.RecordsDir))
		if err != nil {
			return err
		}
		for _, r := range reports.ByVerdict(recs) {
			fmt.Fprintln(out, strings.Repeat("─", 72))
			if err := reports.WriteText(out, r); err != nil {
				return err
			}
		}
		fmt.Fprintln(out, strings.Repeat("─", 72))
		fmt.Fprintf(out, "%s\nsummary: %s\n", res.Counts, res.Summary)
	}
	fmt.Fprintf(out, "report: %s\n", res.Index)
	return nil
}

func diffCmd(args []string, out io.Writer) error {
	b := reports.DefaultBounds()
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.Float64Var(&b.SuccessDrop, "success-drop", b.SuccessDrop, "largest allowed drop of the success ratio, in ratio points (0.01 = 1 point)")
	fs.Float64Var(&b.P99Growth, "p99-growth", b.P99Growth, "largest allowed relative growth of p99 (0.5 = +50%)")
	fs.DurationVar(&b.P99Slack, "p99-slack", b.P99Slack, "p99 growth always allowed, whatever the relative growth")
	fs.DurationVar(&b.FailoverGrowth, "failover-growth", b.FailoverGrowth, "largest allowed growth of the failover time")
	fs.Float64Var(&b.AdmittedChange, "admitted-change", b.AdmittedChange, "largest allowed relative change of the admitted rate, either way (0.05 = ±5%)")
	format := fs.String("format", "text", "output: text, or markdown for a CI job summary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	write := reports.WriteComparisons
	switch *format {
	case "text":
	case "markdown", "md":
		write = reports.WriteComparisonsMarkdown
	default:
		return fmt.Errorf("diff: unknown -format %q (text or markdown)", *format)
	}
	if fs.NArg() != 2 {
		return errors.New("diff: want BASE and NEW (two record files or two records directories)")
	}
	base, err := readRecords(fs.Arg(0))
	if err != nil {
		return err
	}
	cur, err := readRecords(fs.Arg(1))
	if err != nil {
		return err
	}
	var cs []reports.Comparison
	if len(base) == 1 && len(cur) == 1 {
		// Two files compare whatever their names, so a renamed scenario
		// can still be compared with its old self.
		cs = []reports.Comparison{reports.Compare(base[0], cur[0], b)}
	} else {
		cs = reports.CompareSets(base, cur, b)
	}
	if err := write(out, cs); err != nil {
		return err
	}
	n := 0
	for i := range cs {
		if cs[i].Regressed() {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("diff: %d %s crossed a bound: %w", n, plural(n, "scenario"), errFailed)
	}
	return nil
}

func plural(n int, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

// readRecords reads a record file, a records directory, or an output
// directory holding records/.
func readRecords(path string) ([]*reports.Record, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		r, err := reports.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return []*reports.Record{r}, nil
	}
	if sub := filepath.Join(path, reports.RecordsDir); isDir(sub) {
		path = sub
	}
	recs, err := reports.ReadDir(path)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no records in %s", path)
	}
	return recs, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func checkCmd(ctx context.Context, args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	chromium := fs.String("chromium", envOr("REPORTS_CHROMIUM", "chromium"), "Chromium binary (env REPORTS_CHROMIUM)")
	aptEnsure := fs.String("apt-ensure", "scripts/apt-ensure.sh", "script that installs the Debian package chromium when the binary is missing")
	timeout := fs.Duration("timeout", 90*time.Second, "time limit per page")
	all := fs.Bool("all", false, "check every scenario page, not just the first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("check: want the rendered report directory")
	}
	dir := fs.Arg(0)
	if err := ensureChromium(ctx, *chromium, *aptEnsure, log); err != nil {
		return err
	}
	recs, err := reports.ReadDir(filepath.Join(dir, reports.RecordsDir))
	if err != nil {
		return err
	}
	pages := []string{filepath.Join(dir, reports.IndexFile)}
	// The first page in reading order: a failing scenario if there is one,
	// the page someone will open first.
	for i, r := range reports.ByVerdict(recs) {
		if i > 0 && !*all {
			break
		}
		pages = append(pages, filepath.Join(dir, reports.ScenariosDir, reports.Slug(r.Scenario)+".html"))
	}
	// Screenshots of an earlier run would pass for this one's.
	old, _ := filepath.Glob(filepath.Join(dir, "screenshot-*.png"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("check: %w", err)
		}
	}
	failed := 0
	for _, p := range pages {
		shot := filepath.Join(dir, "screenshot-"+strings.TrimSuffix(filepath.Base(p), ".html")+".png")
		res, err := headless.Check(ctx, p, shot, headless.Options{Chromium: *chromium, Timeout: *timeout, Log: log})
		if err != nil {
			return err
		}
		if err := res.Err(); err != nil {
			failed++
			fmt.Fprintf(out, "FAIL %s\n", err)
			continue
		}
		fmt.Fprintf(out, "ok   %s: %d/%d plots rendered, no console messages, nothing fetched; screenshot %s (%dpx high)\n",
			p, res.Rendered, res.Plots, res.Screenshot, res.Height)
	}
	if failed > 0 {
		return fmt.Errorf("check: %d of %d pages failed: %w", failed, len(pages), errFailed)
	}
	return nil
}

// ensureChromium installs the Debian package through the repository's
// apt-ensure script when the binary is not on PATH.
func ensureChromium(ctx context.Context, bin, script string, log *slog.Logger) error {
	if _, err := exec.LookPath(bin); err == nil {
		return nil
	}
	if strings.ContainsRune(bin, '/') {
		return fmt.Errorf("check: chromium binary %s not found", bin)
	}
	log.Info("chromium missing: installing the Debian package", "script", script)
	cmd := exec.CommandContext(ctx, script, bin+":chromium")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("check: install chromium with %s: %w", script, err)
	}
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("check: %s still missing after install: %w", bin, err)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
