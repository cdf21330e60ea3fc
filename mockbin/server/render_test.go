package server

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestNegotiate(t *testing.T) {
	cases := []struct {
		accept string
		want   format
		mime   string
	}{
		{"", fmtJSON, "application/json"},
		{"*/*", fmtJSON, "application/json"},
		{"application/json", fmtJSON, "application/json"},
		{"text/json", fmtJSON, "text/json"},
		{"text/yaml", fmtYAML, "text/yaml"},
		{"application/x-yaml", fmtYAML, "application/x-yaml"},
		{"text/plain", fmtYAML, "text/plain"},
		{"application/xml", fmtXML, "application/xml"},
		{"text/xml", fmtXML, "text/xml"},
		{"text/html", fmtHTML, "text/html"},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", fmtHTML, "text/html"},
		{"application/xml;q=0.5, text/yaml", fmtYAML, "text/yaml"},
		{"text/yaml;q=0.1, application/xml;q=0.2", fmtXML, "application/xml"},
		{"image/png", fmtJSON, "application/json"},
		{"text/*", fmtJSON, "text/json"},
		{"application/json;q=0, text/plain", fmtYAML, "text/plain"},
		{"TEXT/HTML", fmtHTML, "text/html"},
		{"garbage", fmtJSON, "application/json"},
	}
	for _, tc := range cases {
		f, mime := negotiate(tc.accept)
		if f != tc.want || mime != tc.mime+"; charset=utf-8" {
			t.Errorf("negotiate(%q) = %v %q, want %v %q", tc.accept, f, mime, tc.want, tc.mime)
		}
	}
}

// tricky are strings that a naive YAML or XML writer gets wrong.
var tricky = []string{
	"", "yes", "No", "null", "~", "123", "1e3", "0x1F", "-", "- item", ": x", "a: b", "#comment", "a #b",
	"quote\"d", "single'q", "back\\slash", "new\nline", "tab\there", " lead", "trail ", "[list]", "{obj}",
	"*ref", "&anchor", "!tag", "%pct", "@at", "`tick`", "ünïcödé", "emoji 🚀", "<tag>&amp;", "\x01ctl",
}

// TestFormatsAgree: for every answer the YAML and JSON encodings decode to
// the same data, and the XML is well formed with the values in it.
func TestFormatsAgree(t *testing.T) {
	s := newTest()
	q := url.Values{}
	for i, v := range tricky {
		q.Add("k"+string(rune('a'+i%26))+strings.Repeat("x", i/26), v)
	}
	q.Add("1starts-with-digit", "v")
	q.Add("has space", "v")
	q.Add("xmlish", "v")
	targets := []string{"/request?" + q.Encode(), "/har?" + q.Encode(), "/headers", "/cookies", "/", "/status/404/not+here", "/forwarded"}
	for _, target := range targets {
		t.Run(target[:min(len(target), 20)], func(t *testing.T) {
			rs := reqSpec{target: target, hdr: map[string]string{"Cookie": "a=1; b=two", "X-Odd": "yes: no"}}
			jsonRec := record(s, rs)
			var fromJSON any
			if err := json.Unmarshal([]byte(jsonRec.body), &fromJSON); err != nil {
				t.Fatalf("json: %v", err)
			}

			rs.hdr["Accept"] = "text/yaml"
			yamlRec := record(s, rs)
			if yamlRec.header.Get("Content-Type") != "text/yaml; charset=utf-8" {
				t.Fatalf("yaml content type %q", yamlRec.header.Get("Content-Type"))
			}
			var fromYAML any
			if str, ok := fromJSON.(string); ok {
				fromYAML = yamlRec.body // bare strings are sent as-is
				if fromYAML != str {
					t.Errorf("yaml string %q, want %q", yamlRec.body, str)
				}
			} else {
				if err := yaml.Unmarshal([]byte(yamlRec.body), &fromYAML); err != nil {
					t.Fatalf("yaml: %v\n%s", err, yamlRec.body)
				}
				// Round-trip through JSON so number types match.
				b, err := json.Marshal(fromYAML)
				if err != nil {
					t.Fatalf("re-marshal yaml value: %v", err)
				}
				fromYAML = nil
				_ = json.Unmarshal(b, &fromYAML)
				// The Accept header (and so the head's size) differs between
				// the two requests; everything else must be equal.
				if !reflect.DeepEqual(withoutAccept(fromYAML), withoutAccept(fromJSON)) {
					t.Errorf("yaml and json disagree\nyaml: %#v\njson: %#v\n%s", fromYAML, fromJSON, yamlRec.body)
				}
			}

			rs.hdr["Accept"] = "application/xml"
			xmlRec := record(s, rs)
			dec := xml.NewDecoder(strings.NewReader(xmlRec.body))
			var text strings.Builder
			depth, roots := 0, 0
			for {
				tok, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("xml not well formed: %v\n%s", err, xmlRec.body)
				}
				switch tk := tok.(type) {
				case xml.StartElement:
					if depth == 0 {
						roots++
						if tk.Name.Local != "response" {
							t.Errorf("root element %q", tk.Name.Local)
						}
					}
					depth++
				case xml.EndElement:
					depth--
				case xml.CharData:
					text.Write(tk)
				}
			}
			if roots != 1 {
				t.Errorf("%d root elements", roots)
			}
			if strings.HasPrefix(target, "/request") && !strings.Contains(text.String(), "<tag>&amp;") {
				t.Errorf("xml lost an escaped value")
			}

			rs.hdr["Accept"] = "text/html"
			htmlRec := record(s, rs)
			if !strings.HasPrefix(htmlRec.body, "<!DOCTYPE html>") || strings.Contains(htmlRec.body, "<tag>") {
				t.Errorf("html not a page or not escaped: %.200s", htmlRec.body)
			}
		})
	}
}

func TestJSONStringEscapes(t *testing.T) {
	for _, s := range append(tricky, "\u2028", "bad\xffutf8", "\x00") {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q encoded as invalid JSON %s: %v", s, b, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("%q round-tripped to %q", s, back)
		}
	}
}

// withoutAccept drops the accept header and headersSize from a decoded
// answer, wherever they appear.
func withoutAccept(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			if k == "accept" || k == "headersSize" {
				continue
			}
			out[k] = withoutAccept(e)
		}
		return out
	case []any:
		out := []any{}
		for _, e := range t {
			if m, ok := e.(map[string]any); ok && m["name"] == "accept" {
				continue
			}
			out = append(out, withoutAccept(e))
		}
		return out
	}
	return v
}
