package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// period is one of Kong's fixed rate-limiting windows, shortest first.
type period uint8

const (
	perSecond period = iota
	perMinute
	perHour
	perDay
	perMonth
	perYear
	numPeriods
)

var periodNames = [numPeriods]string{"second", "minute", "hour", "day", "month", "year"}

// Header names, pre-canonicalised so setting them costs no string work per request.
var (
	hdrLimit     [numPeriods]string
	hdrRemaining [numPeriods]string
)

func init() {
	titles := [numPeriods]string{"Second", "Minute", "Hour", "Day", "Month", "Year"}
	for p := range numPeriods {
		hdrLimit[p] = http.CanonicalHeaderKey("X-RateLimit-Limit-" + titles[p])
		hdrRemaining[p] = http.CanonicalHeaderKey("X-RateLimit-Remaining-" + titles[p])
	}
}

const (
	hdrRateLimitLimit     = "Ratelimit-Limit" // canonical form of RateLimit-Limit
	hdrRateLimitRemaining = "Ratelimit-Remaining"
	hdrRateLimitReset     = "Ratelimit-Reset"
	hdrRetryAfter         = "Retry-After"
)

// windowBounds returns the start and end (Unix seconds) of the UTC calendar window
// of period p that contains now. Unix time has no leap seconds, so second..day are
// plain modular arithmetic; month and year follow the calendar.
func windowBounds(p period, now time.Time) (start, end int64) {
	s := now.Unix()
	switch p {
	case perSecond:
		return s, s + 1
	case perMinute:
		start = s - mod(s, 60)
		return start, start + 60
	case perHour:
		start = s - mod(s, 3600)
		return start, start + 3600
	case perDay:
		start = s - mod(s, 86400)
		return start, start + 86400
	case perMonth:
		u := now.UTC()
		st := time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
		return st.Unix(), st.AddDate(0, 1, 0).Unix()
	default:
		u := now.UTC()
		st := time.Date(u.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return st.Unix(), st.AddDate(1, 0, 0).Unix()
	}
}

// mod is a non-negative remainder, so windows before 1970 still align.
func mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

// windows is one request's view of a rate-limit key: the configured periods with
// their limits and current window bounds in, the counts out. It lives on the
// stack of Access so counting allocates nothing.
type windows struct {
	n      int
	period [numPeriods]period
	limit  [numPeriods]int64
	start  [numPeriods]int64
	end    [numPeriods]int64
	// count is, per period, the count after this request when admitted, or the
	// current count when rejected (rejected requests are not counted).
	count [numPeriods]int64
}

// counterKey names one rate-limit counter set, as Kong does: the plugin's scope
// (its route and service ids) and the identifier of the client.
type counterKey struct {
	scope string // "<route_id>:<service_id>" of the plugin entity
	id    string
}

// counterStore counts requests exactly: take admits the request only if every
// period has room, and then counts it in every period, atomically.
type counterStore interface {
	take(ctx context.Context, key counterKey, w *windows, now time.Time) (admitted bool, err error)
}

// rlConfig is a validated rate-limiting config in the form Access uses.
type rlConfig struct {
	limits        [numPeriods]int64 // 0: period not configured
	limitBy       string
	headerName    string // canonical
	path          string
	policy        string
	faultTolerant bool
	redis         redisOptions
	hideHeaders   bool
	errorCode     int
	errorMessage  string
}

func parseRateLimitConfig(cfg map[string]any) (rlConfig, error) {
	var c rlConfig
	for p := range numPeriods {
		if v, ok := config.ToNumber(cfg[periodNames[p]]); ok && v > 0 {
			// Kong compares usage against a possibly fractional limit; counting in
			// whole requests, a limit of 2.5 admits 3.
			c.limits[p] = int64(math.Ceil(v))
		}
	}
	c.limitBy, _ = cfg["limit_by"].(string)
	if h, ok := cfg["header_name"].(string); ok {
		c.headerName = http.CanonicalHeaderKey(h)
	}
	c.path, _ = cfg["path"].(string)
	c.policy, _ = cfg["policy"].(string)
	c.faultTolerant, _ = cfg["fault_tolerant"].(bool)
	c.hideHeaders, _ = cfg["hide_client_headers"].(bool)
	code, _ := config.ToNumber(cfg["error_code"])
	c.errorCode = int(code)
	c.errorMessage, _ = cfg["error_message"].(string)
	if r, ok := cfg["redis"].(map[string]any); ok {
		c.redis = parseRedisOptions(r)
	}
	if c.policy == "redis" && c.redis.host == "" {
		return c, errors.New("redis policy without redis.host")
	}
	if c.errorCode < 100 || c.errorCode > 999 {
		return c, fmt.Errorf("error_code %d is not an HTTP status", c.errorCode)
	}
	return c, nil
}

// rateLimiter is one configured rate-limiting plugin instance.
type rateLimiter struct {
	cfg      rlConfig
	scope    string
	store    counterStore
	clock    func() time.Time
	log      *slog.Logger
	pluginID string
	// periods lists the configured periods shortest first, so Access never scans
	// unconfigured ones.
	periods []period
	// limitStr holds the X-RateLimit-Limit-* values, formatted once.
	limitStr [numPeriods]string
	// lastErrLog throttles store-error logs to one a second: with the store down,
	// every request fails the same way.
	lastErrLog atomic.Int64
}

// emptyUUID stands for "no route" or "no service" in counter keys, as in Kong.
const emptyUUID = "00000000-0000-0000-0000-000000000000"

func newRateLimiter(b *builder, p *config.Plugin, cfg map[string]any) (handler, error) {
	c, err := parseRateLimitConfig(cfg)
	if err != nil {
		return nil, err
	}
	route, service := emptyUUID, emptyUUID
	if p.Route != nil && p.Route.ID != "" {
		route = p.Route.ID
	}
	if p.Service != nil && p.Service.ID != "" {
		service = p.Service.ID
	}
	rl := &rateLimiter{
		cfg:      c,
		scope:    route + ":" + service,
		clock:    b.m.clock,
		log:      b.m.log,
		pluginID: p.ID,
	}
	for per := range numPeriods {
		if c.limits[per] > 0 {
			rl.periods = append(rl.periods, per)
			rl.limitStr[per] = strconv.FormatInt(c.limits[per], 10)
		}
	}
	if len(rl.periods) == 0 {
		return nil, errors.New("no limit configured")
	}
	switch c.policy {
	case "redis":
		rl.store = b.redisStore(c.redis)
	default:
		// "cluster" is Kong's database policy. Our store is in-process and there
		// is no shared database, so it counts like "local" (per node).
		rl.store = b.m.local
	}
	return rl, nil
}

// identifier picks the counter identity by limit_by; every missing entity falls
// back to the client IP, as in Kong.
func (rl *rateLimiter) identifier(ctx *Context) string {
	var id string
	switch rl.cfg.limitBy {
	case "consumer":
		if ctx.Consumer != nil {
			id = ctx.Consumer.ID
		} else if ctx.Credential != nil {
			id = ctx.Credential.ID
		}
	case "credential":
		if ctx.Credential != nil {
			id = ctx.Credential.ID
		}
	case "service":
		if ctx.Service != nil {
			id = ctx.Service.ID
		}
	case "header":
		if ctx.Request != nil && rl.cfg.headerName != "" {
			if v := ctx.Request.Header[rl.cfg.headerName]; len(v) > 0 {
				id = v[0]
			}
		}
	case "path":
		if ctx.Request != nil && ctx.Request.URL != nil && ctx.Request.URL.Path == rl.cfg.path {
			id = rl.cfg.path
		}
	}
	if id == "" {
		id = ctx.ClientIP
	}
	return id
}

func (rl *rateLimiter) access(ctx *Context) *Exit {
	now := rl.clock()
	var w windows
	w.n = len(rl.periods)
	for i, p := range rl.periods {
		w.period[i] = p
		w.limit[i] = rl.cfg.limits[p]
		w.start[i], w.end[i] = windowBounds(p, now)
	}
	key := counterKey{scope: rl.scope, id: rl.identifier(ctx)}
	reqCtx := context.Background()
	if ctx.Request != nil {
		reqCtx = ctx.Request.Context()
	}
	admitted, err := rl.store.take(reqCtx, key, &w, now)
	if err != nil {
		rl.logStoreError(now, err)
		if rl.cfg.faultTolerant {
			// Kong: proxy anyway, without rate-limit headers.
			return nil
		}
		return &Exit{Status: http.StatusInternalServerError, Message: "An unexpected error occurred"}
	}

	var reset int64
	if !rl.cfg.hideHeaders {
		h := ctx.ResponseHeader
		// One backing array for every header value: header slices stay len == cap
		// == 1, so appending to one later copies instead of clobbering the next.
		vals := make([]string, 2*w.n+3)
		// The most restrictive period: fewest remaining, ties to the longer window.
		best := -1
		var bestRemaining int64
		for i := 0; i < w.n; i++ {
			p := w.period[i]
			remaining := max(w.limit[i]-w.count[i], 0)
			vals[2*i] = rl.limitStr[p]
			vals[2*i+1] = strconv.FormatInt(remaining, 10)
			h[hdrLimit[p]] = vals[2*i : 2*i+1 : 2*i+1]
			h[hdrRemaining[p]] = vals[2*i+1 : 2*i+2 : 2*i+2]
			if best < 0 || remaining <= bestRemaining {
				best, bestRemaining = i, remaining
			}
		}
		// Seconds to the window's end, counted from the whole second as Kong does
		// (ngx.time()), never below 1.
		reset = max(w.end[best]-now.Unix(), 1)
		k := 2 * w.n
		vals[k] = rl.limitStr[w.period[best]]
		vals[k+1] = strconv.FormatInt(bestRemaining, 10)
		vals[k+2] = strconv.FormatInt(reset, 10)
		h[hdrRateLimitLimit] = vals[k : k+1 : k+1]
		h[hdrRateLimitRemaining] = vals[k+1 : k+2 : k+2]
		h[hdrRateLimitReset] = vals[k+2 : k+3 : k+3]
	}
	if admitted {
		return nil
	}
	exit := &Exit{Status: rl.cfg.errorCode, Message: rl.cfg.errorMessage}
	// Kong computes Retry-After together with the client headers, so
	// hide_client_headers suppresses it as well.
	if reset > 0 {
		exit.Header = http.Header{hdrRetryAfter: []string{strconv.FormatInt(reset, 10)}}
	}
	return exit
}

func (rl *rateLimiter) logStoreError(now time.Time, err error) {
	sec := now.Unix()
	last := rl.lastErrLog.Load()
	if sec == last || !rl.lastErrLog.CompareAndSwap(last, sec) {
		return
	}
	rl.log.Error("rate-limiting: counter store failed",
		"plugin", rl.pluginID, "policy", rl.cfg.policy,
		"fault_tolerant", rl.cfg.faultTolerant, "err", err)
}

// The rate-limiting plugin's schema, as Kong 3.9 defines it.

func rateLimitFields() []*config.Field {
	greaterThanZero := 0.0
	periods := make([]*config.Field, 0, numPeriods)
	for p := range numPeriods {
		periods = append(periods, &config.Field{
			Name:        periodNames[p],
			Type:        config.TNumber,
			Gt:          &greaterThanZero,
			Description: fmt.Sprintf("The number of HTTP requests that can be made per %s.", periodNames[p]),
		})
	}
	return append(periods,
		&config.Field{Name: "limit_by", Type: config.TString, Default: "consumer",
			OneOf:       config.StringValues("consumer", "credential", "ip", "service", "header", "path"),
			Description: "The entity that is used when aggregating the limits."},
		headerNameField("header_name", "A string representing an HTTP header name."),
		&config.Field{Name: "path", Type: config.TString, Check: checkPath,
			Description: "A string representing a URL path, such as /path/to/resource."},
		&config.Field{Name: "policy", Type: config.TString, Default: "local", Extra: lenMinZero(nil),
			OneOf:       config.StringValues("local", "cluster", "redis"),
			Description: "The rate-limiting policies to use for retrieving and incrementing the limits."},
		&config.Field{Name: "fault_tolerant", Type: config.TBoolean, Required: true, Default: true,
			Description: "Proxy requests even if the counter store cannot be reached; false answers 500 instead."},
		&config.Field{Name: "redis", Type: config.TRecord, Required: true, Fields: redisFields()},
		&config.Field{Name: "hide_client_headers", Type: config.TBoolean, Required: true, Default: false,
			Description: "Optionally hide informative response headers."},
		&config.Field{Name: "error_code", Type: config.TNumber, Default: float64(429), Gt: &greaterThanZero,
			Description: "Set a custom error code to return when the rate limit is exceeded."},
		&config.Field{Name: "error_message", Type: config.TString, Default: "API rate limit exceeded",
			Description: "Set a custom error message to return when the rate limit is exceeded."},
		&config.Field{Name: "sync_rate", Type: config.TNumber, Required: true, Default: float64(-1),
			Description: "How often to sync counter data to the central data store. Counting here is always synchronous; the field is accepted for compatibility."},
	)
}

func redisFields() []*config.Field {
	return []*config.Field{
		{Name: "host", Type: config.TString, Check: checkHost, Description: "A string representing a host name, such as example.com."},
		{Name: "port", Type: config.TInteger, Default: 6379, Between: &[2]float64{0, 65535}, Description: "An integer representing a port number between 0 and 65535, inclusive."},
		{Name: "timeout", Type: config.TInteger, Default: 2000, Between: &[2]float64{0, math.MaxInt32 - 1}, Description: "A timeout in milliseconds. Must be between 0 and 2^31-2."},
		{Name: "username", Type: config.TString, Extra: map[string]any{"referenceable": true},
			Description: "Username to use for Redis connections. If undefined, ACL authentication won't be performed."},
		{Name: "password", Type: config.TString, Extra: lenMinZero(map[string]any{"referenceable": true, "encrypted": true}),
			Description: "Password to use for Redis connections. If undefined, no AUTH commands are sent to Redis."},
		{Name: "database", Type: config.TInteger, Default: 0, Description: "Database to use for the Redis connection."},
		{Name: "ssl", Type: config.TBoolean, Default: false, Description: "If set to true, uses SSL to connect to Redis."},
		{Name: "ssl_verify", Type: config.TBoolean, Default: false, Description: "If set to true, verifies the validity of the server SSL certificate."},
		{Name: "server_name", Type: config.TString, Description: "A string representing an SNI (server name indication) value for TLS."},
	}
}

// rateLimitShorthand maps Kong's deprecated flat redis_* fields into config.redis;
// a value given in config.redis itself wins.
func rateLimitShorthand(in map[string]any) map[string]any {
	const prefix = "redis_"
	out := make(map[string]any, len(in))
	var moved map[string]any
	for k, v := range in {
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
			if moved == nil {
				moved = map[string]any{}
			}
			moved[name] = v
			continue
		}
		out[k] = v
	}
	if moved == nil {
		return in
	}
	redis := map[string]any{}
	if r, ok := in["redis"].(map[string]any); ok {
		for k, v := range r {
			redis[k] = v
		}
	}
	for k, v := range moved {
		if _, set := redis[k]; !set {
			redis[k] = v
		}
	}
	out["redis"] = redis
	return out
}

