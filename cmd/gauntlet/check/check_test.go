package check

import (
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/scenarios/battery"
)

// A plugin the gateway does not implement is named in one line and left out
// of what the gateway loads; the rest (here the rate limit) is kept.
func TestLoadLeavesOutUnimplementedPlugins(t *testing.T) {
	in, err := Load("testdata/cors.yml", "", "")
	if err != nil {
		t.Fatal(err)
	}
	lines := in.LeftOutLines()
	if len(lines) != 1 || !strings.Contains(lines[0], "testdata/cors.yml:9: left out: plugin cors at services[0].plugins[0]") {
		t.Errorf("left out %q", lines)
	}
	c, err := config.LoadDeclarative(in.Config)
	if err != nil {
		t.Fatalf("the gateway cannot load what check gives it: %v", err)
	}
	if len(c.Plugins) != 1 || c.Plugins[0].Name != "rate-limiting" {
		t.Errorf("plugins %+v", c.Plugins)
	}
	p := battery.NewPlan(in.Parsed.Config, in.Node())
	if sp := p.Services[0]; sp.RateLimit == nil || sp.RateLimit.PerSecond != 20 || sp.Targets[0].String() != "backend:3000" {
		t.Errorf("plan %+v", sp)
	}
	// Kong's default database (postgres) maps to the persistent store.
	if in.Node().DBLess() {
		t.Error("no settings: Kong's default database, not DB-less")
	}
}

// The examples' settings: the tutorial's node is DB-less with nothing read at
// start; the resilient node reads the file at every start.
func TestLoadExamples(t *testing.T) {
	seed, err := Load("../../../examples/seed-tutorial/kong.yml", "", "../../../examples/seed-tutorial/kong.env")
	if err != nil {
		t.Fatal(err)
	}
	if n := seed.Node(); !n.DBLess() || n.DeclarativeConfig != "" || string(seed.Config) == "" || !seed.Lint.Failed() {
		t.Errorf("seed node %+v", n)
	}
	res, err := Load("../../../examples/resilient/kong.yml", "", "../../../examples/resilient/kong.env")
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Node(); !n.DBLess() || n.DeclarativeConfig != "/etc/kong/kong.yml" || res.Lint.Failed() {
		t.Errorf("resilient node %+v", n)
	}
}
