package lint

import (
	"strings"
	"testing"
)

// good triggers no rule: every other case is a small edit of it.
const good = `_format_version: "3.0"
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
      - name: rate-limiting
        config: {minute: 10, policy: local}
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

// edit replaces old with new in good, failing the test when old is absent.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := good
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q not in the base file", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func lintString(t *testing.T, yml, env string, nodes int) *Result {
	t.Helper()
	s := NewSettings()
	s.Nodes = nodes
	if err := s.ParseEnvFile("test.env", []byte(env)); err != nil {
		t.Fatal(err)
	}
	res, err := Lint("kong.yml", []byte(yml), s)
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	return res
}

func findingsOf(res *Result, rule string) []Finding {
	var out []Finding
	for _, f := range res.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func TestGoodBaseTriggersNothing(t *testing.T) {
	res := lintString(t, good, "", 0)
	if len(res.Findings) != 0 {
		t.Fatalf("findings on the clean base: %+v", res.Findings)
	}
}

func TestRules(t *testing.T) {
	multiRoute := func(t *testing.T, routes string) string {
		return edit(t, "    routes:\n      - name: r\n        paths: [/a]\n", "    routes:\n"+routes)
	}
	cases := []struct {
		rule, name string
		yml        func(t *testing.T) string
		env        string
		nodes      int
		want       int      // findings of rule
		severity   Severity // of the first finding, when want > 0
	}{
		{rule: "config-in-memory", name: "database off, nothing loaded at start", env: "KONG_DATABASE=off", want: 1, severity: Error},
		{rule: "config-in-memory", name: "database off with declarative_config", env: "KONG_DATABASE=off\nKONG_DECLARATIVE_CONFIG=/etc/kong/kong.yml"},
		{rule: "config-in-memory", name: "Kong's default database"},
		{rule: "config-in-memory", name: "gateway's embedded store wins over KONG_DATABASE", env: "KONG_DATABASE=off\nGATEWAY_DATABASE=embedded"},

		{rule: "admin-api-exposed", name: "all interfaces, no token", env: "KONG_ADMIN_LISTEN=0.0.0.0:8001, 127.0.0.1:8444 ssl", want: 1, severity: Error},
		{rule: "admin-api-exposed", name: "LAN address", env: "KONG_ADMIN_LISTEN=10.0.0.5:8001", want: 1, severity: Error},
		{rule: "admin-api-exposed", name: "loopback only", env: "KONG_ADMIN_LISTEN=127.0.0.1:8001, [::1]:8444 ssl, localhost:9001"},
		{rule: "admin-api-exposed", name: "admin off", env: "KONG_ADMIN_LISTEN=off"},
		{rule: "admin-api-exposed", name: "token and ssl", env: "KONG_ADMIN_LISTEN=0.0.0.0:8444 ssl\nGATEWAY_ADMIN_TOKEN=s3cret"},
		{rule: "admin-api-exposed", name: "token over plain http", env: "KONG_ADMIN_LISTEN=0.0.0.0:8001\nGATEWAY_ADMIN_TOKEN=s3cret", want: 1, severity: Warning},
		{rule: "admin-api-exposed", name: "Kong's default"},

		{rule: "upstream-no-healthchecks", name: "no healthchecks", want: 1, severity: Error, yml: func(t *testing.T) string {
			return edit(t, "    healthchecks:\n      active:\n        healthy: {interval: 5, successes: 2}\n        unhealthy: {interval: 2, tcp_failures: 2}\n      passive:\n        unhealthy: {tcp_failures: 2}\n", "")
		}},
		{rule: "upstream-no-healthchecks", name: "active probing with zero thresholds", want: 1, severity: Error, yml: func(t *testing.T) string {
			return edit(t, "unhealthy: {interval: 2, tcp_failures: 2}", "unhealthy: {interval: 2}", "passive:\n        unhealthy: {tcp_failures: 2}", "passive: {}")
		}},
		{rule: "upstream-no-healthchecks", name: "passive thresholds only", yml: func(t *testing.T) string {
			return edit(t, "healthy: {interval: 5, successes: 2}", "healthy: {}", "unhealthy: {interval: 2, tcp_failures: 2}", "unhealthy: {}")
		}},

		{rule: "service-without-upstream", name: "plain hostname", want: 1, severity: Info, yml: func(t *testing.T) string {
			return edit(t, "host: up", "host: api.internal")
		}},
		{rule: "service-without-upstream", name: "host is an upstream"},

		{rule: "service-default-timeouts", name: "timeouts left out", want: 1, severity: Warning, yml: func(t *testing.T) string {
			return edit(t, "    connect_timeout: 2000\n    read_timeout: 5000\n    write_timeout: 5000\n", "")
		}},
		{rule: "service-default-timeouts", name: "read_timeout written as 60000", want: 1, severity: Warning, yml: func(t *testing.T) string {
			return edit(t, "read_timeout: 5000", "read_timeout: 60000")
		}},
		{rule: "service-default-timeouts", name: "tight timeouts"},

		{rule: "no-rate-limiting", name: "no plugin", want: 1, severity: Warning, yml: func(t *testing.T) string {
			return edit(t, "    plugins:\n      - name: rate-limiting\n        config: {minute: 10, policy: local}\n", "")
		}},
		{rule: "no-rate-limiting", name: "disabled plugin", want: 1, yml: func(t *testing.T) string {
			return edit(t, "      - name: rate-limiting\n", "      - name: rate-limiting\n        enabled: false\n")
		}},
		{rule: "no-rate-limiting", name: "plugin on one of two routes", want: 1, yml: func(t *testing.T) string {
			s := multiRoute(t, "      - name: r1\n        paths: [/a]\n        plugins:\n          - name: rate-limiting\n            config: {minute: 10}\n      - name: r2\n        paths: [/b]\n")
			return strings.Replace(s, "    plugins:\n      - name: rate-limiting\n        config: {minute: 10, policy: local}\n", "", 1)
		}},
		{rule: "no-rate-limiting", name: "plugin scoped to a consumer only", want: 1, yml: func(t *testing.T) string {
			return edit(t, "    plugins:\n      - name: rate-limiting\n        config: {minute: 10, policy: local}\n", "") +
				"consumers:\n  - username: alice\nplugins:\n  - name: rate-limiting\n    consumer: alice\n    config: {minute: 10}\n"
		}},
		{rule: "no-rate-limiting", name: "plugin on every route", yml: func(t *testing.T) string {
			s := multiRoute(t, "      - name: r1\n        paths: [/a]\n        plugins:\n          - name: rate-limiting\n            config: {minute: 10}\n      - name: r2\n        paths: [/b]\n        plugins:\n          - name: rate-limiting\n            config: {minute: 10}\n")
			return strings.Replace(s, "    plugins:\n      - name: rate-limiting\n        config: {minute: 10, policy: local}\n", "", 1)
		}},
		{rule: "no-rate-limiting", name: "global plugin", yml: func(t *testing.T) string {
			return edit(t, "    plugins:\n      - name: rate-limiting\n        config: {minute: 10, policy: local}\n", "") +
				"plugins:\n  - name: rate-limiting\n    config: {minute: 10}\n"
		}},
		{rule: "no-rate-limiting", name: "service plugin"},

		{rule: "healthcheck-no-recovery", name: "passive only", want: 1, severity: Warning, yml: func(t *testing.T) string {
			return edit(t, "healthy: {interval: 5, successes: 2}", "healthy: {}", "unhealthy: {interval: 2, tcp_failures: 2}", "unhealthy: {}")
		}},
		{rule: "healthcheck-no-recovery", name: "unhealthy targets never probed", want: 1, yml: func(t *testing.T) string {
			return edit(t, "unhealthy: {interval: 2, tcp_failures: 2}", "unhealthy: {tcp_failures: 2}")
		}},
		{rule: "healthcheck-no-recovery", name: "zero healthy successes", want: 1, yml: func(t *testing.T) string {
			return edit(t, "healthy: {interval: 5, successes: 2}", "healthy: {interval: 5}")
		}},
		{rule: "healthcheck-no-recovery", name: "passive only with the gateway's half-open recovery", yml: func(t *testing.T) string {
			return edit(t, "healthy: {interval: 5, successes: 2}", "healthy: {}", "unhealthy: {interval: 2, tcp_failures: 2}", "unhealthy: {}",
				"    healthchecks:\n", "    healthchecks:\n      half_open: {cooldown: 10}\n")
		}},
		{rule: "healthcheck-no-recovery", name: "active recovery"},

		{rule: "healthcheck-timeout-exceeds-service-timeout", name: "probe waits 10 s, service 5 s", want: 1, severity: Warning, yml: func(t *testing.T) string {
			return edit(t, "      active:\n", "      active:\n        timeout: 10\n")
		}},
		{rule: "healthcheck-timeout-exceeds-service-timeout", name: "probe 1 s, service 5 s"},

		{rule: "single-target-retries", name: "one target, retries 2", want: 1, severity: Warning, yml: func(t *testing.T) string {
			return edit(t, "      - target: b:80\n", "")
		}},
		{rule: "single-target-retries", name: "one live target (other weight 0)", want: 1, yml: func(t *testing.T) string {
			return edit(t, "      - target: b:80\n", "      - target: b:80\n        weight: 0\n")
		}},
		{rule: "single-target-retries", name: "one target, no retries", yml: func(t *testing.T) string {
			return edit(t, "      - target: b:80\n", "", "retries: 2", "retries: 0")
		}},
		{rule: "single-target-retries", name: "two targets"},

		{rule: "retries-exceed-targets", name: "6 tries over 2 targets", want: 1, severity: Info, yml: func(t *testing.T) string {
			return edit(t, "retries: 2", "retries: 5")
		}},
		{rule: "retries-exceed-targets", name: "4 tries over 2 targets", yml: func(t *testing.T) string {
			return edit(t, "retries: 2", "retries: 3")
		}},

		{rule: "route-shadowed", name: "exact duplicate", want: 1, severity: Warning, yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [/a]\n      - name: r2\n        paths: [/a]\n")
		}},
		{rule: "route-shadowed", name: "literal regex outranks a longer prefix", want: 1, yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [\"~/api\"]\n      - name: r2\n        paths: [/api/v1]\n")
		}},
		{rule: "route-shadowed", name: "regex with .* outranks a prefix", want: 1, yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [\"~/api/.*$\"]\n      - name: r2\n        paths: [/api/v1, /api/v2]\n")
		}},
		{rule: "route-shadowed", name: "higher regex_priority, same regex", want: 1, yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [\"~/users\"]\n        regex_priority: 5\n      - name: r2\n        paths: [\"~/users/[0-9]+\"]\n")
		}},
		{rule: "route-shadowed", name: "same host and methods, duplicate paths", want: 1, yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        hosts: [a.example]\n        methods: [GET]\n        paths: [/a]\n      - name: r2\n        hosts: [A.example]\n        methods: [GET]\n        paths: [/a]\n")
		}},
		{rule: "route-shadowed", name: "longer prefix wins: both reachable", yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [/api]\n      - name: r2\n        paths: [/api/v1]\n")
		}},
		{rule: "route-shadowed", name: "regex covers only part of the prefix route's paths", yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [\"~/api\"]\n      - name: r2\n        paths: [/api/v1, /other]\n")
		}},
		{rule: "route-shadowed", name: "regex that is not a literal prefix is not judged", yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [\"~/api/v[0-9]+\"]\n      - name: r2\n        paths: [/api/v1]\n")
		}},
		{rule: "route-shadowed", name: "more criteria win: methods on the covered route", yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [/a]\n      - name: r2\n        methods: [GET]\n        paths: [/a]\n")
		}},
		{rule: "route-shadowed", name: "different hosts", yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        hosts: [a.example]\n        paths: [\"~/api\"]\n      - name: r2\n        hosts: [b.example]\n        paths: [/api/v1]\n")
		}},
		{rule: "route-shadowed", name: "plain host outranks wildcard host", yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        hosts: [\"*.example\", a.example]\n        paths: [\"~/api\"]\n      - name: r2\n        hosts: [a.example]\n        paths: [/api/v1]\n")
		}},
		{rule: "route-shadowed", name: "equal regex_priority between regexes is a tie-break, not judged", yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        paths: [\"~/users\"]\n      - name: r2\n        paths: [\"~/users/[0-9]+\"]\n")
		}},
		{rule: "route-shadowed", name: "protocols differ", yml: func(t *testing.T) string {
			return multiRoute(t, "      - name: r1\n        protocols: [https]\n        paths: [/a]\n      - name: r2\n        protocols: [http]\n        paths: [/a]\n")
		}},

		{rule: "rate-limit-local-multi-node", name: "local policy, --nodes 3", nodes: 3, want: 1, severity: Warning},
		{rule: "rate-limit-local-multi-node", name: "local policy, hybrid data plane", env: "KONG_ROLE=data_plane", want: 1},
		{rule: "rate-limit-local-multi-node", name: "local policy, one node", nodes: 1},
		{rule: "rate-limit-local-multi-node", name: "redis policy, --nodes 3", nodes: 3, yml: func(t *testing.T) string {
			return edit(t, "config: {minute: 10, policy: local}", "config: {minute: 10, policy: redis, redis: {host: redis, port: 6379}}")
		}},

		{rule: "client-timeout-disabled", name: "body timeout 0", env: "KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT=0", want: 1, severity: Warning},
		{rule: "client-timeout-disabled", name: "both 0 through the gateway's names", env: "GATEWAY_CLIENT_BODY_TIMEOUT=0s\nGATEWAY_CLIENT_HEADER_TIMEOUT=0ms", want: 2},
		{rule: "client-timeout-disabled", name: "10s", env: "KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT=10s\nKONG_NGINX_HTTP_CLIENT_HEADER_TIMEOUT=100ms"},
		{rule: "client-timeout-disabled", name: "defaults"},

		{rule: "key-auth-without-credentials", name: "key-auth, DB-less, no keys", env: "KONG_DATABASE=off\nKONG_DECLARATIVE_CONFIG=/k.yml", want: 1, severity: Warning, yml: func(t *testing.T) string {
			return good + "plugins:\n  - name: key-auth\n"
		}},
		{rule: "key-auth-without-credentials", name: "key-auth, database, no keys in the file", want: 1, severity: Info, yml: func(t *testing.T) string {
			return good + "plugins:\n  - name: key-auth\n"
		}},
		{rule: "key-auth-without-credentials", name: "key-auth with a consumer key", env: "KONG_DATABASE=off\nKONG_DECLARATIVE_CONFIG=/k.yml", yml: func(t *testing.T) string {
			return good + "plugins:\n  - name: key-auth\nconsumers:\n  - username: alice\n    keyauth_credentials:\n      - key: k1\n"
		}},
		{rule: "key-auth-without-credentials", name: "key-auth with anonymous", env: "KONG_DATABASE=off\nKONG_DECLARATIVE_CONFIG=/k.yml", yml: func(t *testing.T) string {
			return good + "plugins:\n  - name: key-auth\n    config: {anonymous: guest}\nconsumers:\n  - username: guest\n"
		}},

		{rule: "plugin-not-implemented", name: "cors on the service", want: 1, severity: Info, yml: func(t *testing.T) string {
			return edit(t, "    plugins:\n", "    plugins:\n      - name: cors\n")
		}},
		{rule: "plugin-not-implemented", name: "global prometheus and a consumer's basic-auth credentials", want: 2, yml: func(t *testing.T) string {
			return good + "plugins:\n  - name: prometheus\nconsumers:\n  - username: alice\n    basicauth_credentials:\n      - {username: alice, password: pw}\n"
		}},
		{rule: "plugin-not-implemented", name: "only plugins the gateway implements", yml: func(t *testing.T) string {
			return good + "plugins:\n  - name: key-auth\n    config: {anonymous: guest}\nconsumers:\n  - username: guest\n    keyauth_credentials:\n      - key: k1\n"
		}},
	}
	covered := map[string][2]bool{}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.name, func(t *testing.T) {
			yml := good
			if c.yml != nil {
				yml = c.yml(t)
			}
			got := findingsOf(lintString(t, yml, c.env, c.nodes), c.rule)
			if len(got) != c.want {
				t.Fatalf("%d %s findings, want %d: %+v", len(got), c.rule, c.want, got)
			}
			if c.want > 0 && c.severity != "" && got[0].Severity != c.severity {
				t.Errorf("severity %s, want %s", got[0].Severity, c.severity)
			}
			for _, f := range got {
				if f.Message == "" || f.Fix == "" || f.Entity == "" || f.File == "" {
					t.Errorf("incomplete finding: %+v", f)
				}
			}
		})
		cv := covered[c.rule]
		cv[min(c.want, 1)] = true
		covered[c.rule] = cv
	}
	for _, r := range Rules {
		if cv := covered[r.ID]; !cv[0] || !cv[1] {
			t.Errorf("rule %s needs a case that triggers it and one that does not (have %v)", r.ID, cv)
		}
	}
}

func TestRulesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if seen[r.ID] {
			t.Errorf("duplicate rule id %s", r.ID)
		}
		seen[r.ID] = true
		if r.Summary == "" || r.Why == "" || r.Fix == "" || r.Ref == "" || r.Check == nil {
			t.Errorf("rule %s lacks summary, rationale, fix, reference or check", r.ID)
		}
		switch r.Severity {
		case Error, Warning, Info:
		default:
			t.Errorf("rule %s: severity %q", r.ID, r.Severity)
		}
	}
}
