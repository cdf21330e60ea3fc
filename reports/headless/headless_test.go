package headless

import (
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/reports"
)

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		// A failure, not a skip: `make test` installs chromium, and a browser
		// check that silently did not run would read as passed.
		t.Fatal("chromium not installed: install the Debian package chromium (make test does)")
	}
}

func TestCheckRenderedReport(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	recs, err := reports.ReadDir("../testdata/records")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := r.WriteFile(filepath.Join(dir, reports.RecordsDir)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := reports.Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		page  string
		plots int
	}{{out.Index, len(recs)}, {out.Pages[0], 5}} {
		shot := filepath.Join(dir, filepath.Base(tt.page)+".png")
		res, err := Check(context.Background(), tt.page, shot, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Err(); err != nil {
			t.Errorf("clean page failed the check: %v", err)
		}
		if res.Plots != tt.plots || res.Rendered != tt.plots || res.PageCheck != tt.plots {
			t.Errorf("%s: plots %d rendered %d page check %d, want %d each", tt.page, res.Plots, res.Rendered, res.PageCheck, tt.plots)
		}
		f, err := os.Open(shot)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		// The whole page, not a window: taller than any viewport we set.
		if cfg.Width != 1280 || cfg.Height != res.Height || res.Height < 1200 {
			t.Errorf("screenshot %dx%d, page height %d", cfg.Width, cfg.Height, res.Height)
		}
	}
}

func TestCheckCatchesBrokenPage(t *testing.T) {
	needChromium(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	page := filepath.Join(t.TempDir(), "broken.html")
	html := `<!DOCTYPE html><html><head><script>
console.error("boom");
window.addEventListener("load", function () {
  document.documentElement.setAttribute("data-plots-rendered", "0");
  notDefined();
});
</script></head><body>
<svg class="plot" viewBox="0 0 10 10"></svg>
<img src="` + srv.URL + `/logo.png">
</body></html>`
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Check(context.Background(), page, filepath.Join(t.TempDir(), "shot.png"), Options{Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Plots != 1 || res.Rendered != 0 {
		t.Errorf("plots %d rendered %d, want 1 and 0", res.Plots, res.Rendered)
	}
	joined := strings.Join(res.Console, "\n")
	for _, want := range []string{"error: boom", "notDefined"} {
		if !strings.Contains(joined, want) {
			t.Errorf("console %q lacks %q", res.Console, want)
		}
	}
	if len(res.Fetched) != 1 || !strings.HasPrefix(res.Fetched[0], srv.URL) || hits.Load() != 1 {
		t.Errorf("fetched %q (server saw %d requests), want the one image", res.Fetched, hits.Load())
	}
	if res.Err() == nil {
		t.Error("broken page passed the check")
	}
}

// A soak's page draws four more plots from its resource samples; the browser
// must lay them out like the rest.
func TestCheckSoakPage(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	r, err := reports.ReadFile("../testdata/records/failover-kill-one-of-two-targets.json")
	if err != nil {
		t.Fatal(err)
	}
	r.Scenario = "soak"
	r.Resources = &reports.Resources{Every: time.Second, WarmUp: 6 * time.Second}
	for i := range 31 {
		r.Resources.Samples = append(r.Resources.Samples, reports.ResourceSample{
			Offset: time.Duration(i) * time.Second, RSSBytes: float64(40<<20 + i<<18), HeapBytes: float64(12<<20 + (i%4)<<20),
			Goroutines: float64(20 + i%7), OpenFDs: float64(12 + i%5), Requests: 200,
			P50: time.Duration(1000+37*i) * time.Microsecond, P99: time.Duration(5000+410*(i%9)) * time.Microsecond,
		})
	}
	if err := r.WriteFile(filepath.Join(dir, reports.RecordsDir)); err != nil {
		t.Fatal(err)
	}
	out, err := reports.Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(context.Background(), out.Pages[0], filepath.Join(dir, "soak.png"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Errorf("soak page failed the check: %v", err)
	}
	if res.Plots != 9 || res.Rendered != 9 || res.PageCheck != 9 {
		t.Errorf("soak page: plots %d rendered %d page check %d, want 9 each", res.Plots, res.Rendered, res.PageCheck)
	}
}
