package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/gauntlet-dev/gauntlet/gateway/store"
)

// Kong's own Go client drives the Admin API unchanged.
func TestGoKongClient(t *testing.T) {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(New(Options{Store: s, Version: config.KongVersion, NodeID: "n", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Configuration: map[string]any{"database": "embedded"}}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	client, err := kong.NewClient(kong.String(srv.URL), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.Root(ctx)
	if err != nil || info["version"] != config.KongVersion {
		t.Fatalf("root: %v %v", info, err)
	}

	// Services.
	svc, err := client.Services.Create(ctx, &kong.Service{Name: kong.String("mockbin-service"), URL: kong.String("http://mockbin:8080")})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	if *svc.Host != "mockbin" || *svc.Port != 8080 || *svc.Protocol != "http" || *svc.Retries != 5 {
		t.Fatalf("service: %+v", svc)
	}
	svc.ReadTimeout = kong.Int(1500)
	if svc, err = client.Services.Update(ctx, svc); err != nil || *svc.ReadTimeout != 1500 {
		t.Fatalf("update service: %v", err)
	}
	// Create with an id goes through PUT.
	fixed, err := client.Services.Create(ctx, &kong.Service{ID: kong.String("6d4c7c4e-2f5b-4c1e-9d0a-000000000042"), Name: kong.String("second"), Host: kong.String("h2")})
	if err != nil || *fixed.ID != "6d4c7c4e-2f5b-4c1e-9d0a-000000000042" {
		t.Fatalf("create service by id: %v %v", fixed, err)
	}
	all, err := client.Services.ListAll(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("list services: %d %v", len(all), err)
	}

	// Routes.
	rt, err := client.Routes.CreateInService(ctx, svc.ID, &kong.Route{Name: kong.String("mockbin-route"), Paths: kong.StringSlice("/mockbin")})
	if err != nil {
		t.Fatalf("create route: %v", err)
	}
	if *rt.Service.ID != *svc.ID || !*rt.StripPath || len(rt.Protocols) != 2 {
		t.Fatalf("route: %+v", rt)
	}
	rt.Paths = kong.StringSlice("/mockbin", "/mb")
	if rt, err = client.Routes.Update(ctx, rt); err != nil || len(rt.Paths) != 2 {
		t.Fatalf("update route: %v", err)
	}
	routes, _, err := client.Routes.ListForService(ctx, svc.ID, nil)
	if err != nil || len(routes) != 1 {
		t.Fatalf("routes for service: %d %v", len(routes), err)
	}
	if got, err := client.Services.GetForRoute(ctx, rt.ID); err != nil || *got.ID != *svc.ID {
		t.Fatalf("service for route: %v", err)
	}
	if ok, msg, err := client.Routes.Validate(ctx, &kong.Route{Paths: kong.StringSlice("nope")}); err != nil || ok || msg == "" {
		t.Fatalf("validate bad route: %v %q %v", ok, msg, err)
	}
	// Kong's client surfaces Kong's error bodies.
	_, err = client.Services.Create(ctx, &kong.Service{Name: kong.String("mockbin-service"), Host: kong.String("x")})
	var apiErr *kong.APIError
	if !errors.As(err, &apiErr) || apiErr.Code() != 409 {
		t.Fatalf("duplicate service: %v", err)
	}
	if _, err := client.Services.Get(ctx, kong.String("nope")); !kong.IsNotFoundErr(err) {
		t.Fatalf("missing service: %v", err)
	}

	// Upstreams and targets.
	up, err := client.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String("mockbin-upstream")})
	if err != nil {
		t.Fatalf("create upstream: %v", err)
	}
	if *up.Algorithm != "round-robin" || *up.Slots != 10000 || *up.Healthchecks.Active.Timeout != 1 ||
		len(up.Healthchecks.Passive.Unhealthy.HTTPStatuses) != 3 {
		t.Fatalf("upstream defaults: %+v", up)
	}
	up.Algorithm = kong.String("least-connections")
	if up, err = client.Upstreams.Update(ctx, up); err != nil || *up.Algorithm != "least-connections" {
		t.Fatalf("update upstream: %v", err)
	}
	for _, tg := range []string{"mockbin1:8080", "mockbin2:8080"} {
		if _, err := client.Targets.Create(ctx, up.Name, &kong.Target{Target: kong.String(tg), Weight: kong.Int(50)}); err != nil {
			t.Fatalf("create target %s: %v", tg, err)
		}
	}
	targets, err := client.Targets.ListAll(ctx, up.Name)
	if err != nil || len(targets) != 2 || *targets[0].Weight != 50 {
		t.Fatalf("targets: %d %v", len(targets), err)
	}
	if err := client.Targets.Delete(ctx, up.ID, targets[0].ID); err != nil {
		t.Fatalf("delete target: %v", err)
	}
	// Kong lists targets newest first: the first one deleted was mockbin2.
	if targets, _ = client.Targets.ListAll(ctx, up.Name); len(targets) != 1 || *targets[0].Target != "mockbin1:8080" {
		t.Fatalf("targets after delete: %v", targets)
	}
	ups, err := client.Upstreams.ListAll(ctx)
	if err != nil || len(ups) != 1 {
		t.Fatalf("upstreams: %v", err)
	}

	// Consumers, key-auth credentials and plugins.
	cons, err := client.Consumers.Create(ctx, &kong.Consumer{Username: kong.String("alice"), CustomID: kong.String("a-1")})
	if err != nil {
		t.Fatalf("create consumer: %v", err)
	}
	if got, err := client.Consumers.GetByCustomID(ctx, kong.String("a-1")); err != nil || *got.ID != *cons.ID {
		t.Fatalf("consumer by custom_id: %v %v", got, err)
	}
	ka, err := client.KeyAuths.Create(ctx, cons.Username, &kong.KeyAuth{Key: kong.String("alice-key")})
	if err != nil || *ka.Key != "alice-key" || *ka.Consumer.ID != *cons.ID {
		t.Fatalf("create key-auth: %v %v", ka, err)
	}
	if keys, _, err := client.KeyAuths.ListForConsumer(ctx, cons.ID, nil); err != nil || len(keys) != 1 {
		t.Fatalf("keys for consumer: %v", err)
	}
	pl, err := client.Plugins.CreateForService(ctx, svc.ID, &kong.Plugin{Name: kong.String("rate-limiting"), Config: kong.Configuration{"minute": 5}})
	if err != nil || pl.Config["minute"] != 5.0 || *pl.Service.ID != *svc.ID {
		t.Fatalf("create plugin: %v %v", pl, err)
	}
	pl.Config["minute"] = 7
	if pl, err = client.Plugins.Update(ctx, pl); err != nil || pl.Config["minute"] != 7.0 {
		t.Fatalf("update plugin: %v %v", pl, err)
	}
	if plugins, err := client.Plugins.ListAll(ctx); err != nil || len(plugins) != 1 {
		t.Fatalf("plugins: %v", err)
	}
	if err := client.KeyAuths.Delete(ctx, cons.ID, ka.ID); err != nil {
		t.Fatalf("delete key-auth: %v", err)
	}
	if err := client.Consumers.Delete(ctx, cons.ID); err != nil {
		t.Fatalf("delete consumer: %v", err)
	}

	// Deletes, including the service with a route (cascade).
	if err := client.Routes.Delete(ctx, rt.Name); err != nil {
		t.Fatalf("delete route: %v", err)
	}
	if err := client.Services.Delete(ctx, svc.Name); err != nil {
		t.Fatalf("delete service: %v", err)
	}
	if err := client.Upstreams.Delete(ctx, up.ID); err != nil {
		t.Fatalf("delete upstream: %v", err)
	}
	c := s.Current()
	if len(c.Services) != 1 || len(c.Routes) != 0 || len(c.Upstreams) != 0 || len(c.Targets) != 0 || len(c.Plugins) != 0 || len(c.Consumers) != 0 {
		t.Fatalf("after deletes: %d services %d routes %d upstreams %d targets", len(c.Services), len(c.Routes), len(c.Upstreams), len(c.Targets))
	}
}
