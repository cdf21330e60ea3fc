package chaos

import (
	"context"
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// Toxic is a Toxiproxy toxic: a connection-level fault on one proxy.
// See https://github.com/Shopify/toxiproxy#toxics for the attribute meanings.
type Toxic struct {
	Type string
	// Stream is "downstream" (upstream → client, the default) or "upstream".
	Stream     string
	Toxicity   float32
	Attributes toxiproxy.Attributes
}

// Latency delays all data by latency ± jitter.
func Latency(latency, jitter time.Duration) Toxic {
	return Toxic{Type: "latency", Attributes: toxiproxy.Attributes{
		"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()}}
}

// Timeout stops all data and closes the connection after d; d = 0 holds it
// open and silent until the toxic is removed (a blackhole).
func Timeout(d time.Duration) Toxic {
	return Toxic{Type: "timeout", Attributes: toxiproxy.Attributes{"timeout": d.Milliseconds()}}
}

// ResetPeer resets connections with a TCP RST after d (0 = immediately).
func ResetPeer(d time.Duration) Toxic {
	return Toxic{Type: "reset_peer", Attributes: toxiproxy.Attributes{"timeout": d.Milliseconds()}}
}

// Bandwidth limits the stream to kbps kilobytes per second.
func Bandwidth(kbps int64) Toxic {
	return Toxic{Type: "bandwidth", Attributes: toxiproxy.Attributes{"rate": kbps}}
}

// Slicer cuts data into packets of about avgBytes (± variation) with delay between them.
func Slicer(avgBytes, variation int, delay time.Duration) Toxic {
	return Toxic{Type: "slicer", Attributes: toxiproxy.Attributes{
		"average_size": avgBytes, "size_variation": variation, "delay": delay.Microseconds()}}
}

// SlowClose delays the TCP close by d.
func SlowClose(d time.Duration) Toxic {
	return Toxic{Type: "slow_close", Attributes: toxiproxy.Attributes{"delay": d.Milliseconds()}}
}

// Upstream returns the toxic applied to the client → upstream direction.
func (t Toxic) Upstream() Toxic { t.Stream = "upstream"; return t }

// ToxicOn adds the toxic to the proxy on Inject and removes it on Revert.
func ToxicOn(p *toxiproxy.Proxy, t Toxic) Fault {
	stream := t.Stream
	if stream == "" {
		stream = "downstream"
	}
	toxicity := t.Toxicity
	if toxicity == 0 {
		toxicity = 1
	}
	name := fmt.Sprintf("%s_%s", t.Type, stream)
	return Custom(fmt.Sprintf("%s on %s", t.Type, p.Name), t.Type, p.Name,
		func(context.Context) error {
			_, err := p.AddToxic(name, t.Type, stream, toxicity, t.Attributes)
			return err
		},
		func(context.Context) error { return p.RemoveToxic(name) })
}
