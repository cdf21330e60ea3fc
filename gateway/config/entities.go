// Package config holds the gateway's configuration entities as Kong 3.x names and
// serialises them, their schema defaults and validation, and the declarative
// kong.yml format. Every other gateway package reads configuration only through a
// *Config snapshot, which is immutable once published.
package config

// Ref is a foreign key as Kong serialises it: {"id": "..."}. A nil *Ref is JSON null.
type Ref struct {
	ID string `json:"id"`
}

// Service is an upstream API (Kong's services entity).
type Service struct {
	ID                string   `json:"id"`
	Name              *string  `json:"name"`
	Protocol          string   `json:"protocol"`
	Host              string   `json:"host"`
	Port              int      `json:"port"`
	Path              *string  `json:"path"`
	Retries           int      `json:"retries"`
	ConnectTimeout    int      `json:"connect_timeout"`
	WriteTimeout      int      `json:"write_timeout"`
	ReadTimeout       int      `json:"read_timeout"`
	Tags              []string `json:"tags"`
	ClientCertificate *Ref     `json:"client_certificate"`
	TLSVerify         *bool    `json:"tls_verify"`
	TLSVerifyDepth    *int     `json:"tls_verify_depth"`
	CACertificates    []string `json:"ca_certificates"`
	Enabled           bool     `json:"enabled"`
	CreatedAt         int64    `json:"created_at"`
	UpdatedAt         int64    `json:"updated_at"`
}

// Route decides which requests reach a service (Kong's routes entity).
type Route struct {
	ID                      string              `json:"id"`
	Name                    *string             `json:"name"`
	Protocols               []string            `json:"protocols"`
	Methods                 []string            `json:"methods"`
	Hosts                   []string            `json:"hosts"`
	Paths                   []string            `json:"paths"`
	Headers                 map[string][]string `json:"headers"`
	HTTPSRedirectStatusCode int                 `json:"https_redirect_status_code"`
	RegexPriority           int                 `json:"regex_priority"`
	StripPath               bool                `json:"strip_path"`
	PathHandling            string              `json:"path_handling"`
	PreserveHost            bool                `json:"preserve_host"`
	RequestBuffering        bool                `json:"request_buffering"`
	ResponseBuffering       bool                `json:"response_buffering"`
	SNIs                    []string            `json:"snis"`
	Sources                 []CIDRPort          `json:"sources"`
	Destinations            []CIDRPort          `json:"destinations"`
	Tags                    []string            `json:"tags"`
	Service                 *Ref                `json:"service"`
	CreatedAt               int64               `json:"created_at"`
	UpdatedAt               int64               `json:"updated_at"`
}

// CIDRPort is a stream route's source or destination (kept for schema compatibility).
type CIDRPort struct {
	IP   *string `json:"ip,omitempty"`
	Port *int    `json:"port,omitempty"`
}

// Upstream is a virtual hostname with its own load balancer (Kong's upstreams entity).
type Upstream struct {
	ID                     string       `json:"id"`
	Name                   string       `json:"name"`
	Algorithm              string       `json:"algorithm"`
	HashOn                 string       `json:"hash_on"`
	HashFallback           string       `json:"hash_fallback"`
	HashOnHeader           *string      `json:"hash_on_header"`
	HashFallbackHeader     *string      `json:"hash_fallback_header"`
	HashOnCookie           *string      `json:"hash_on_cookie"`
	HashOnCookiePath       string       `json:"hash_on_cookie_path"`
	HashOnQueryArg         *string      `json:"hash_on_query_arg"`
	HashFallbackQueryArg   *string      `json:"hash_fallback_query_arg"`
	HashOnURICapture       *string      `json:"hash_on_uri_capture"`
	HashFallbackURICapture *string      `json:"hash_fallback_uri_capture"`
	Slots                  int          `json:"slots"`
	Healthchecks           Healthchecks `json:"healthchecks"`
	Tags                   []string     `json:"tags"`
	HostHeader             *string      `json:"host_header"`
	ClientCertificate      *Ref         `json:"client_certificate"`
	UseSRVName             bool         `json:"use_srv_name"`
	CreatedAt              int64        `json:"created_at"`
	UpdatedAt              int64        `json:"updated_at"`
}

// Healthchecks is Kong's upstream.healthchecks tree.
type Healthchecks struct {
	Active    ActiveHealthcheck  `json:"active"`
	Passive   PassiveHealthcheck `json:"passive"`
	Threshold float64            `json:"threshold"`
	// HalfOpen is a Gauntlet extension (not in Kong): recovery for passive-only setups.
	HalfOpen *HalfOpen `json:"half_open,omitempty"`
}

