// Package headless opens report pages in headless Chromium and proves they
// rendered: every SVG plot laid out with drawn content, nothing was logged to
// the console, no script threw, and nothing was fetched from outside the
// report's own files. It keeps a full-page screenshot of each page.
//
// It drives Chromium over the DevTools protocol (a WebSocket on 127.0.0.1)
// with golang.org/x/net/websocket, already a dependency of the module: the
// protocol reports console levels, exceptions and network requests as
// events, which --dump-dom and stderr logging cannot tell apart, and it takes
// a screenshot of the whole page rather than of a guessed window size.
package headless

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/websocket"
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

	b, err := launch(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", page, err)
	}
	defer b.close()

	res := &Result{Page: page, PageCheck: -1}
	pageURL := (&url.URL{Scheme: "file", Path: abs}).String()
	if err := b.run(ctx, pageURL, screenshot, res); err != nil {
		return nil, fmt.Errorf("check %s: %w", page, err)
	}
	opts.Log.Info("page checked", "page", page, "plots", res.Plots, "rendered", res.Rendered,
		"console", len(res.Console), "fetched", len(res.Fetched), "screenshot", screenshot)
	return res, nil
}

// browser is one Chromium process and the DevTools connection to its page.
type browser struct {
	cmd     *exec.Cmd
	dataDir string
	ws      *websocket.Conn
	log     *slog.Logger

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMessage
	events  chan cdpMessage
	done    chan struct{}
}

