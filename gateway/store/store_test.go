package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

func addService(name string) func(*config.Config) error {
	return func(c *config.Config) error {
		_, err := c.Insert(config.TableServices, map[string]any{"name": name, "host": "example.com"}, config.WriteOptions{})
		return err
	}
}

func names(c *config.Config) []string {
	var out []string
	for _, s := range c.Services {
		out = append(out, *s.Name)
	}
	return out
}

func TestUpdateSubscribeAndErrors(t *testing.T) {
	for _, mode := range append([]string{"memory"}, persistent...) {
		t.Run(mode, func(t *testing.T) {
			s := newBackend(t, mode).open(t)
			defer s.Close()

			var seen []int
			s.Subscribe(func(c *config.Config) { seen = append(seen, len(c.Services)) })
			for i := 1; i <= 3; i++ {
				if err := s.Update(addService(fmt.Sprint("s", i))); err != nil {
					t.Fatal(err)
				}
			}
			before := s.Current()
			boom := errors.New("boom")
			err := s.Update(func(c *config.Config) error {
				c.Services[0].Host = "mutated"
				c.Services = nil
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("error = %v", err)
			}
			if err := s.Update(addService("s1")); err == nil {
				t.Fatal("duplicate name committed")
			}
			if s.Current() != before || before.Services[0].Host != "example.com" || len(before.Services) != 3 {
				t.Fatal("failed update changed the published snapshot")
			}
			if fmt.Sprint(seen) != "[0 1 2 3]" {
				t.Fatalf("subscriber saw %v, want [0 1 2 3]", seen)
			}
		})
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	for _, mode := range persistent {
		t.Run(mode, func(t *testing.T) { testPersistenceAcrossReopen(t, newBackend(t, mode)) })
	}
}

func testPersistenceAcrossReopen(t *testing.T, b backend) {
	s := b.open(t)
	for i := 0; i < 5; i++ {
		if err := s.Update(addService(fmt.Sprint("svc-", i))); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Update(func(c *config.Config) error { c.Services = nil; return errors.New("rejected") })
	id := s.Current().Services[2].ID
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(addService("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("update after close: %v", err)
	}

	s2 := b.open(t)
	defer s2.Close()
	got := s2.Current()
	if strings.Join(names(got), ",") != "svc-0,svc-1,svc-2,svc-3,svc-4" || got.Services[2].ID != id {
		t.Fatalf("reopened: %v", names(got))
	}

	// Replace swaps everything and keeps its own copy.
	repl := &config.Config{}
	if _, err := repl.Insert(config.TableUpstreams, map[string]any{"name": "u"}, config.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Replace(repl); err != nil {
		t.Fatal(err)
	}
	repl.Upstreams[0].Name = "changed-after-replace"
	if c := s2.Current(); len(c.Services) != 0 || c.Upstreams[0].Name != "u" {
		t.Fatalf("replace: %+v", c)
	}
}

func TestConcurrentReadersSeeWholeSnapshots(t *testing.T) {
	for _, mode := range append([]string{"memory"}, persistent...) {
		t.Run(mode, func(t *testing.T) {
			s := newBackend(t, mode).open(t)
			defer s.Close()
			testConcurrentReaders(t, s)
		})
	}
}

func testConcurrentReaders(t *testing.T, s *Store) {
	var wg sync.WaitGroup
	stop := make(chan struct{})
	bad := make(chan string, 1)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				runtime.Gosched() // two spinning readers must not starve the writer on 2 cores
				c := s.Current()
				// Every commit adds a service and its route together.
				if len(c.Services) != len(c.Routes) {
					select {
					case bad <- fmt.Sprintf("%d services, %d routes", len(c.Services), len(c.Routes)):
					default:
					}
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		err := s.Update(func(c *config.Config) error {
			sv, err := c.Insert(config.TableServices, map[string]any{"host": "h"}, config.WriteOptions{})
			if err != nil {
				return err
			}
			_, err = c.Insert(config.TableRoutes, map[string]any{"paths": []any{"/" + strconv.Itoa(i)}, "service": map[string]any{"id": sv.EntityID()}}, config.WriteOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case msg := <-bad:
		t.Fatalf("reader saw a half-applied update: %s", msg)
	default:
	}
	if n := len(s.Current().Routes); n != 200 {
		t.Fatalf("routes = %d", n)
	}
}

const crashEnv = "GAUNTLET_STORE_CRASH_DIR"

// TestCrashChild is the writer process of TestCrashDuringWrites: it appends
// services svc-N, svc-N+1, ... and prints "ok N" after each commit until it
// is killed (or a bound is reached).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashDuringWrites")
	}
	s, err := Open(dir)
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(3)
	}
	start := len(s.Current().Services)
	// Padding makes every write large enough that a kill lands mid-write often.
	pad := make([]any, 60)
	for i := range pad {
		pad[i] = fmt.Sprintf("tag-%03d-padding-padding-padding", i)
	}
	for i := start + 1; i <= start+20000; i++ {
		err := s.Update(func(c *config.Config) error {
			_, err := c.Insert(config.TableServices, map[string]any{"name": fmt.Sprint("svc-", i), "host": "h", "tags": pad}, config.WriteOptions{})
			return err
		})
		if err != nil {
			fmt.Println("update failed:", err)
			os.Exit(4)
		}
		fmt.Printf("ok %d\n", i)
	}
	os.Exit(0)
}

func TestCrashDuringWrites(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("inside the helper process")
	}
	dir := t.TempDir()
	acked := 0
	for round, killAfter := range []int{3, 17, 40, 66, 90} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A stalled child must not hang the test: kill it after a minute.
		watchdog := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
		sc := bufio.NewScanner(out)
		seen := 0
		deadline := time.Now().Add(60 * time.Second)
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(line, "ok "); ok {
				acked, _ = strconv.Atoi(n)
				seen++
			} else if strings.Contains(line, "failed") {
				t.Fatalf("round %d: child: %s", round, line)
			}
			if seen == killAfter || time.Now().After(deadline) {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		// The child runs ahead of our reading: its acknowledgements still in
		// the pipe count too. The pipe ends when the killed process is gone.
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
				acked, _ = strconv.Atoi(n)
			}
		}
		_ = cmd.Wait()
		watchdog.Stop()
		if seen < killAfter {
			t.Fatalf("round %d: child acknowledged only %d writes", round, seen)
		}

		s, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		got := names(s.Current())
		// Commits are acknowledged after they are durable; at most one more
		// (in flight when the kill landed) may also have made it.
		if len(got) != acked && len(got) != acked+1 {
			t.Fatalf("round %d: %d services on disk, %d acknowledged", round, len(got), acked)
		}
		for i, n := range got {
			if n != fmt.Sprint("svc-", i+1) {
				t.Fatalf("round %d: service %d is %q: broken sequence", round, i, n)
			}
		}
		t.Logf("round %d: killed after %d acknowledged commits; %d on disk", round, acked, len(got))
		acked = len(got)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
