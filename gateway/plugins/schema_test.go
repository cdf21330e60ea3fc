package plugins

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

func TestValidateRateLimiting(t *testing.T) {
	atLeastOne := "at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'"
	tests := []struct {
		name string
		cfg  map[string]any
		errs string // JSON of the expected field errors; "" = valid
	}{
		{"minimal", map[string]any{"minute": 5}, ""},
		{"form strings coerced", map[string]any{"minute": "5", "fault_tolerant": "false", "redis.port": nil}, `{"config":{"redis.port":"unknown field"}}`},
		{"no limit", map[string]any{}, `{"@entity":["` + atLeastOne + `"]}`},
		{"longer period with a lower limit", map[string]any{"minute": 20, "hour": 10},
			`{"config":{"@message":"The limit for hour(10.0) cannot be lower than the limit for minute(20.0)"}}`},
		{"non-adjacent periods", map[string]any{"second": 5, "day": 4.5},
			`{"config":{"@message":"The limit for day(4.5) cannot be lower than the limit for second(5.0)"}}`},
		{"zero limit", map[string]any{"minute": 0}, `{"config":{"minute":"value must be greater than 0"}}`},
		{"not a number", map[string]any{"minute": "lots"}, `{"config":{"minute":"expected a number"}}`},
		{"bad limit_by", map[string]any{"minute": 1, "limit_by": "planet"},
			`{"config":{"limit_by":"expected one of: consumer, credential, ip, service, header, path"}}`},
		{"bad policy", map[string]any{"minute": 1, "policy": "memcached"},
			`{"config":{"policy":"expected one of: local, cluster, redis"}}`},
		{"unknown field", map[string]any{"minute": 1, "burst": 3}, `{"config":{"burst":"unknown field"}}`},
		{"redis without host", map[string]any{"minute": 1, "policy": "redis"},
			`{"@entity":["failed conditional validation given value of field 'config.policy'"],"config":{"redis":{"host":"required field missing"}}}`},
		{"redis bad port", map[string]any{"minute": 1, "policy": "redis", "redis": map[string]any{"host": "r", "port": 70000}},
			`{"config":{"redis":{"port":"value should be between 0 and 65535"}}}`},
		{"deprecated redis_host", map[string]any{"minute": 1, "policy": "redis", "redis_host": "r1"}, ""},
		{"header without header_name", map[string]any{"minute": 1, "limit_by": "header"},
			`{"@entity":["failed conditional validation given value of field 'config.limit_by'"],"config":{"header_name":"required field missing"}}`},
		{"bad header_name", map[string]any{"minute": 1, "limit_by": "header", "header_name": "x tenant"},
			`{"config":{"header_name":"bad header name 'x tenant', allowed characters are A-Z, a-z, 0-9, '_', and '-'"}}`},
		{"path without slash", map[string]any{"minute": 1, "limit_by": "path", "path": "api"},
			`{"config":{"path":"should start with: /"}}`},
		{"sync_rate without redis", map[string]any{"minute": 1, "sync_rate": 1},
			`{"config":{"@message":"sync_rate can only be used with the redis policy"}}`},
		{"error_code not positive", map[string]any{"minute": 1, "error_code": -1},
			`{"config":{"error_code":"value must be greater than 0"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Kong's shape: the plugin entity's "fields" object.
			_, cfgErrs, entityErrs, known := ValidateEntity("rate-limiting", tt.cfg)
			if !known {
				t.Fatal("rate-limiting unknown")
			}
			got := ""
			if cfgErrs != nil || entityErrs != nil {
				fields := map[string]any{}
				if cfgErrs != nil {
					fields["config"] = cfgErrs
				}
				if entityErrs != nil {
					fields["@entity"] = entityErrs
				}
				b, _ := json.Marshal(fields)
				got = string(b)
			}
			if got != tt.errs {
				t.Errorf("errors\n got  %s\n want %s", got, tt.errs)
			}
		})
	}
}

func TestValidateConfigRelative(t *testing.T) {
	// What the Admin API consumes: errors relative to "config", entity checks
	// carried in its "@entity".
	_, errs, _ := Validate("rate-limiting", map[string]any{"minute": "x"})
	if b, _ := json.Marshal(errs); string(b) != `{"minute":"expected a number"}` {
		t.Errorf("got %s", b)
	}
	_, errs, _ = Validate("rate-limiting", map[string]any{"policy": "redis"})
	want := `{"@entity":["at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'","failed conditional validation given value of field 'config.policy'"],"redis":{"host":"required field missing"}}`
	if b, _ := json.Marshal(errs); string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if _, errs, _ := Validate("rate-limiting", map[string]any{"minute": 1}); errs != nil {
		t.Errorf("valid config: %v", errs)
	}
}

func TestValidateFillsDefaults(t *testing.T) {
	norm, errs, _ := Validate("rate-limiting", map[string]any{"minute": "5", "policy": "redis", "redis_host": "cache"})
	if errs != nil {
		t.Fatal(errs)
	}
	want := map[string]any{
		"second": nil, "minute": 5.0, "hour": nil, "day": nil, "month": nil, "year": nil,
		"limit_by": "consumer", "header_name": nil, "path": nil, "policy": "redis", "fault_tolerant": true,
		"redis": map[string]any{"host": "cache", "port": 6379, "timeout": 2000, "username": nil, "password": nil,
			"database": 0, "ssl": false, "ssl_verify": false, "server_name": nil},
		"hide_client_headers": false, "error_code": 429.0, "error_message": "API rate limit exceeded", "sync_rate": -1.0,
	}
	if !reflect.DeepEqual(norm, want) {
		gotJ, _ := json.Marshal(norm)
		wantJ, _ := json.Marshal(want)
		t.Errorf("normalized\n got  %s\n want %s", gotJ, wantJ)
	}

	norm, errs, _ = Validate("key-auth", map[string]any{"key_names": "x-key"})
	if errs != nil {
		t.Fatal(errs)
	}
	wantKA := map[string]any{
		"key_names": []any{"x-key"}, "hide_credentials": false, "anonymous": nil, "key_in_header": true,
		"key_in_query": true, "key_in_body": false, "run_on_preflight": true, "realm": nil,
	}
	if !reflect.DeepEqual(norm, wantKA) {
		t.Errorf("key-auth normalized %v, want %v", norm, wantKA)
	}
}

func TestValidateKeyAuth(t *testing.T) {
	tests := []struct {
		cfg  map[string]any
		errs string
	}{
		{nil, ""},
		{map[string]any{"key_names": []any{"ok", "bad name"}},
			`{"key_names":[null,"bad header name 'bad name', allowed characters are A-Z, a-z, 0-9, '_', and '-'"]}`},
		{map[string]any{"hide_credentials": "yes"}, `{"hide_credentials":"expected a boolean"}`},
		{map[string]any{"key_names": 5}, `{"key_names":"expected an array"}`},
	}
	for _, tt := range tests {
		_, errs, _ := Validate("key-auth", tt.cfg)
		got := ""
		if errs != nil {
			b, _ := json.Marshal(errs)
			got = string(b)
		}
		if got != tt.errs {
			t.Errorf("%v:\n got  %s\n want %s", tt.cfg, got, tt.errs)
		}
	}
	if _, _, known := Validate("cors", nil); known {
		t.Error("cors reported as known")
	}
}

func TestSchemaShape(t *testing.T) {
	s, ok := Schema("rate-limiting")
	if !ok {
		t.Fatal("no schema")
	}
	b, _ := json.Marshal(s)
	var doc struct {
		Fields []map[string]struct {
			Type   string           `json:"type"`
			Fields []map[string]any `json:"fields"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var cfgFields []map[string]any
	for _, f := range doc.Fields {
		if c, ok := f["config"]; ok {
			if c.Type != "record" {
				t.Errorf("config type %q", c.Type)
			}
			cfgFields = c.Fields
		}
	}
	defaults := map[string]any{}
	for _, f := range cfgFields {
		for name, spec := range f {
			if d, ok := spec.(map[string]any)["default"]; ok {
				defaults[name] = d
			}
		}
	}
	want := map[string]any{"limit_by": "consumer", "policy": "local", "fault_tolerant": true,
		"hide_client_headers": false, "error_code": 429.0, "error_message": "API rate limit exceeded", "sync_rate": -1.0}
	if !reflect.DeepEqual(defaults, want) {
		t.Errorf("schema defaults %v, want %v", defaults, want)
	}
	if _, ok := Schema("nope"); ok {
		t.Error("schema for unknown plugin")
	}
}

// A plugin's number field refuses YAML's .inf and .nan: the store has no
// JSON form for them (before, a kong.yml with second: .inf failed to encode).
func TestNonFiniteIsNoNumber(t *testing.T) {
	for _, v := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		if _, ok := config.ToNumber(v); ok {
			t.Errorf("config.ToNumber(%v) accepted", v)
		}
	}
}
