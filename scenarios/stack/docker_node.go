package stack

import (
	"context"
	"fmt"
	"time"

	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// containerNode is a container as a chaos target.
type containerNode struct {
	name    string
	c       *testcontainers.DockerContainer
	cli     *client.Client
	netID   string
	aliases []string
}

func (n *containerNode) Name() string { return n.name }

func (n *containerNode) Kill(ctx context.Context) error {
	if _, err := n.cli.ContainerKill(ctx, n.c.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", n.name, err)
	}
	return n.waitStopped(ctx)
}

func (n *containerNode) waitStopped(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := n.c.State(ctx)
		if err != nil {
			return fmt.Errorf("state of %s: %w", n.name, err)
		}
		if !st.Running {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still running 10s after kill", n.name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (n *containerNode) Stop(ctx context.Context, grace time.Duration) error {
	if err := n.c.Stop(ctx, &grace); err != nil {
		return fmt.Errorf("stop %s: %w", n.name, err)
	}
	return nil
}

// Start starts the container again and waits for its readiness check; the
// container keeps its writable layer, so the gateway's data dir survives.
func (n *containerNode) Start(ctx context.Context) error {
	if err := n.c.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	return nil
}

func (n *containerNode) Pause(ctx context.Context) error {
	_, err := n.cli.ContainerPause(ctx, n.c.GetContainerID(), client.ContainerPauseOptions{})
	if err != nil {
		return fmt.Errorf("pause %s: %w", n.name, err)
	}
	return nil
}

func (n *containerNode) Unpause(ctx context.Context) error {
	_, err := n.cli.ContainerUnpause(ctx, n.c.GetContainerID(), client.ContainerUnpauseOptions{})
	if err != nil {
		return fmt.Errorf("unpause %s: %w", n.name, err)
	}
	return nil
}

func (n *containerNode) Disconnect(ctx context.Context) error {
	_, err := n.cli.NetworkDisconnect(ctx, n.netID, client.NetworkDisconnectOptions{Container: n.c.GetContainerID(), Force: true})
	if err != nil {
		return fmt.Errorf("disconnect %s: %w", n.name, err)
	}
	return nil
}

func (n *containerNode) Reconnect(ctx context.Context) error {
	_, err := n.cli.NetworkConnect(ctx, n.netID, client.NetworkConnectOptions{
		Container:      n.c.GetContainerID(),
		EndpointConfig: &mobynet.EndpointSettings{Aliases: n.aliases},
	})
	if err != nil {
		return fmt.Errorf("reconnect %s: %w", n.name, err)
	}
	return nil
}
