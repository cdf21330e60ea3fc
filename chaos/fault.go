// Package chaos injects faults into a running stack: process signals (kill, stop,
// pause), network partitions, connection-level toxics through Toxiproxy and
// mockbin's own fault mode. Faults are kept apart from load and from judgement
// (the etcd functional tester's "nemesis"): each has a kind, a target, an
// Inject and a Revert, and a Timeline records when each actually started and
// ended (as etcd's robustness failpoints report name, target, start and end).
package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Fault is one reversible failure. Revert restores what Inject broke; it is a
// no-op when the fault is not injected, so teardown can call it unconditionally.
type Fault interface {
	// Name is the fault for humans ("kill mockbin1"), in logs and reports.
	// Code reads Kind and Target instead of taking the name apart.
	Name() string
	// Kind is the fault family: kill, stop, pause, partition, a toxic's type…
	Kind() string
	// Target is what the fault hits: a node, proxy or instance name ("" when
	// it hits nothing in particular).
	Target() string
	// Active reports whether the fault is injected and not yet reverted.
	Active() bool
	Inject(ctx context.Context) error
	Revert(ctx context.Context) error
}

// Node is a running component chaos can signal: a container or a local process.
// The stack package implements it for both.
type Node interface {
	Name() string
	// Kill sends SIGKILL and returns once the node is no longer running.
	Kill(ctx context.Context) error
	// Stop sends SIGTERM, waits up to grace for a clean exit, then kills.
	Stop(ctx context.Context, grace time.Duration) error
	// Start starts a stopped or killed node and returns once it answers its
	// readiness check.
	Start(ctx context.Context) error
	// Pause freezes every process of the node (cgroup freezer or SIGSTOP);
	// open connections stay open and silent.
	Pause(ctx context.Context) error
	Unpause(ctx context.Context) error
}

// Partitionable is a node that can be cut off from the stack's network.
type Partitionable interface {
	Node
	Disconnect(ctx context.Context) error
	Reconnect(ctx context.Context) error
}

// toggle is the shared bookkeeping of a reversible fault: it runs inject and
// revert at most once each per cycle, so Revert after a failed or skipped
// Inject does nothing.
type toggle struct {
	name, kind, target string
	inject             func(ctx context.Context) error
	revert             func(ctx context.Context) error

	mu     sync.Mutex
	active bool
}

func (t *toggle) Name() string   { return t.name }
func (t *toggle) Kind() string   { return t.kind }
func (t *toggle) Target() string { return t.target }

func (t *toggle) Active() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active
}

func (t *toggle) Inject(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.active {
		return fmt.Errorf("fault %s: already injected", t.name)
	}
	if err := t.inject(ctx); err != nil {
		return fmt.Errorf("inject %s: %w", t.name, err)
	}
	t.active = t.revert != nil
	return nil
}

func (t *toggle) Revert(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.active {
		return nil
	}
	if err := t.revert(ctx); err != nil {
		return fmt.Errorf("revert %s: %w", t.name, err)
	}
	t.active = false
	return nil
}

// Custom builds a fault from two functions; revert may be nil for a one-shot
// action that leaves nothing to undo.
func Custom(name, kind, target string, inject, revert func(ctx context.Context) error) Fault {
	return &toggle{name: name, kind: kind, target: target, inject: inject, revert: revert}
}

// Kill sends SIGKILL to the node; Revert starts it again.
func Kill(n Node) Fault {
	return Custom("kill "+n.Name(), "kill", n.Name(), n.Kill, n.Start)
}

// Stop stops the node gracefully (SIGTERM, then SIGKILL after grace); Revert
// starts it again.
func Stop(n Node, grace time.Duration) Fault {
	return Custom("stop "+n.Name(), "stop", n.Name(),
		func(ctx context.Context) error { return n.Stop(ctx, grace) }, n.Start)
}

// Restart stops the node gracefully and starts it again in one action; it leaves
// nothing to revert.
func Restart(n Node, grace time.Duration) Fault {
	return Custom("restart "+n.Name(), "restart", n.Name(), func(ctx context.Context) error {
		if err := n.Stop(ctx, grace); err != nil {
			return err
		}
		return n.Start(ctx)
	}, nil)
}

// Pause freezes the node; Revert thaws it.
func Pause(n Node) Fault {
	return Custom("pause "+n.Name(), "pause", n.Name(), n.Pause, n.Unpause)
}

// Partition disconnects the node from the stack's network; Revert reconnects it.
func Partition(n Partitionable) Fault {
	return Custom("partition "+n.Name(), "partition", n.Name(), n.Disconnect, n.Reconnect)
}
