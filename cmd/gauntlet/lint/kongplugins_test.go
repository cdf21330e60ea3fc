package lint

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/plugins"
)

// withUnimplemented is the clean base with two plugins Kong bundles and the
// gateway does not implement around its valid rate-limiting: cors on the
// service (line 13) and a global prometheus (line 18).
const withUnimplemented = `_format_version: "3.0"
services:
  - name: s
    host: up
    connect_timeout: 2000
    read_timeout: 5000
    write_timeout: 5000
    retries: 2
    routes:
      - name: r
        paths: [/a]
    plugins:
      - name: cors
        config: {origins: ["*"], credentials: true}
      - name: rate-limiting
        config: {minute: 10, policy: local}
plugins:
  - name: prometheus
    config: {per_consumer: false}
upstreams:
  - name: up
    healthchecks:
      active:
        healthy: {interval: 5, successes: 2}
        unhealthy: {interval: 2, tcp_failures: 2}
      passive:
        unhealthy: {tcp_failures: 2}
    targets:
      - target: a:80
      - target: b:80
`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPluginNotImplementedThroughCommand(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "kong.yml", withUnimplemented)
	exposed := writeFile(t, dir, "k.env", "KONG_ADMIN_LISTEN=0.0.0.0:8001\n")
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"infos only", []string{file}, ExitOK},
		{"and an error finding", []string{file, "--env-file", exposed}, ExitFindings},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Command(append(c.args, "--format", "json"), &out, &errb)
			if code != c.code || errb.Len() != 0 {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.code, errb.String())
			}
			var rep struct {
				Findings []Finding `json:"findings"`
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			var got []Finding
			for _, f := range rep.Findings {
				switch f.Rule {
				case "plugin-not-implemented":
					got = append(got, f)
				case "no-rate-limiting":
					t.Errorf("the service's rate-limiting was not counted: %+v", f)
				}
			}
			want := []struct {
				plugin, path string
				line         int
			}{{"cors", "services[0].plugins[0]", 13}, {"prometheus", "plugins[0]", 18}}
			if len(got) != len(want) {
				t.Fatalf("%d plugin-not-implemented findings, want %d: %+v", len(got), len(want), got)
			}
			for i, w := range want {
				f := got[i]
				if f.Severity != Info || f.Path != w.path || f.Line != w.line || f.File != file ||
					f.Entity != "plugin "+w.plugin || !strings.Contains(f.Message, "plugin "+w.plugin+" ") ||
					f.Fix != "the gateway under test ignores it; lint and check judge the rest" {
					t.Errorf("finding %d = %+v, want plugin %s at %s line %d", i, f, w.plugin, w.path, w.line)
				}
			}
		})
	}
	// The text format names each one on a line of its own.
	var out, errb bytes.Buffer
	Command([]string{file}, &out, &errb)
	for _, w := range []string{":13: info plugin-not-implemented plugin cors:", ":18: info plugin-not-implemented plugin prometheus:"} {
		if strings.Count(out.String(), w) != 1 {
			t.Errorf("text output lacks %q once:\n%s", w, out.String())
		}
	}
}

