package plugins

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// This file is a small schema engine shaped after Kong's (kong/db/schema): a
// plugin's config is a record of typed fields with defaults and per-field checks.
// It does three jobs from one description, so they cannot drift apart:
// validation with Kong's field messages, default filling (the normalized config the
// Admin API stores and returns) and the JSON served at /schemas/plugins/{name}.

// Kong's validation messages (kong/db/schema/init.lua validation_errors).
const (
	errRequired  = "required field missing"
	errUnknown   = "unknown field"
	errNumber    = "expected a number"
	errInteger   = "expected an integer"
	errString    = "expected a string"
	errBoolean   = "expected a boolean"
	errArray     = "expected an array"
	errRecord    = "expected a record"
	errAtLeast   = "at least one of these fields must be non-empty: %s"
	errCondition = "failed conditional validation given value of field '%s'"
)

// fieldType is one of Kong's schema types.
type fieldType string

const (
	tNumber  fieldType = "number"
	tInteger fieldType = "integer"
	tString  fieldType = "string"
	tBoolean fieldType = "boolean"
	tArray   fieldType = "array"
	tRecord  fieldType = "record"
)

// field describes one schema field. Zero values mean "no such constraint".
type field struct {
	name        string
	typ         fieldType
	description string
	required    bool
	def         any      // default, already in normalized form
	gt          *float64 // value must be greater than
	between     *[2]int  // inclusive integer range
	oneOf       []string
	lenMin      *int
	elements    *field  // array element type
	fields      []field // record fields
	// check runs after the type check on the normalized value and returns Kong's
	// message, or "".
	check func(v any) string
	// extra is copied verbatim into the served schema (e.g. "referenceable").
	extra map[string]any
}

func ptrF(f float64) *float64 { return &f }
func ptrI(i int) *int         { return &i }

// validateRecord checks in against the record fields, fills defaults, and returns
// the normalized record and Kong-shaped field errors (nil when valid). Unset and
// null values become nil or the field's default.
func validateRecord(fields []field, in map[string]any) (map[string]any, map[string]any) {
	out := make(map[string]any, len(fields))
	errs := map[string]any{}
	known := make(map[string]bool, len(fields))
	for i := range fields {
		f := &fields[i]
		known[f.name] = true
		raw, present := in[f.name]
		if !present || raw == nil {
			if f.typ == tRecord {
				// Records always exist in Kong's output, with their own defaults.
				sub := map[string]any{}
				if m, ok := raw.(map[string]any); ok {
					sub = m
				}
				norm, subErrs := validateRecord(f.fields, sub)
				out[f.name] = norm
				if subErrs != nil {
					errs[f.name] = subErrs
				}
				continue
			}
			out[f.name] = cloneValue(f.def)
			if f.required && f.def == nil {
				errs[f.name] = errRequired
			}
			continue
		}
		v, e := normalizeValue(f, raw)
		if e != nil {
			errs[f.name] = e
			continue
		}
		out[f.name] = v
	}
	for k := range in {
		if !known[k] {
			errs[k] = errUnknown
		}
	}
	if len(errs) == 0 {
		return out, nil
	}
	return out, errs
}

// normalizeValue coerces raw to the field's type (accepting the string forms that
// form-encoded Admin API input produces) and runs its checks. The error is a
// string, or a nested map/array for records and arrays.
func normalizeValue(f *field, raw any) (any, any) {
	var v any
	switch f.typ {
	case tNumber:
		n, ok := toFloat(raw)
		if !ok {
			return nil, errNumber
		}
		v = n
	case tInteger:
		n, ok := toFloat(raw)
		if !ok || n != math.Trunc(n) || math.IsInf(n, 0) {
			return nil, errInteger
		}
		v = int(n)
	case tString:
		s, ok := raw.(string)
		if !ok {
			return nil, errString
		}
		v = s
	case tBoolean:
		b, ok := toBool(raw)
		if !ok {
			return nil, errBoolean
		}
		v = b
	case tArray:
		items, ok := toSlice(raw)
		if !ok {
			return nil, errArray
		}
		outItems := make([]any, len(items))
		var itemErrs []any
		for i, it := range items {
			nv, e := normalizeValue(f.elements, it)
			if e != nil {
				if itemErrs == nil {
					itemErrs = make([]any, len(items))
				}
				itemErrs[i] = e
				continue
			}
			outItems[i] = nv
		}
		if itemErrs != nil {
			return nil, itemErrs
		}
		v = outItems
	case tRecord:
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, errRecord
		}
		norm, errs := validateRecord(f.fields, m)
		if errs != nil {
			return nil, errs
		}
		return norm, nil
	}
	if msg := checkConstraints(f, v); msg != "" {
		return nil, msg
	}
	return v, nil
}

