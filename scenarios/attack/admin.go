package attack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// Write is one hostile Admin API write.
type Write struct {
	Name        string
	Method      string
	Path        string
	ContentType string
	Body        []byte
	// MayAccept marks a write Kong itself accepts (its schema has no bound
	// for it), so 2xx is a correct answer as long as it is fast.
	MayAccept bool
	// Message is what the refusal's Kong message must contain. A 400 alone
	// proves little: a write past a missing bound is still refused, for
	// its unknown field, so only the message shows which rule refused it.
	Message string
}

// WriteResult is how the Admin API answered one hostile write.
type WriteResult struct {
	Write  string
	Status int // 0: no answer (see Err)
	Took   time.Duration
	Body   string // first 512 bytes of the answer
	Err    string
}

// KongError reports whether the answer is in Kong's error shape: a JSON
// object with a non-empty "message" string.
func (r WriteResult) KongError() bool {
	return r.Message() != ""
}

// Message is the "message" of a Kong-shaped answer, "" for any other body.
func (r WriteResult) Message() string {
	var v struct {
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(r.Body), &v) != nil {
		return ""
	}
	return v.Message
}

// Sizes of the hostile writes.
const (
	OversizedBytes = 11 << 20  // above the Admin API's 10 MiB body bound
	NestingDepth   = 100_000   // JSON objects inside each other
	DottedSegments = 2_000_000 // a.a.a…: ~4 MB of form key, one level per segment
	MultipartDots  = 1_000_000 // the same in a multipart field name (~2 MB)
	ManyTags       = 40_000    // tags on one entity (Kong's set: quadratic when done naively)
)

// HostileWrites is the catalogue of hostile Admin writes, each aimed at
// POST /services (the collection every Kong client writes first).
func HostileWrites() []Write {
	jsonWrite := func(name string, body []byte) Write {
		return Write{Name: name, Method: http.MethodPost, Path: "/services", ContentType: "application/json", Body: body}
	}
	var ws []Write

	big := bytes.NewBufferString(`{"name":"oversized","host":"example.test","tags":["`)
	big.WriteString(strings.Repeat("x", OversizedBytes))
	big.WriteString(`"]}`)
	ws = append(ws, jsonWrite(fmt.Sprintf("oversized JSON body (%d MiB)", OversizedBytes>>20), big.Bytes()))

	// nested is a service whose unknown field "extra" holds inner objects
	// inside each other; with the body's own object that is inner+1 levels.
	nested := func(inner int) []byte {
		b := bytes.NewBufferString(`{"name":"nested","host":"example.test","extra":`)
		b.WriteString(strings.Repeat(`{"a":`, inner))
		b.WriteString("1")
		b.WriteString(strings.Repeat("}", inner))
		b.WriteString("}")
		return b.Bytes()
	}
	w := jsonWrite(fmt.Sprintf("JSON nested %d deep", NestingDepth), nested(NestingDepth))
	w.Message = tooDeep
	ws = append(ws, w)

	form := func(segments int) []byte {
		return []byte("name=dotted&host=example.test&a" + strings.Repeat(".a", segments-1) + "=1")
	}
	ws = append(ws, Write{
		Name:   fmt.Sprintf("form key of %d dotted segments (%d MB)", DottedSegments, 2*DottedSegments>>20),
		Method: http.MethodPost, Path: "/services", ContentType: "application/x-www-form-urlencoded",
		Body: form(DottedSegments), Message: tooDeep,
	})

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("name", "multipart-dotted")
	_ = mw.WriteField("host", "example.test")
	_ = mw.WriteField("a"+strings.Repeat(".a", MultipartDots-1), "1")
	_ = mw.Close()
	ws = append(ws, Write{
		Name:   fmt.Sprintf("multipart field name of %d dotted segments", MultipartDots),
		Method: http.MethodPost, Path: "/services", ContentType: mw.FormDataContentType(), Body: mp.Bytes(),
		Message: tooDeep,
	})

	tags := make([]string, ManyTags)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	// No name: every send creates a new service, so a repeat is not a 409.
	tb, _ := json.Marshal(map[string]any{"host": "example.test", "tags": tags})
	w = jsonWrite(fmt.Sprintf("service with %d tags", ManyTags), tb)
	w.MayAccept = true // Kong's tags are a set with no length bound
	ws = append(ws, w)

	// The bound's edge: a bound set too high lets one level more through
	// to a schema error, one set too low refuses a legal depth.
	over := jsonWrite(fmt.Sprintf("JSON nested %d levels (one over the bound)", config.MaxNesting+1), nested(config.MaxNesting))
	over.Message = tooDeep
	at := jsonWrite(fmt.Sprintf("JSON nested %d levels (at the bound)", config.MaxNesting), nested(config.MaxNesting-1))
	at.Message = "extra: unknown field" // decoded, then refused by the schema
	ws = append(ws, over, at, Write{
		Name:   fmt.Sprintf("form key of %d dotted segments (one over the bound)", config.MaxNesting+1),
		Method: http.MethodPost, Path: "/services", ContentType: "application/x-www-form-urlencoded",
		Body: form(config.MaxNesting + 1), Message: tooDeep,
	})
	return ws
}

// tooDeep is the message of the Admin decoders' nesting bound.
var tooDeep = config.ErrTooDeep.Error()

// Send sends one write to the Admin API at base and records the answer.
func Send(ctx context.Context, hc *http.Client, base string, w Write) WriteResult {
	r := WriteResult{Write: w.Name}
	req, err := http.NewRequestWithContext(ctx, w.Method, strings.TrimSuffix(base, "/")+w.Path, bytes.NewReader(w.Body))
	if err != nil {
		r.Err = err.Error()
		return r
	}
	req.Header.Set("Content-Type", w.ContentType)
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		r.Took, r.Err = time.Since(start), err.Error()
		return r
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	r.Took, r.Status, r.Body = time.Since(start), resp.StatusCode, string(b)
	return r
}
