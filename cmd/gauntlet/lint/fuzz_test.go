package lint

import "testing"

// FuzzLint: any bytes as a kong.yml give findings or an *InputError, never a
// panic (Command would turn a panic into a line, so the fuzz calls below it).
func FuzzLint(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("_format_version: \"3.0\"\nservices:\n  - url: http://a\n    routes:\n      - paths: [\"~/x.*$\"]\n"))
	f.Add([]byte("- a\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte(withUnimplemented))
	f.Add([]byte("_format_version: \"3.0\"\nconsumers:\n  - username: a\n    acls: &g [{group: x, tags: &t [a]}]\n    plugins: [{name: prometheus}]\njwt_secrets: *g\nservices: [{url: 'http://x', tags: *t, plugins: [{name: cors}]}]\n"))
	f.Add([]byte("_format_version: 3.0\nupstreams:\n  - name: u\n    targets: [{target: 'a:1'}]\n    healthchecks: {passive: {unhealthy: {tcp_failures: 1}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Lint("fuzz.yml", data, NewSettings())
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, fd := range res.Findings {
			if fd.Rule == "" || fd.Message == "" {
				t.Fatalf("incomplete finding %+v", fd)
			}
		}
	})
}

// FuzzSettings: any bytes as kong.conf or env file parse or fail with an
// error, and the listen parser never panics on what they set.
func FuzzSettings(f *testing.F) {
	f.Add([]byte("KONG_ADMIN_LISTEN=\"0.0.0.0:8001, [::1]:8444 ssl\"\nexport KONG_DATABASE='off' # c\n"))
	f.Add([]byte("admin_listen = 127.0.0.1:8001 \\# x\ndatabase = off\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func(*Settings) error{
			func(s *Settings) error { return s.ParseEnvFile("f.env", data) },
			func(s *Settings) error { return s.ParseKongConf("kong.conf", data) },
		} {
			s := NewSettings()
			if parse(s) != nil {
				continue
			}
			ls, _ := ParseListen(s.Get("admin_listen"))
			for _, l := range ls {
				_ = l.Loopback()
			}
		}
	})
}