// rateLimitCheck runs the schema's entity_checks and custom_validator.
func rateLimitCheck(cfg map[string]any, cfgErrs map[string]any) []any {
	var entity []any
	periodErr := false
	anySet := false
	for p := range numPeriods {
		if _, bad := cfgErrs[periodNames[p]]; bad {
			periodErr = true
		}
		if cfg[periodNames[p]] != nil {
			anySet = true
		}
	}
	if !anySet && !periodErr {
		entity = append(entity, fmt.Sprintf(config.MsgAtLeastOne,
			"'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'"))
	}
	policy, _ := cfg["policy"].(string)
	// Like Kong, a check is skipped when a field it reads already failed.
	if _, redisBad := cfgErrs["redis"]; policy == "redis" && !redisBad {
		redis, _ := cfg["redis"].(map[string]any)
		missing := false
		for _, f := range []string{"host", "port", "timeout"} {
			if redis == nil || redis[f] == nil {
				setNestedErr(cfgErrs, "redis", f, config.MsgRequired)
				missing = true
			}
		}
		if missing {
			entity = append(entity, fmt.Sprintf(config.MsgConditional, "config.policy"))
		}
	}
	limitBy, _ := cfg["limit_by"].(string)
	for _, cond := range []struct{ by, field string }{{"header", "header_name"}, {"path", "path"}} {
		if _, bad := cfgErrs[cond.field]; limitBy == cond.by && cfg[cond.field] == nil && !bad {
			cfgErrs[cond.field] = config.MsgRequired
			entity = append(entity, fmt.Sprintf(config.MsgConditional, "config.limit_by"))
		}
	}
	if len(cfgErrs) == 0 {
		// custom_validator: runs on a config whose fields are valid.
		if msg := checkPeriodOrder(cfg); msg != "" {
			// Reported as the config field's own error (config.PluginConfigMessage).
			cfgErrs[config.PluginConfigMessage] = msg
		}
	}
	return entity
}

