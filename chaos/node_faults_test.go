package chaos

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// recordingNode notes every call the node faults make, in order.
type recordingNode struct{ calls []string }

func (n *recordingNode) Name() string { return "n1" }
func (n *recordingNode) record(c string) error {
	n.calls = append(n.calls, c)
	return nil
}
func (n *recordingNode) Kill(context.Context) error { return n.record("kill") }
func (n *recordingNode) Stop(_ context.Context, grace time.Duration) error {
	return n.record("stop " + grace.String())
}
func (n *recordingNode) Start(context.Context) error      { return n.record("start") }
func (n *recordingNode) Pause(context.Context) error      { return n.record("pause") }
func (n *recordingNode) Unpause(context.Context) error    { return n.record("unpause") }
func (n *recordingNode) Disconnect(context.Context) error { return n.record("disconnect") }
func (n *recordingNode) Reconnect(context.Context) error  { return n.record("reconnect") }

// TestNodeFaults: each fault injects and reverts with the node calls its
// doc promises, and a second Revert does nothing.
func TestNodeFaults(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		fault      func(n *recordingNode) Fault
		name, kind string
		inject     []string
		revert     []string
	}{
		{func(n *recordingNode) Fault { return Kill(n) }, "kill n1", "kill", []string{"kill"}, []string{"start"}},
		{func(n *recordingNode) Fault { return Stop(n, 3*time.Second) }, "stop n1", "stop", []string{"stop 3s"}, []string{"start"}},
		{func(n *recordingNode) Fault { return Restart(n, time.Second) }, "restart n1", "restart", []string{"stop 1s", "start"}, nil},
		{func(n *recordingNode) Fault { return Pause(n) }, "pause n1", "pause", []string{"pause"}, []string{"unpause"}},
		{func(n *recordingNode) Fault { return Partition(n) }, "partition n1", "partition", []string{"disconnect"}, []string{"reconnect"}},
	}
	for _, tt := range tests {
		n := &recordingNode{}
		f := tt.fault(n)
		if f.Name() != tt.name || f.Kind() != tt.kind || f.Target() != "n1" {
			t.Errorf("%s: name %q kind %q target %q, want %q %q n1", tt.name, f.Name(), f.Kind(), f.Target(), tt.name, tt.kind)
		}
		if err := f.Inject(ctx); err != nil {
			t.Fatalf("%s: inject: %v", tt.name, err)
		}
		// A one-shot fault (restart) leaves nothing in effect to revert.
		if f.Active() != (tt.revert != nil) {
			t.Errorf("%s: active %v after inject", tt.name, f.Active())
		}
		if !reflect.DeepEqual(n.calls, tt.inject) {
			t.Errorf("%s: inject called %v, want %v", tt.name, n.calls, tt.inject)
		}
		n.calls = nil
		for i := 0; i < 2; i++ { // the second Revert must be a no-op
			if err := f.Revert(ctx); err != nil {
				t.Fatalf("%s: revert %d: %v", tt.name, i+1, err)
			}
		}
		if f.Active() {
			t.Errorf("%s: still active after revert", tt.name)
		}
		if len(n.calls) != len(tt.revert) || (len(tt.revert) > 0 && !reflect.DeepEqual(n.calls, tt.revert)) {
			t.Errorf("%s: revert called %v, want %v", tt.name, n.calls, tt.revert)
		}
	}
}
