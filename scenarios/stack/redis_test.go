package stack

import (
	"slices"
	"strings"
	"testing"
)

func TestLddPaths(t *testing.T) {
	out := []byte(`	linux-vdso.so.1 (0x00007ffd4b3f9000)
	libjemalloc.so.2 => /lib/x86_64-linux-gnu/libjemalloc.so.2 (0x00007f02f7a00000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02f76a5000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f02f80ea000)
	libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f02f7d20000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02f76a5000)
`)
	got := LddPaths(out)
	want := []string{
		"/lib/x86_64-linux-gnu/libc.so.6",
		"/lib/x86_64-linux-gnu/libjemalloc.so.2",
		"/lib/x86_64-linux-gnu/libm.so.6",
		"/lib64/ld-linux-x86-64.so.2",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("LddPaths = %q, want %q", got, want)
	}
}

// The entrypoint must be exec form (a FROM scratch image has no shell) and
// carry the flags that make Redis reachable and memory-only.
func TestRedisDockerfile(t *testing.T) {
	df := redisImage("/usr/bin/redis-server").Dockerfile()
	for _, want := range []string{
		"FROM scratch\n",
		`ENTRYPOINT ["/usr/bin/redis-server","--bind","0.0.0.0","--port","6379","--protected-mode","no","--save","","--appendonly","no"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, df)
		}
	}
}
