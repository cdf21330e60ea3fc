package lint

import "testing"

func TestParseEnvFile(t *testing.T) {
	env := `# node settings
KONG_DATABASE=off

export KONG_ADMIN_LISTEN="0.0.0.0:8001, 0.0.0.0:8444 ssl"
KONG_DECLARATIVE_CONFIG='/etc/kong/kong.yml'
KONG_PROXY_LISTEN=0.0.0.0:8000 # the proxy
GATEWAY_ADMIN_TOKEN=t0ken
KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT=10s
PATH=/usr/bin
`
	s := NewSettings()
	if err := s.ParseEnvFile("k.env", []byte(env)); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"database":                       "off",
		"admin_listen":                   "0.0.0.0:8001, 0.0.0.0:8444 ssl",
		"declarative_config":             "/etc/kong/kong.yml",
		"proxy_listen":                   "0.0.0.0:8000",
		"admin_token":                    "t0ken",
		"nginx_http_client_body_timeout": "10s",
		"role":                           "traditional", // Kong's default
		"path":                           "",            // not a KONG_ variable
	} {
		if got := s.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if l, ok := s.Where("admin_listen"); !ok || l.File != "k.env" || l.Line != 4 {
		t.Errorf("admin_listen set at %+v %v, want k.env:4", l, ok)
	}
	if _, ok := s.Where("role"); ok {
		t.Error("a default has no location")
	}
}

func TestGatewayVariableWinsOverKong(t *testing.T) {
	for _, env := range []string{"GATEWAY_DATABASE=embedded\nKONG_DATABASE=off\n", "KONG_DATABASE=off\nGATEWAY_DATABASE=embedded\n"} {
		s := NewSettings()
		if err := s.ParseEnvFile("k.env", []byte(env)); err != nil {
			t.Fatal(err)
		}
		if got := s.Get("database"); got != "embedded" {
			t.Errorf("%q: database = %q, want embedded", env, got)
		}
	}
}

func TestParseEnvFileErrors(t *testing.T) {
	for _, env := range []string{"NOEQUALS\n", "KONG_X=\"unterminated\n", "=value\n", "TWO WORDS=x\n"} {
		if err := NewSettings().ParseEnvFile("k.env", []byte(env)); err == nil {
			t.Errorf("%q: no error", env)
		}
	}
}

func TestParseKongConf(t *testing.T) {
	conf := `# kong.conf
database = off            # DB-less
declarative_config = /k.yml
admin_listen = 0.0.0.0:8001
log_level = debug \# not a comment
`
	s := NewSettings()
	if err := s.ParseKongConf("kong.conf", []byte(conf)); err != nil {
		t.Fatal(err)
	}
	if s.Get("database") != "off" || s.Get("declarative_config") != "/k.yml" || s.Get("admin_listen") != "0.0.0.0:8001" {
		t.Errorf("parsed %v", s.values)
	}
	if got := s.Get("log_level"); got != "debug # not a comment" {
		t.Errorf("log_level = %q", got)
	}
	if l, _ := s.Where("admin_listen"); l.Line != 4 {
		t.Errorf("admin_listen line %d, want 4", l.Line)
	}
	// The environment overrides kong.conf, as in Kong.
	if err := s.ParseEnvFile("k.env", []byte("KONG_ADMIN_LISTEN=127.0.0.1:8001\n")); err != nil {
		t.Fatal(err)
	}
	if s.Get("admin_listen") != "127.0.0.1:8001" {
		t.Errorf("env did not override kong.conf: %q", s.Get("admin_listen"))
	}
	if err := NewSettings().ParseKongConf("kong.conf", []byte("just words\n")); err == nil {
		t.Error("a line without = is an error")
	}
}

func TestParseListen(t *testing.T) {
	ls, err := ParseListen(defaults["admin_listen"])
	if err != nil || len(ls) != 2 {
		t.Fatalf("Kong's default admin_listen: %v %v", ls, err)
	}
	if !ls[0].Loopback() || ls[0].SSL() || !ls[1].SSL() || ls[1].Port != "8444" {
		t.Errorf("parsed %+v", ls)
	}
	for addr, loop := range map[string]bool{"0.0.0.0:1": false, "[::]:1": false, "10.1.2.3:1": false, "127.0.0.2:1": true, "[::1]:1": true, "localhost:1": true, "admin.example:1": false} {
		ls, err := ParseListen(addr)
		if err != nil || len(ls) != 1 || ls[0].Loopback() != loop {
			t.Errorf("%s: %+v %v, want loopback %v", addr, ls, err, loop)
		}
	}
	if ls, err := ParseListen("off"); err != nil || len(ls) != 0 {
		t.Errorf("off: %v %v", ls, err)
	}
	if _, err := ParseListen("8001"); err == nil {
		t.Error("a port alone is not an address")
	}
}
