// Package headless opens report pages in headless Chromium and proves they
// rendered: every SVG plot laid out with drawn content, nothing was logged to
// the console, no script threw, and nothing was fetched from outside the
// report's own files. It keeps a full-page screenshot of each page.
//
// It drives Chromium over the DevTools protocol with chromedp: the protocol
// reports console levels, exceptions and network requests as events, which
// --dump-dom and stderr logging cannot tell apart, and it takes a screenshot
// of the whole page rather than of a guessed window size.
package headless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Options tune a check; the zero value works.
type Options struct {
	// Chromium is the browser binary (default "chromium").
	Chromium string
	// Timeout bounds one page: start, load, checks and screenshot (default 60s).
	Timeout time.Duration
	// Width is the viewport width in CSS pixels (default 1280).
	Width int
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.Chromium == "" {
		o.Chromium = "chromium"
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Width <= 0 {
		o.Width = 1280
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Result is what a page showed.
type Result struct {
	Page string
	// Plots counts svg.plot elements; Rendered those that laid out with a
	// non-empty box and drawn paths and text.
	Plots, Rendered int
	// PageCheck is the page's own count of rendered plots, written by its
	// load handler (-1 when the handler never ran).
	PageCheck int
	// Console holds console messages, uncaught exceptions and browser log
	// errors, one line each.
	Console []string
	// Fetched lists requests for anything but the report's own files.
	Fetched []string
	// Screenshot is the PNG written, Height the page height it covers.
	Screenshot string
	Height     int
}

// Err says why the page failed the check, or nil.
func (r *Result) Err() error {
	var errs []error
	if r.Plots == 0 {
		errs = append(errs, errors.New("no plots on the page"))
	}
	if r.Rendered != r.Plots {
		errs = append(errs, fmt.Errorf("%d of %d plots rendered", r.Rendered, r.Plots))
	}
	if r.PageCheck != r.Rendered {
		errs = append(errs, fmt.Errorf("page's own check counted %d rendered plots, the browser %d", r.PageCheck, r.Rendered))
	}
	for _, c := range r.Console {
		errs = append(errs, fmt.Errorf("console: %s", c))
	}
	for _, f := range r.Fetched {
		errs = append(errs, fmt.Errorf("fetched %s", f))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", r.Page, err)
	}
	return nil
}

// Check opens page (an HTML file) in a fresh headless Chromium, checks it and
// writes a full-page PNG screenshot to screenshot.
func Check(ctx context.Context, page, screenshot string, opts Options) (*Result, error) {
	opts.defaults()
	abs, err := filepath.Abs(page)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", page, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("check %s: %w", page, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	res := &Result{Page: page, PageCheck: -1}
	pageURL := (&url.URL{Scheme: "file", Path: abs}).String()
	if err := run(ctx, pageURL, screenshot, res, opts); err != nil {
		return nil, fmt.Errorf("check %s: %w", page, err)
	}
	opts.Log.Info("page checked", "page", page, "plots", res.Plots, "rendered", res.Rendered,
		"console", len(res.Console), "fetched", len(res.Fetched), "screenshot", screenshot)
	return res, nil
}

// browserFlags are Chromium's command line. chromedp adds its own profile
// directory, the DevTools pipe and about:blank as the first page.
func browserFlags(opts Options) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(opts.Chromium),
		chromedp.Flag("headless", true),
		// Chromium refuses to run as root (as in a container) with its sandbox.
		chromedp.NoSandbox,
		// /dev/shm is 64 MiB in a default Docker container; Chromium
		// crashes on large pages when it shares memory there.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(opts.Width, 900),
	}
}

// plotCheck counts the plots that laid out, the same way the page's own load
// handler does, and reads the handler's result; it is null until the handler
// has run.
const plotCheck = `(function () {
  var own = document.documentElement.getAttribute("data-plots-rendered");
  if (own === null) return null;
  var plots = document.querySelectorAll("svg.plot"), ok = 0;
  for (var i = 0; i < plots.length; i++) {
    var b = plots[i].getBBox();
    if (b.width > 0 && b.height > 0 && plots[i].querySelectorAll("path,text").length > 10) ok++;
  }
  return {plots: plots.length, rendered: ok, own: parseInt(own, 10)};
})()`

type plotCounts struct{ Plots, Rendered, Own int }

// run starts a fresh Chromium, loads pageURL in it and fills res in.
func run(ctx context.Context, pageURL, screenshot string, res *Result, opts Options) error {
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, browserFlags(opts)...)
	defer cancelAlloc()
	var events recorder
	tab, closeBrowser := chromedp.NewContext(allocCtx,
		chromedp.WithListener(events.record),
		chromedp.WithLogf(func(format string, args ...any) { opts.Log.Debug(fmt.Sprintf(format, args...)) }),
		chromedp.WithErrorf(func(format string, args ...any) { opts.Log.Warn(fmt.Sprintf(format, args...)) }))
	// Closing the first tab ends the browser: chromedp kills it and every
	// helper still using its profile, then removes the profile.
	defer closeBrowser()

	// Navigate waits for the load event.
	if err := chromedp.Do(tab, chromedp.Navigate(pageURL)); err != nil {
		return fmt.Errorf("load %s: %w", pageURL, err)
	}
	// The page's load handler may run just after the load event reaches us:
	// poll for its result until the context's deadline.
	deadline, _ := ctx.Deadline()
	counts, err := chromedp.Run(tab, chromedp.Poll[*plotCounts](plotCheck,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
	if err != nil {
		return fmt.Errorf("waiting for the page's own render check: %w", err)
	}
	res.Plots, res.Rendered, res.PageCheck = counts.Plots, counts.Rendered, counts.Own

	if err := screenshotPage(tab, screenshot, res); err != nil {
		return err
	}
	// The listener sees every event that arrived before a command's answer
	// before the answer itself, so this holds all the page did until the
	// screenshot.
	res.Console, res.Fetched = events.results()
	return nil
}

// recorder notes what the page's events say. chromedp calls record from its
// own goroutine, so the notes are read through results.
type recorder struct {
	mu      sync.Mutex
	console []string
	fetched []string
}

func (r *recorder) record(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		parts := make([]string, 0, len(ev.Args))
		for _, a := range ev.Args {
			parts = append(parts, argText(a))
		}
		// The report pages never log: any message at all is a fault.
		r.console = append(r.console, string(ev.Type)+": "+strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		text, description := "", ""
		if d := ev.ExceptionDetails; d != nil {
			text = d.Text
			if d.Exception != nil {
				description = d.Exception.Description
			}
		}
		r.console = append(r.console, "exception: "+strings.TrimSpace(text+" "+description))
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && (e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning) {
			r.console = append(r.console, fmt.Sprintf("%s (%s): %s %s", e.Level, e.Source, e.Text, e.URL))
		}
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		u := ev.Request.URL
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && u != "about:blank" {
			r.fetched = append(r.fetched, u)
		}
	}
}

// argText is a console argument as the message shows it: its value when it
// has one, else the browser's description of it.
func argText(a *runtime.RemoteObject) string {
	if a == nil {
		return ""
	}
	var v any
	if json.Unmarshal(a.Value, &v) == nil && v != nil {
		return fmt.Sprint(v)
	}
	return a.Description
}

func (r *recorder) results() (console, fetched []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.console...), append([]string(nil), r.fetched...)
}

// screenshotPage captures the whole page, not just the viewport.
func screenshotPage(tab context.Context, path string, res *Result) error {
	m, err := chromedp.Call(tab, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return fmt.Errorf("layout metrics: %w", err)
	}
	var w, h float64
	if m.CSSContentSize != nil {
		w, h = m.CSSContentSize.Width, m.CSSContentSize.Height
	}
	if w <= 0 || h <= 0 {
		return fmt.Errorf("page has no size (%.0fx%.0f)", w, h)
	}
	shot, err := chromedp.Call(tab, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format: page.CaptureScreenshotFormatPng, CaptureBeyondViewport: new(true),
		Clip: &page.Viewport{Width: w, Height: h, Scale: 1},
	})
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, shot.Data, 0o644); err != nil {
		return fmt.Errorf("write screenshot: %w", err)
	}
	res.Screenshot, res.Height = path, int(h)
	return nil
}
