package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	mockbin "github.com/gauntlet-dev/gauntlet/mockbin/server"
)

// MockbinFault is the body of mockbin's PUT /__mockbin/fault: how the instance
// misbehaves until the fault is cleared. It is mockbin's own type, so the two
// cannot drift apart.
type MockbinFault = mockbin.Fault

// Mockbin switches a mockbin instance (baseURL reachable from the harness) into
// fault mode on Inject and clears it on Revert.
func Mockbin(name, baseURL string, f MockbinFault) Fault {
	url := strings.TrimSuffix(baseURL, "/") + "/__mockbin/fault"
	body, _ := json.Marshal(f) // plain fields and slices always marshal
	return Custom("mockbin fault on "+name, "mockbin-fault", name,
		func(ctx context.Context) error { return send(ctx, http.MethodPut, url, body) },
		func(ctx context.Context) error { return send(ctx, http.MethodDelete, url, nil) })
}

func send(ctx context.Context, method, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