// HalfOpen lets one trial request through to a passively ejected target after
// Cooldown seconds; a success re-enables the target. Absent means Kong's behaviour.
type HalfOpen struct {
	Cooldown float64 `json:"cooldown"`
}

type ActiveHealthcheck struct {
	Type                   string              `json:"type"`
	Timeout                float64             `json:"timeout"`
	Concurrency            int                 `json:"concurrency"`
	HTTPPath               string              `json:"http_path"`
	HTTPSSNI               *string             `json:"https_sni"`
	HTTPSVerifyCertificate bool                `json:"https_verify_certificate"`
	Headers                map[string][]string `json:"headers"`
	Healthy                ActiveHealthy       `json:"healthy"`
	Unhealthy              ActiveUnhealthy     `json:"unhealthy"`
}

type ActiveHealthy struct {
	Interval     float64 `json:"interval"`
	HTTPStatuses []int   `json:"http_statuses"`
	Successes    int     `json:"successes"`
}

type ActiveUnhealthy struct {
	Interval     float64 `json:"interval"`
	HTTPStatuses []int   `json:"http_statuses"`
	TCPFailures  int     `json:"tcp_failures"`
	Timeouts     int     `json:"timeouts"`
	HTTPFailures int     `json:"http_failures"`
}

type PassiveHealthcheck struct {
	Type      string           `json:"type"`
	Healthy   PassiveHealthy   `json:"healthy"`
	Unhealthy PassiveUnhealthy `json:"unhealthy"`
}

type PassiveHealthy struct {
	HTTPStatuses []int `json:"http_statuses"`
	Successes    int   `json:"successes"`
}

type PassiveUnhealthy struct {
	HTTPStatuses []int `json:"http_statuses"`
	TCPFailures  int   `json:"tcp_failures"`
	Timeouts     int   `json:"timeouts"`
	HTTPFailures int   `json:"http_failures"`
}

// Target is one host:port behind an upstream, with a weight.
type Target struct {
	ID        string   `json:"id"`
	Target    string   `json:"target"`
	Weight    int      `json:"weight"`
	Upstream  *Ref     `json:"upstream"`
	Tags      []string `json:"tags"`
	CreatedAt float64  `json:"created_at"`
	UpdatedAt float64  `json:"updated_at"`
}

// Consumer is an API client identity for plugins such as key-auth.
type Consumer struct {
	ID        string   `json:"id"`
	Username  *string  `json:"username"`
	CustomID  *string  `json:"custom_id"`
	Tags      []string `json:"tags"`
	CreatedAt int64    `json:"created_at"`
	UpdatedAt int64    `json:"updated_at"`
}

// Plugin is a configured plugin instance, scoped globally or to a service,
// route and/or consumer. Config is the plugin's own schema, defaults filled in.
type Plugin struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	InstanceName *string        `json:"instance_name"`
	Config       map[string]any `json:"config"`
	Enabled      bool           `json:"enabled"`
	Protocols    []string       `json:"protocols"`
	Service      *Ref           `json:"service"`
	Route        *Ref           `json:"route"`
	Consumer     *Ref           `json:"consumer"`
	Tags         []string       `json:"tags"`
	CreatedAt    int64          `json:"created_at"`
	UpdatedAt    int64          `json:"updated_at"`
}

// KeyAuthCredential is a key-auth API key belonging to a consumer.
type KeyAuthCredential struct {
	ID        string   `json:"id"`
	Key       string   `json:"key"`
	Consumer  *Ref     `json:"consumer"`
	TTL       *int     `json:"ttl"`
	Tags      []string `json:"tags"`
	CreatedAt int64    `json:"created_at"`
}

// Config is one complete, consistent configuration. A published *Config is never
// mutated: writers build a new one and the store swaps it in atomically, so the
// proxy can read it without locks. Slices keep creation order.
type Config struct {
	Services           []*Service           `json:"services"`
	Routes             []*Route             `json:"routes"`
	Upstreams          []*Upstream          `json:"upstreams"`
	Targets            []*Target            `json:"targets"`
	Consumers          []*Consumer          `json:"consumers"`
	Plugins            []*Plugin            `json:"plugins"`
	KeyAuthCredentials []*KeyAuthCredential `json:"keyauth_credentials"`

	idx *index // only during a declarative load; see index
}
