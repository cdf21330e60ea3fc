package run

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"

	"github.com/gauntlet-dev/gauntlet/scenarios/stack"
)

func TestParseArgsGatewayImage(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		image string
		files []string
	}{
		{[]string{"--gateway-image", "builtin", "a.yaml", "b.yaml"}, "builtin", []string{"a.yaml", "b.yaml"}},
		{[]string{"a.yaml", "--gateway-image=kong:3.9", "b.yaml"}, "kong:3.9", []string{"a.yaml", "b.yaml"}},
		{[]string{"a.yaml"}, "", []string{"a.yaml"}},
	} {
		o, code, err := parseArgs(tc.args, &bytes.Buffer{})
		if err != nil || code != ExitOK {
			t.Fatalf("%q: code %d, err %v", tc.args, code, err)
		}
		if o.gatewayImage != tc.image || !reflect.DeepEqual(o.files, tc.files) || o.out != "gauntlet-run" {
			t.Errorf("%q: got %+v", tc.args, o)
		}
	}
	if _, code, err := parseArgs([]string{"--gateway-image"}, &bytes.Buffer{}); err == nil || code != ExitBadInput {
		t.Errorf("--gateway-image without a value: code %d, err %v", code, err)
	}
	var help bytes.Buffer
	if _, code, err := parseArgs([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) || code != ExitOK || !strings.Contains(help.String(), "-gateway-image") {
		t.Errorf("-h: code %d, err %v, help %q", code, err, help.String())
	}
}

// A malformed file is refused before any engine is needed, with or without
// --gateway-image.
func TestGatewayImageBadFileStartsNothing(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Command([]string{"--gateway-image", "builtin", "testdata/does-not-exist.yaml"}, &stdout, &stderr); code != ExitBadInput {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q: nothing should start", stdout.String())
	}
}

// --gateway-image stacks take gauntlet check's path: a scenario's Options as
// StartUser's, the gateway configured by Kong's variables only.
func TestScenarioUserOptions(t *testing.T) {
	u := stack.ScenarioUserOptions(stack.Options{Name: "s", Mockbins: 3, Toxiproxy: true, Redis: true, GatewayArgs: []string{"--x"}}, stack.BuiltinGateway)
	want := stack.UserOptions{
		Name:         "s",
		Upstreams:    []stack.HostPort{{Host: "mockbin1", Port: 8080}, {Host: "mockbin2", Port: 8080}, {Host: "mockbin3", Port: 8080}},
		Redis:        []stack.HostPort{{Host: "redis", Port: stack.RedisPort}},
		GatewayImage: stack.BuiltinGateway,
		GatewayEnv:   map[string]string{"KONG_PROXY_LISTEN": "0.0.0.0:8000", "KONG_ADMIN_LISTEN": "0.0.0.0:8001", "KONG_DATABASE": "off"},
		MockbinNames: map[string]string{"mockbin1:8080": "mockbin1", "mockbin2:8080": "mockbin2", "mockbin3:8080": "mockbin3"},
		Toxiproxy:    true,
	}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("got %+v\nwant %+v", u, want)
	}
	if u := stack.ScenarioUserOptions(stack.Options{}, "kong:3.9"); len(u.Upstreams) != 2 || u.Redis != nil || u.GatewayImage != "kong:3.9" || u.Toxiproxy {
		t.Errorf("defaults: %+v", u)
	}
	var _ stack.Provider = &stack.GatewayImageProvider{}
}