func checkConstraints(f *field, v any) string {
	if f.gt != nil {
		if n, _ := toFloat(v); n <= *f.gt {
			return "value must be greater than " + formatNumber(*f.gt)
		}
	}
	if f.between != nil {
		if n, _ := toFloat(v); n < float64(f.between[0]) || n > float64(f.between[1]) {
			return fmt.Sprintf("value should be between %d and %d", f.between[0], f.between[1])
		}
	}
	if len(f.oneOf) > 0 {
		s, _ := v.(string)
		found := false
		for _, o := range f.oneOf {
			if s == o {
				found = true
				break
			}
		}
		if !found {
			return "expected one of: " + strings.Join(f.oneOf, ", ")
		}
	}
	if f.lenMin != nil {
		if s, ok := v.(string); ok && len(s) < *f.lenMin {
			return fmt.Sprintf("length must be at least %d", *f.lenMin)
		}
	}
	if f.check != nil {
		return f.check(v)
	}
	return ""
}

// formatNumber prints a schema bound the way Lua's tostring does (0, 0.5).
func formatNumber(n float64) string {
	return strconv.FormatFloat(n, 'f', -1, 64)
}

func toFloat(raw any) (float64, bool) {
	switch x := raw.(type) {
	case float64:
		// Non-finite values (YAML's .inf, .nan) have no JSON form to store.
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return toFloat(float64(x))
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func toBool(raw any) (bool, bool) {
	switch x := raw.(type) {
	case bool:
		return x, true
	case string:
		switch x {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// toSlice accepts JSON arrays, Go string slices and a single scalar (form input
// `key_names=apikey` is a one-element array in Kong).
func toSlice(raw any) ([]any, bool) {
	switch x := raw.(type) {
	case []any:
		return x, true
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	case string:
		return []any{x}, true
	}
	return nil, false
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		copy(out, x)
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneValue(e)
		}
		return out
	}
	return v
}

// schemaJSON renders fields the way Kong's /schemas endpoints do: an array of
// single-key objects, in declaration order.
func schemaJSON(fields []field) []any {
	out := make([]any, 0, len(fields))
	for i := range fields {
		out = append(out, map[string]any{fields[i].name: fieldJSON(&fields[i])})
	}
	return out
}

func fieldJSON(f *field) map[string]any {
	m := map[string]any{"type": string(f.typ)}
	if f.description != "" {
		m["description"] = f.description
	}
	if f.required || f.typ == tRecord {
		m["required"] = true
	}
	if f.def != nil {
		m["default"] = cloneValue(f.def)
	}
	if f.gt != nil {
		m["gt"] = *f.gt
	}
	if f.between != nil {
		m["between"] = []int{f.between[0], f.between[1]}
	}
	if len(f.oneOf) > 0 {
		m["one_of"] = append([]string(nil), f.oneOf...)
	}
	if f.lenMin != nil {
		m["len_min"] = *f.lenMin
	}
	if f.elements != nil {
		m["elements"] = fieldJSON(f.elements)
	}
	if f.typ == tRecord {
		m["fields"] = schemaJSON(f.fields)
	}
	for k, v := range f.extra {
		m[k] = v
	}
	return m
}

// Kong's typedefs used by the bundled plugins.

var headerNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkHeaderName is typedefs.header_name's validator.
func checkHeaderName(v any) string {
	s, _ := v.(string)
	if !headerNameRE.MatchString(s) {
		return fmt.Sprintf("bad header name '%s', allowed characters are A-Z, a-z, 0-9, '_', and '-'", s)
	}
	return ""
}

// checkPath is the prefix part of typedefs.path.
func checkPath(v any) string {
	s, _ := v.(string)
	if !strings.HasPrefix(s, "/") {
		return "should start with: /"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	return ""
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$|^\[?[0-9A-Fa-f:.]+\]?$`)

// checkHost is typedefs.host: a hostname or an IP address, no port.
func checkHost(v any) string {
	s, _ := v.(string)
	if s == "" || !hostnameRE.MatchString(s) {
		return "invalid value: " + s
	}
	return ""
}

func headerNameField(name, description string) field {
	return field{name: name, typ: tString, description: description, check: checkHeaderName}
}