// checkPeriodOrder is Kong's validate_periods_order: a longer period cannot have
// a lower limit, and sync_rate only makes sense for redis.
func checkPeriodOrder(cfg map[string]any) string {
	for i := range numPeriods {
		v1, ok := config.ToNumber(cfg[periodNames[i]])
		if !ok {
			continue
		}
		for j := i + 1; j < numPeriods; j++ {
			v2, ok := config.ToNumber(cfg[periodNames[j]])
			if ok && v2 < v1 {
				return fmt.Sprintf("The limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)",
					periodNames[j], v2, periodNames[i], v1)
			}
		}
	}
	policy, _ := cfg["policy"].(string)
	syncRate, _ := config.ToNumber(cfg["sync_rate"])
	if policy != "redis" && syncRate != -1 {
		return "sync_rate can only be used with the redis policy"
	}
	if policy == "redis" && syncRate != -1 && syncRate < 0.02 {
		return "sync_rate must be greater than 0.02, or -1 to disable"
	}
	return ""
}

func setNestedErr(errs map[string]any, rec, f string, msg any) {
	sub, ok := errs[rec].(map[string]any)
	if !ok {
		sub = map[string]any{}
		errs[rec] = sub
	}
	sub[f] = msg
}

func init() {
	register(&definition{
		info:      Info{Name: "rate-limiting", Version: config.KongVersion, Priority: 910},
		protocols: []string{"grpc", "grpcs", "http", "https"},
		fields:    rateLimitFields(),
		shorthand: rateLimitShorthand,
		check:     rateLimitCheck,
		entityJSON: []any{
			map[string]any{"at_least_one_of": []string{"config.second", "config.minute", "config.hour", "config.day", "config.month", "config.year"}},
			conditionalJSON("config.policy", map[string]any{"eq": "redis"}, "config.redis.host"),
			conditionalJSON("config.policy", map[string]any{"eq": "redis"}, "config.redis.port"),
			conditionalJSON("config.policy", map[string]any{"eq": "redis"}, "config.redis.timeout"),
			conditionalJSON("config.limit_by", map[string]any{"eq": "header"}, "config.header_name"),
			conditionalJSON("config.limit_by", map[string]any{"eq": "path"}, "config.path"),
		},
		build: newRateLimiter,
	})
}

func conditionalJSON(ifField string, ifMatch map[string]any, thenField string) map[string]any {
	return map[string]any{"conditional": map[string]any{
		"if_field": ifField, "if_match": ifMatch,
		"then_field": thenField, "then_match": map[string]any{"required": true},
	}}
}