type cdpMessage struct {
	ID     int             `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

var listening = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

func launch(ctx context.Context, opts Options) (*browser, error) {
	dir, err := os.MkdirTemp("", "gauntlet-chromium-")
	if err != nil {
		return nil, fmt.Errorf("user data dir: %w", err)
	}
	b := &browser{dataDir: dir, log: opts.Log, pending: map[int]chan cdpMessage{},
		events: make(chan cdpMessage, 1024), done: make(chan struct{})}
	cmd := exec.Command(opts.Chromium,
		"--headless", "--no-sandbox", "--user-data-dir="+dir,
		// /dev/shm is 64 MiB in a default Docker container; Chromium
		// crashes on large pages when it shares memory there.
		"--disable-dev-shm-usage",
		"--disable-gpu", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
		"--disable-extensions", "--disable-background-networking", "--disable-sync",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--remote-allow-origins=http://127.0.0.1",
		fmt.Sprintf("--window-size=%d,900", opts.Width),
		"about:blank")
	// Its own process group, so closing it also ends the renderer and GPU
	// helpers it forked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", opts.Chromium, err)
	}
	b.cmd = cmd

	wsURL := make(chan string, 1)
	go func() {
		// Keep draining stderr for the life of the process, or Chromium
		// blocks on a full pipe.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil && !sent {
				wsURL <- m[1]
				sent = true
			}
		}
		if !sent {
			close(wsURL)
		}
	}()
	var browserURL string
	select {
	case u, ok := <-wsURL:
		if !ok {
			b.close()
			return nil, fmt.Errorf("%s exited before opening DevTools", opts.Chromium)
		}
		browserURL = u
	case <-ctx.Done():
		b.close()
		return nil, fmt.Errorf("waiting for DevTools: %w", ctx.Err())
	}
	pageWS, err := pageTarget(ctx, browserURL)
	if err != nil {
		b.close()
		return nil, err
	}
	cfg, err := websocket.NewConfig(pageWS, "http://127.0.0.1")
	if err != nil {
		b.close()
		return nil, err
	}
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		b.close()
		return nil, fmt.Errorf("connect DevTools %s: %w", pageWS, err)
	}
	b.ws = ws
	go b.readLoop()
	return b, nil
}

// pageTarget finds the WebSocket of the about:blank page through the
// DevTools HTTP endpoint, polling until the page is listed.
func pageTarget(ctx context.Context, browserURL string) (string, error) {
	u, err := url.Parse(browserURL)
	if err != nil {
		return "", fmt.Errorf("DevTools address %q: %w", browserURL, err)
	}
	list := "http://" + u.Host + "/json/list"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, list, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var targets []struct {
				Type string `json:"type"`
				WS   string `json:"webSocketDebuggerUrl"`
			}
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, t := range targets {
				if t.Type == "page" && t.WS != "" {
					return t.WS, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no page target at %s: %w (last error: %v)", list, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond): // poll interval, not a synchronisation
		}
	}
}

func (b *browser) readLoop() {
	defer close(b.done)
	for {
		var m cdpMessage
		if err := websocket.JSON.Receive(b.ws, &m); err != nil {
			return
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default:
			b.log.Warn("DevTools event dropped: queue full", "method", m.Method)
		}
	}
}

// call sends one DevTools command and waits for its answer.
func (b *browser) call(ctx context.Context, method string, params any, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if err := websocket.JSON.Send(b.ws, msg); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				return fmt.Errorf("%s: decode result: %w", method, err)
			}
		}
		return nil
	case <-b.done:
		return fmt.Errorf("%s: DevTools connection closed", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// plotCheck counts the plots that laid out, the same way the page's own load
// handler does, and reads the handler's result.
const plotCheck = `(function () {
  var plots = document.querySelectorAll("svg.plot"), ok = 0;
  for (var i = 0; i < plots.length; i++) {
    var b = plots[i].getBBox();
    if (b.width > 0 && b.height > 0 && plots[i].querySelectorAll("path,text").length > 10) ok++;
  }
  var own = document.documentElement.getAttribute("data-plots-rendered");
  return {plots: plots.length, rendered: ok, own: own === null ? -1 : parseInt(own, 10)};
})()`

func (b *browser) run(ctx context.Context, pageURL, screenshot string, res *Result) error {
	for _, domain := range []string{"Page", "Runtime", "Log", "Network"} {
		if err := b.call(ctx, domain+".enable", nil, nil); err != nil {
			return err
		}
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, "Page.navigate", map[string]any{"url": pageURL}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigate: %s", nav.ErrorText)
	}
	loaded := false
	for !loaded {
		select {
		case ev := <-b.events:
			loaded = b.record(ev, res)
		case <-ctx.Done():
			return fmt.Errorf("waiting for the load event: %w", ctx.Err())
		}
	}
	// The page's load handler may run just after the load event reaches us:
	// poll its result with the context's deadline.
	var counts struct{ Plots, Rendered, Own int }
	for {
		var ev struct {
			Result struct {
				Value json.RawMessage `json:"value"`
			} `json:"result"`
			ExceptionDetails *struct {
				Text string `json:"text"`
			} `json:"exceptionDetails"`
		}
		err := b.call(ctx, "Runtime.evaluate", map[string]any{"expression": plotCheck, "returnByValue": true}, &ev)
		if err != nil {
			return err
		}
		if ev.ExceptionDetails != nil {
			return fmt.Errorf("plot check threw: %s", ev.ExceptionDetails.Text)
		}
		if err := json.Unmarshal(ev.Result.Value, &counts); err != nil {
			return fmt.Errorf("plot check result %s: %w", ev.Result.Value, err)
		}
		if counts.Own >= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the page's own render check never ran: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond): // poll interval, not a synchronisation
		}
	}
	res.Plots, res.Rendered, res.PageCheck = counts.Plots, counts.Rendered, counts.Own

	if err := b.screenshot(ctx, screenshot, res); err != nil {
		return err
	}
	// Collect what arrived while checking and shooting.
	for {
		select {
		case ev := <-b.events:
			b.record(ev, res)
		default:
			return nil
		}
	}
}

// record notes what an event says about the page; it reports whether the
// event is the page's load event.
func (b *browser) record(ev cdpMessage, res *Result) bool {
	switch ev.Method {
	case "Page.loadEventFired":
		return true
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		if json.Unmarshal(ev.Params, &p) == nil {
			var parts []string
			for _, a := range p.Args {
				if a.Value != nil {
					parts = append(parts, fmt.Sprint(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			// The report pages never log: any message at all is a fault.
			res.Console = append(res.Console, p.Type+": "+strings.Join(parts, " "))
		}
	case "Runtime.exceptionThrown":
		var p struct {
			Details struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		if json.Unmarshal(ev.Params, &p) == nil {
			res.Console = append(res.Console, "exception: "+strings.TrimSpace(p.Details.Text+" "+p.Details.Exception.Description))
		}
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Level, Source, Text, URL string
			} `json:"entry"`
		}
		if json.Unmarshal(ev.Params, &p) == nil && (p.Entry.Level == "error" || p.Entry.Level == "warning") {
			res.Console = append(res.Console, fmt.Sprintf("%s (%s): %s %s", p.Entry.Level, p.Entry.Source, p.Entry.Text, p.Entry.URL))
		}
	case "Network.requestWillBeSent":
		var p struct {
			Request struct{ URL string } `json:"request"`
		}
		if json.Unmarshal(ev.Params, &p) == nil {
			u := p.Request.URL
			if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") && u != "about:blank" {
				res.Fetched = append(res.Fetched, u)
			}
		}
	}
	return false
}

// screenshot captures the whole page, not just the viewport.
func (b *browser) screenshot(ctx context.Context, path string, res *Result) error {
	var m struct {
		CSSContentSize struct {
			Width, Height float64
		} `json:"cssContentSize"`
	}
	if err := b.call(ctx, "Page.getLayoutMetrics", nil, &m); err != nil {
		return err
	}
	w, h := m.CSSContentSize.Width, m.CSSContentSize.Height
	if w <= 0 || h <= 0 {
		return fmt.Errorf("page has no size (%.0fx%.0f)", w, h)
	}
	var shot struct {
		Data string `json:"data"`
	}
	err := b.call(ctx, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": w, "height": h, "scale": 1},
	}, &shot)
	if err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return fmt.Errorf("decode screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("write screenshot: %w", err)
	}
	res.Screenshot, res.Height = path, int(h)
	return nil
}

// close ends the browser: politely over DevTools, then by killing its
// process group if it lingers, and removes its profile directory.
func (b *browser) close() {
	if b.ws != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = b.call(ctx, "Browser.close", nil, nil)
		cancel()
		b.ws.Close()
	}
	if b.cmd != nil && b.cmd.Process != nil {
		exited := make(chan struct{})
		go func() {
			_ = b.cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		// Helpers may outlive the browser by a moment; end the group we made.
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	}
	if err := os.RemoveAll(b.dataDir); err != nil {
		b.log.Warn("remove Chromium profile", "dir", b.dataDir, "err", err)
	}
}