// TestPluginNotImplementedLeftOut: every left-out plugin, wherever it is
// nested, is out of what the rules see, and everything else stays.
func TestPluginNotImplementedLeftOut(t *testing.T) {
	yml := `_format_version: "3.0"
services:
  - name: s
    host: up
    routes:
      - name: r
        paths: [/a]
        plugins:
          - name: request-transformer
            config: {add: {headers: ["x-a:1"]}}
          - name: rate-limiting
            config: {minute: 5}
    plugins:
      - name: response-ratelimiting
        config: {limits: {sms: {minute: 10}}}
consumers:
  - username: alice
    plugins:
      - name: prometheus
        enabled: false
    keyauth_credentials:
      - key: k1
    basicauth_credentials:
      - {username: alice, password: pw}
    acls:
      - group: admins
      - group: ops
jwt_secrets:
  - consumer: alice
    key: iss
plugins:
  - name: key-auth
  - name: http-log
    instance_name: audit
    config: {http_endpoint: "http://log:8080/"}
upstreams:
  - name: up
    targets:
      - target: a:80
`
	p, err := Parse("kong.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, pl := range p.Config.Plugins {
		names = append(names, pl.Name)
	}
	if strings.Join(names, ",") != "rate-limiting,key-auth" && strings.Join(names, ",") != "key-auth,rate-limiting" {
		t.Errorf("loaded plugins %v, want rate-limiting and key-auth only", names)
	}
	if len(p.Config.Consumers) != 1 || len(p.Config.KeyAuthCredentials) != 1 || len(p.Config.Routes) != 1 {
		t.Errorf("consumers %d, keyauth_credentials %d, routes %d: want 1 each",
			len(p.Config.Consumers), len(p.Config.KeyAuthCredentials), len(p.Config.Routes))
	}
	res := Run(&Input{Parsed: p, Settings: NewSettings()}, Rules)
	var got []string
	for _, f := range findingsOf(res, "plugin-not-implemented") {
		got = append(got, f.Path+"@"+strconv.Itoa(f.Line)+" "+f.Entity)
	}
	want := []string{
		"services[0].routes[0].plugins[0]@9 plugin request-transformer",
		"services[0].plugins[0]@14 plugin response-ratelimiting",
		"consumers[0].plugins[0]@19 plugin prometheus",
		"consumers[0].basicauth_credentials@23 basicauth_credentials",
		"consumers[0].acls@25 acls",
		"jwt_secrets@28 jwt_secrets",
		`plugins[1]@33 plugin "audit"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plugin-not-implemented findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range findingsOf(res, "plugin-not-implemented") {
		if f.Path == "consumers[0].acls" && !strings.Contains(f.Message, "acls (2, entities of plugin acl)") {
			t.Errorf("acls message %q", f.Message)
		}
		if f.Path == "consumers[0].plugins[0]" && !strings.Contains(f.Message, "disabled") {
			t.Errorf("disabled plugin's message %q", f.Message)
		}
	}
	// The route's own rate-limiting is on the only route: the service is limited.
	if f := findingsOf(res, "no-rate-limiting"); len(f) != 0 {
		t.Errorf("no-rate-limiting: %+v", f)
	}
	// key-auth sees the consumer's key, which stayed.
	if f := findingsOf(res, "key-auth-without-credentials"); len(f) != 0 {
		t.Errorf("key-auth-without-credentials: %+v", f)
	}
}

// TestPluginNotBundledRefused: a name Kong does not bundle is refused as Kong
// refuses it, whatever else the file holds.
func TestPluginNotBundledRefused(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, yml, want string }{
		{"typo", strings.Replace(withUnimplemented, "name: rate-limiting", "name: rate-limting", 1),
			"services[0].plugins[1].name: plugin 'rate-limting' not enabled; add it to the 'plugins' configuration property"},
		{"Enterprise plugin", strings.Replace(withUnimplemented, "name: rate-limiting", "name: rate-limiting-advanced", 1),
			"plugin 'rate-limiting-advanced' not enabled"},
		{"typo of a left-out plugin", strings.Replace(withUnimplemented, "name: cors", "name: corss", 1),
			"services[0].plugins[0].name: plugin 'corss' not enabled"},
		// Kong's schema of cors has consumer = typedefs.no_consumer.
		{"cors on a consumer", withUnimplemented + "consumers:\n  - username: alice\n    plugins:\n      - name: cors\n",
			"consumers[0].plugins[0].consumer: value must be null"},
		// A left-out plugin keeps its place: the error names the entry as written.
		{"bad config next to a left-out plugin", strings.Replace(withUnimplemented, "{minute: 10, policy: local}", "{minute: -1}", 1),
			"services[0].plugins[1].config"},
		{"left-out plugin on a missing service", strings.Replace(withUnimplemented, "    config: {per_consumer: false}\n",
			"    config: {per_consumer: false}\n  - name: cors\n    service: nope\n", 1), "plugins[1].service"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Command([]string{writeFile(t, dir, "kong.yml", c.yml)}, &out, &errb)
			if code != ExitBadInput || out.Len() != 0 {
				t.Fatalf("exit %d, want 2; stdout %q", code, out.String())
			}
			if !strings.Contains(errb.String(), c.want) || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("stderr %q, want one line containing %q", errb.String(), c.want)
			}
		})
	}
}

// TestBundledList pins the list to Kong 3.9's constants.lua.
func TestBundledList(t *testing.T) {
	if len(kongBundledPlugins) != 45 {
		t.Errorf("%d bundled plugins, Kong 3.9 has 45", len(kongBundledPlugins))
	}
	for _, enterprise := range []string{"rate-limiting-advanced", "openid-connect", "canary", "request-validator"} {
		if kongBundledPlugins[enterprise] {
			t.Errorf("%s is an Enterprise plugin, not bundled with Kong OSS", enterprise)
		}
	}
	for _, p := range plugins.Available() {
		if !kongBundledPlugins[p.Name] {
			t.Errorf("the gateway implements %s, which Kong %s does not bundle", p.Name, kongBundledVersion)
		}
		if notImplemented(p.Name) {
			t.Errorf("%s is implemented", p.Name)
		}
	}
	for name := range kongNoConsumerPlugins {
		if !kongBundledPlugins[name] {
			t.Errorf("no-consumer plugin %s is not bundled", name)
		}
	}
	for table, e := range kongPluginEntities {
		if !kongBundledPlugins[e.plugin] {
			t.Errorf("%s belongs to %s, which is not bundled", table, e.plugin)
		}
	}
}

// TestCustomPluginFromSettings: a plugin the node's plugins setting adds to
// the bundled ones loads in Kong, so lint leaves it out too; without the
// setting Kong refuses it, and so does lint.
func TestCustomPluginFromSettings(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "kong.yml", strings.Replace(withUnimplemented, "    config: {per_consumer: false}\n",
		"    config: {per_consumer: false}\n  - name: my-auth\n    config: {realm: x}\n", 1))
	env := writeFile(t, dir, "k.env", "KONG_PLUGINS=bundled, my-auth\n")
	var out, errb bytes.Buffer
	if code := Command([]string{file, "--env-file", env}, &out, &errb); code != ExitOK {
		t.Fatalf("with KONG_PLUGINS: exit %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(out.String(), ":20: info plugin-not-implemented plugin my-auth: plugin my-auth is not bundled with Kong; the node's plugins setting names it") {
		t.Errorf("output lacks the custom plugin's finding:\n%s", out.String())
	}
	out.Reset()
	errb.Reset()
	if code := Command([]string{file}, &out, &errb); code != ExitBadInput || !strings.Contains(errb.String(), "plugin 'my-auth' not enabled") {
		t.Errorf("without KONG_PLUGINS: exit %d, stderr %q", code, errb.String())
	}
}

// TestLeftOutListAnchors: a removed list may hold an anchor that the rest of
// the file refers to; the rest keeps its value.
func TestLeftOutListAnchors(t *testing.T) {
	yml := `_format_version: "3.0"
consumers:
  - username: a
    acls: &groups
      - group: ops
        tags: &team [team-a]
  - username: b
    acls: *groups
services:
  - name: s
    url: http://x:80
    tags: *team
`
	p, err := Parse("kong.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Config.Services) != 1 || strings.Join(p.Config.Services[0].Tags, ",") != "team-a" {
		t.Errorf("services %+v", p.Config.Services)
	}
	var paths []string
	for _, lo := range p.LeftOut {
		paths = append(paths, lo.Path)
	}
	if strings.Join(paths, " ") != "consumers[0].acls consumers[1].acls" {
		t.Errorf("left out %v", paths)
	}
	// A self-referring list is bad input, not a panic.
	if _, err := Parse("kong.yml", []byte("_format_version: \"3.0\"\nacls: &c [*c]\nservices:\n  - url: http://x\n    tags: *c\n")); err == nil {
		t.Error("self-referring list loaded")
	} else if _, ok := err.(*InputError); !ok {
		t.Errorf("error %T %v", err, err)
	}
}

// TestLeftOutListCopiesBounded: many aliases to one large removed list are
// refused rather than copied into a huge document.
func TestLeftOutListCopiesBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nacls: &a\n")
	for i := 0; i < 600; i++ {
		b.WriteString("  - {group: g}\n")
	}
	b.WriteString("services:\n  - url: http://x\n    tags: [" + strings.Repeat("*a, ", 599) + "*a]\n")
	_, err := Parse("kong.yml", []byte(b.String()))
	if _, ok := err.(*InputError); !ok || !strings.Contains(err.Error(), "would copy more than 1000000 values") {
		t.Errorf("error %v", err)
	}
}
