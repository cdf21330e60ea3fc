package config

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Kong's error codes (kong/db/errors.lua).
const (
	CodeSchemaViolation       = 2
	CodeForeignKeyViolation   = 4
	CodeUniqueViolation       = 5
	CodeNotFound              = 6
	CodeInvalidOffset         = 7
	CodeInvalidSize           = 9
	CodeOperationUnsupported  = 12
	CodeDeclarativeConfig     = 14
	CodeForeignKeysUnresolved = 13
	// CodeDatabaseError is a database the gateway could not use (Kong answers 500; the
	// postgres store answers 503, since the node is fine and a retry may succeed).
	CodeDatabaseError = 8
)

var codeNames = map[int]string{
	CodeSchemaViolation:       "schema violation",
	CodeForeignKeyViolation:   "foreign key violation",
	CodeUniqueViolation:       "unique constraint violation",
	CodeNotFound:              "not found",
	CodeInvalidOffset:         "invalid offset",
	CodeInvalidSize:           "invalid size",
	CodeOperationUnsupported:  "operation unsupported",
	CodeDeclarativeConfig:     "invalid declarative configuration",
	CodeForeignKeysUnresolved: "foreign keys unresolved",
	CodeDatabaseError:         "database error",
}

// Error is a Kong DAO error; its JSON is the Admin API's error body.
type Error struct {
	Code    int            `json:"code"`
	Name    string         `json:"name"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"fields,omitempty"`
	// Status is the HTTP status the Admin API answers with.
	Status int `json:"-"`
}

func (e *Error) Error() string { return e.Message }

// MarshalJSON always includes "fields" for the codes where Kong always sends it.
func (e *Error) MarshalJSON() ([]byte, error) {
	type plain Error
	if e.Fields == nil && (e.Code == CodeSchemaViolation || e.Code == CodeDeclarativeConfig) {
		c := *e
		c.Fields = map[string]any{}
		return json.Marshal((*plain)(&c))
	}
	return json.Marshal((*plain)(e))
}

// SchemaViolation renders Kong's code 2 error from nested field errors.
func SchemaViolation(fields map[string]any) *Error {
	var buf []string
	if ent, ok := fields["@entity"].([]any); ok {
		for _, m := range ent {
			buf = append(buf, fmt.Sprint(m))
		}
	}
	for _, k := range sortedKeys(fields) {
		if k == "@entity" {
			continue
		}
		switch v := fields[k].(type) {
		case map[string]any:
			for _, sk := range sortedKeys(v) {
				buf = append(buf, fmt.Sprintf("%s.%s: %s", k, sk, msgValue(v[sk])))
			}
		case []any:
			for i, e := range v {
				if e != nil {
					buf = append(buf, fmt.Sprintf("%s.%d: %s", k, i+1, msgValue(e)))
				}
			}
		default:
			buf = append(buf, fmt.Sprintf("%s: %v", k, v))
		}
	}
	msg := ""
	if len(buf) == 1 {
		msg = "schema violation (" + buf[0] + ")"
	} else {
		msg = fmt.Sprintf("%d schema violations (%s)", len(buf), strings.Join(buf, "; "))
	}
	return &Error{Code: CodeSchemaViolation, Name: codeNames[CodeSchemaViolation], Message: msg, Fields: fields, Status: http.StatusBadRequest}
}

// UniqueViolation is Kong's code 5 (HTTP 409) for key, e.g. {"name": "x"}.
func UniqueViolation(key map[string]any) *Error {
	return &Error{Code: CodeUniqueViolation, Name: codeNames[CodeUniqueViolation],
		Message: fmt.Sprintf("UNIQUE violation detected on '%s'", luaPretty(key)), Fields: key, Status: http.StatusConflict}
}

// ForeignKeyViolation is Kong's code 4 for a reference to a missing entity.
func ForeignKeyViolation(field string, key map[string]any, parent string) *Error {
	return &Error{Code: CodeForeignKeyViolation, Name: codeNames[CodeForeignKeyViolation],
		Message: fmt.Sprintf("the foreign key '%s' does not reference an existing '%s' entity.", luaPretty(key), parent),
		Fields:  map[string]any{field: key}, Status: http.StatusBadRequest}
}

// ForeignKeysUnresolved is Kong's code 13 (errors.lua foreign_keys_unresolved):
// a reference by unique fields ({"name": "x"}) that matches no entity.
func ForeignKeysUnresolved(field string, keys map[string]any, parent string) *Error {
	return foreignKeysUnresolved(map[string]map[string]any{field: keys}, map[string]string{field: parent})
}

// foreignKeysUnresolved builds code 13 for several foreign fields: field →
// unique field → value tried, and field → referenced table.
func foreignKeysUnresolved(unresolved map[string]map[string]any, parents map[string]string) *Error {
	fields := map[string]any{}
	var buf []string
	fieldNames := make([]string, 0, len(unresolved))
	for f := range unresolved {
		fieldNames = append(fieldNames, f)
	}
	sort.Strings(fieldNames)
	for _, f := range fieldNames {
		keys := unresolved[f]
		fe := map[string]any{}
		for _, k := range sortedKeys(keys) {
			msg := fmt.Sprintf("the foreign key cannot be resolved with '%s' for an existing '%s' entity",
				luaPretty(map[string]any{k: keys[k]}), parents[f])
			fe[k] = msg
			buf = append(buf, f+"."+k+": "+msg)
		}
		fields[f] = fe
	}
	message := "foreign key unresolved (" + buf[0] + ")"
	if len(buf) > 1 {
		message = fmt.Sprintf("%d foreign keys unresolved (%s)", len(buf), strings.Join(buf, "; "))
	}
	return &Error{Code: CodeForeignKeysUnresolved, Name: codeNames[CodeForeignKeysUnresolved], Message: message,
		Fields: fields, Status: http.StatusBadRequest}
}

// InvalidOffset is Kong's code 7.
func InvalidOffset(offset, why string) *Error {
	return &Error{Code: CodeInvalidOffset, Name: codeNames[CodeInvalidOffset],
		Message: fmt.Sprintf("'%s' is not a valid offset: %s", offset, why), Status: http.StatusBadRequest}
}

// InvalidSize is Kong's code 9.
func InvalidSize(msg string) *Error {
	return &Error{Code: CodeInvalidSize, Name: codeNames[CodeInvalidSize], Message: msg, Status: http.StatusBadRequest}
}

// OperationUnsupported is Kong's code 12 (HTTP 405), e.g. writes in DB-less mode.
func OperationUnsupported(msg string) *Error {
	return &Error{Code: CodeOperationUnsupported, Name: codeNames[CodeOperationUnsupported], Message: msg, Status: http.StatusMethodNotAllowed}
}

// DeclarativeError is Kong's code 14 with per-entity errors, shaped like the
// declarative file: {"services": [ {..field errors..}, null, ... ]}.
func DeclarativeError(fields map[string]any) *Error {
	return &Error{Code: CodeDeclarativeConfig, Name: codeNames[CodeDeclarativeConfig],
		Message: "declarative config is invalid: " + luaPretty(fields), Fields: fields, Status: http.StatusBadRequest}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// luaPretty renders a value the way Kong's pl.pretty.write(v, "") does in its
// messages: {name="x",service={id="..."}}.
func luaPretty(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+"="+luaPretty(x[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, luaPretty(e))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case float64:
		return fmtNum(x)
	}
	return fmt.Sprint(v)
}

func msgValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return luaPretty(v)
}
