package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Labels put on every container, network and image the harness creates, so it
// can find and remove its own objects (Ryuk, testcontainers' reaper, cannot be
// pulled here) and tell a live run's objects from a crashed run's leftovers.
const (
	LabelHarness = "dev.gauntlet.harness"
	// LabelOwner is "hostname:pid" of the process that created the object.
	LabelOwner = "dev.gauntlet.owner"
	LabelRun   = "dev.gauntlet.run"
)

// Owner identifies this process in LabelOwner.
func Owner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// ownerAlive reports whether the process named by an owner label still runs.
// An owner on another host (a shared Docker engine) is assumed alive: only its
// own host can tell.
func ownerAlive(owner string) bool {
	host, pidText, ok := strings.Cut(owner, ":")
	if !ok {
		return false
	}
	if me, _ := os.Hostname(); host != me {
		return true
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Stale reports whether an object with these labels is a leftover: made by the
// harness, and its owner process is gone.
func Stale(labels map[string]string, alive func(owner string) bool) bool {
	if labels[LabelHarness] == "" {
		return false
	}
	return !alive(labels[LabelOwner])
}

// Selector decides which labelled objects Cleanup removes.
type Selector func(labels map[string]string) bool

// StaleSelector selects leftovers of runs whose process has died.
func StaleSelector() Selector {
	return func(l map[string]string) bool { return Stale(l, ownerAlive) }
}

// RunSelector selects the objects of one run.
func RunSelector(run string) Selector {
	return func(l map[string]string) bool { return l[LabelHarness] != "" && l[LabelRun] == run }
}

// Removed counts what Cleanup removed.
type Removed struct{ Containers, Networks, Images int }

// Cleanup removes the harness's containers, then networks, then images that
// sel selects. Containers go first because a network or image in use cannot
// be removed. Every failure is reported, none stops the rest.
func Cleanup(ctx context.Context, cli *client.Client, sel Selector) (Removed, error) {
	var out Removed
	var errs []error
	filter := client.Filters{}.Add("label", LabelHarness)

	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return out, fmt.Errorf("cleanup: list containers: %w", err)
	}
	for _, c := range cs.Items {
		if !sel(c.Labels) {
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("cleanup: remove container %s: %w", c.ID[:12], err))
			continue
		}
		out.Containers++
	}

	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return out, errors.Join(append(errs, fmt.Errorf("cleanup: list networks: %w", err))...)
	}
	for _, n := range ns.Items {
		if !sel(n.Labels) {
			continue
		}
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("cleanup: remove network %s: %w", n.Name, err))
			continue
		}
		out.Networks++
	}

	is, err := cli.ImageList(ctx, client.ImageListOptions{Filters: filter})
	if err != nil {
		return out, errors.Join(append(errs, fmt.Errorf("cleanup: list images: %w", err))...)
	}
	for _, im := range is.Items {
		if !sel(im.Labels) {
			continue
		}
		if _, err := cli.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("cleanup: remove image %s: %w", im.ID, err))
			continue
		}
		out.Images++
	}
	return out, errors.Join(errs...)
}

func isNotFound(err error) bool {
	return err != nil && (cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "No such"))
}
