package config

import (
	"fmt"
	"unicode/utf8"
)

// Input limits shared by every decoder of configuration: the Admin API's
// JSON, form and multipart bodies and declarative YAML or JSON. Each decoder
// checks them while it reads, before anything recursive (deepCopy,
// normalizeValue, coercion, jsonShape) sees the value, so every recursive
// helper in this package runs at most MaxNesting frames deep and touches at
// most MaxValues values.
const (
	// MaxNesting is how deeply objects and arrays may nest, counting the
	// document itself as level 1; a form key "a.b[c]" is 3 levels. Kong's
	// deepest entity field (an upstream's healthchecks.active.healthy.
	// http_statuses) is 5 levels, a declarative file adds 2 (table, list) per
	// level of entity nesting (services → routes → plugins: 6) and plugin
	// configs rarely go past 5 more: 32 is twice the deepest real document.
	// Kong itself has only lua-cjson's decode_max_depth, 1000.
	MaxNesting = 32
	// MaxEntityValues bounds the values (scalars, objects, arrays) in one
	// entity write. Kong bounds form bodies to 1000 arguments (MaxFormArgs)
	// and JSON only by the 10 MiB body; 100,000 is 100 times a form's worth,
	// far above any real entity (Kong's largest lists, tags and paths, are
	// tens long), and keeps one write's decoded size to tens of MB.
	MaxEntityValues = 100_000
	// MaxDeclarativeValues bounds the values in one declarative document after
	// YAML aliases are expanded: a 10 MiB kong.yml of real entities has well
	// under a million (about 25 bytes a value); a "billion laughs" document
	// expands past it within a few kilobytes and is refused there.
	MaxDeclarativeValues = 1_000_000
	// MaxFormArgs bounds the key=value pairs of a form body and the parts of
	// a multipart body: Kong's Admin API reads at most 1000 (kong/api/
	// arguments.lua max_post_args) and answers 400 "Too many arguments".
	MaxFormArgs = 1000
)

// LimitError is input that breaks one of the limits above. The Admin API
// answers it with 400 and {"message": ...}; the declarative loader puts it
// in Kong's code 14 error.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// ErrTooDeep is the LimitError for input nested past MaxNesting.
var ErrTooDeep = &LimitError{fmt.Sprintf("nesting deeper than %d levels", MaxNesting)}

// TooManyValues is the LimitError for input with more than limit values.
func TooManyValues(limit int) *LimitError {
	return &LimitError{fmt.Sprintf("more than %d values", limit)}
}

// ScanJSON checks JSON text against the nesting and value limits without
// decoding it: one pass over the bytes, no recursion, so it is safe on any
// input and cheap next to the decode it protects (encoding/json itself only
// stops at 10,000 levels and never counts values). Malformed JSON passes
// (the decoder reports it); strings are skipped, so brackets inside them do
// not count.
func ScanJSON(data []byte, maxValues int) error {
	depth, values := 0, 1 // the document is one value
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > MaxNesting {
				return ErrTooDeep
			}
			values++
		case ']', '}':
			depth--
		case ',':
			values++
		default:
			continue
		}
		// Every value but the first follows a comma or opens a container, so
		// commas + containers + 1 is at least the number of values.
		if values > maxValues {
			return TooManyValues(maxValues)
		}
	}
	return nil
}

// invalidUTF8At returns the 1-based byte position of the first invalid UTF-8
// sequence in s, 0 when s is valid UTF-8: the position Kong reports.
func invalidUTF8At(s string) int {
	if utf8.ValidString(s) {
		return 0
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return i + 1
		}
		i += size
	}
	return 0
}

// invalidUTF8Msg is Kong's message for an invalid UTF-8 string
// (kong/db/schema/typedefs.lua validate_utf8_string), "" when s is valid.
func invalidUTF8Msg(s string) string {
	if at := invalidUTF8At(s); at > 0 {
		return fmt.Sprintf("invalid utf-8 character sequence detected at position %d", at)
	}
	return ""
}
