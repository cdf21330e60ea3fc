package plugins

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisOptions is config.redis of the rate-limiting plugin. It is comparable and
// names one shared client: plugins with equal options share a connection pool.
type redisOptions struct {
	host       string
	port       int
	username   string
	password   string
	database   int
	timeout    time.Duration
	ssl        bool
	sslVerify  bool
	serverName string
}

func parseRedisOptions(r map[string]any) redisOptions {
	o := redisOptions{port: 6379, timeout: 2 * time.Second}
	o.host, _ = r["host"].(string)
	if v, ok := config.ToNumber(r["port"]); ok {
		o.port = int(v)
	}
	o.username, _ = r["username"].(string)
	o.password, _ = r["password"].(string)
	if v, ok := config.ToNumber(r["database"]); ok {
		o.database = int(v)
	}
	if v, ok := config.ToNumber(r["timeout"]); ok {
		o.timeout = time.Duration(v) * time.Millisecond
	}
	o.ssl, _ = r["ssl"].(bool)
	o.sslVerify, _ = r["ssl_verify"].(bool)
	o.serverName, _ = r["server_name"].(string)
	return o
}

func (o redisOptions) addr() string { return net.JoinHostPort(o.host, strconv.Itoa(o.port)) }

func (o redisOptions) clientOptions() *redis.Options {
	opts := &redis.Options{
		Addr:     o.addr(),
		Username: o.username,
		Password: o.password,
		DB:       o.database,
		Protocol: 2,
		// A lost reply to the counting script must not be retried: the script may
		// have run, and running it twice would count one request twice.
		MaxRetries: -1,
		// One dial per attempt: with Redis down, requests should learn it at once
		// (the breaker below then keeps them off the network for a while).
		DialerRetries:            1,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if o.timeout > 0 {
		opts.DialTimeout = o.timeout
		opts.ReadTimeout = o.timeout
		opts.WriteTimeout = o.timeout
		opts.PoolTimeout = o.timeout
	}
	if o.ssl {
		sni := o.serverName
		if sni == "" {
			sni = o.host
		}
		opts.TLSConfig = &tls.Config{ServerName: sni, InsecureSkipVerify: !o.sslVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // Kong's ssl_verify=false default
	}
	return opts
}

// takeScript checks every period of a key and counts the request in all of them
// only if all have room: the whole decision is one atomic round trip.
// KEYS[i]: the counter of period i. ARGV[i]: its limit; ARGV[n+i]: its TTL in
// seconds. Returns {rejected(0|1), count_1, ..., count_n}, counts after the
// increment when admitted, as found when rejected.
var takeScript = redis.NewScript(`
local n = #KEYS
local res = {0}
for i = 1, n do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  res[i + 1] = c
  if c >= tonumber(ARGV[i]) then res[1] = 1 end
end
if res[1] == 0 then
  for i = 1, n do
    local c = redis.call('INCR', KEYS[i])
    res[i + 1] = c
    if c == 1 then redis.call('EXPIRE', KEYS[i], ARGV[n + i]) end
  end
end
return res
`)

// errRedisDown is returned without touching the network while the breaker is open.
var errRedisDown = errors.New("redis unavailable (recent connection failure)")

// redisBackoff is how long requests skip a Redis that just failed. With a dead
// Redis every request would otherwise wait for a dial (up to redis.timeout).
const redisBackoff = 250 * time.Millisecond

// redisStore is the "redis" policy: exact across every gateway node that shares
// the Redis, because the check and the increment are one Lua script.
type redisStore struct {
	opts   redisOptions
	client *redis.Client
	log    *slog.Logger
	// openUntil is the UnixNano time before which the store fails fast.
	openUntil atomic.Int64
	// up tracks the state for logging transitions once, not per request.
	up atomic.Bool
}

func newRedisStore(o redisOptions, log *slog.Logger) *redisStore {
	s := &redisStore{opts: o, client: redis.NewClient(o.clientOptions()), log: log}
	s.up.Store(true)
	return s
}

// redisKey is Kong's counter key, so counters read the same in redis-cli.
func redisKey(k counterKey, p period, start int64) string {
	return "ratelimit:" + k.scope + ":" + k.id + ":" + strconv.FormatInt(start*1000, 10) + ":" + periodNames[p]
}

func (s *redisStore) take(ctx context.Context, key counterKey, w *windows, now time.Time) (bool, error) {
	if time.Now().UnixNano() < s.openUntil.Load() {
		return false, errRedisDown
	}
	keys := make([]string, w.n)
	args := make([]any, 2*w.n)
	nowSec := now.Unix()
	for i := 0; i < w.n; i++ {
		keys[i] = redisKey(key, w.period[i], w.start[i])
		args[i] = w.limit[i]
		// Keep the key a second past its window so a node whose clock lags a
		// little still finds the count rather than a fresh zero.
		args[w.n+i] = max(w.end[i]-nowSec, 1) + 1
	}
	res, err := takeScript.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		s.failed(err)
		return false, fmt.Errorf("redis %s: %w", s.opts.addr(), err)
	}
	if len(res) != w.n+1 {
		return false, fmt.Errorf("redis %s: counting script returned %d values, want %d", s.opts.addr(), len(res), w.n+1)
	}
	if !s.up.Load() && s.up.CompareAndSwap(false, true) {
		s.log.Info("rate-limiting: redis reachable again", "addr", s.opts.addr())
	}
	for i := 0; i < w.n; i++ {
		w.count[i] = res[i+1]
	}
	return res[0] == 0, nil
}

// failed opens the breaker on transport failures. Replies that are Redis errors
// (a bad script, a wrong password) and cancelled requests do not: those say
// nothing about reachability.
func (s *redisStore) failed(err error) {
	var rerr redis.Error
	if errors.As(err, &rerr) || errors.Is(err, context.Canceled) {
		return
	}
	s.openUntil.Store(time.Now().Add(redisBackoff).UnixNano())
	if s.up.CompareAndSwap(true, false) {
		s.log.Warn("rate-limiting: redis unreachable", "addr", s.opts.addr(), "err", err)
	}
}

// redisPool shares one client per distinct redis config across plugin instances
// and across Apply calls, so a config change does not drop connections.
type redisPool struct {
	mu      sync.Mutex
	log     *slog.Logger
	stores  map[redisOptions]*redisStore
	retired map[*retiredClient]struct{} // closing after a grace period; each removes itself
	// grace is how long a dropped client stays open for requests still
	// running on the previous chain.
	grace  time.Duration
	closed bool
}

type retiredClient struct {
	timer  *time.Timer
	client *redis.Client
}

// redisLogOnce routes go-redis's own logging (one line per failed dial) into
// slog at debug level: the store already logs Redis going down and coming back,
// once each. go-redis has one process-wide logger, so the first Manager's wins.
var redisLogOnce sync.Once

type redisLogAdapter struct{ log *slog.Logger }

func (a redisLogAdapter) Printf(ctx context.Context, format string, v ...any) {
	a.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

func newRedisPool(log *slog.Logger) *redisPool {
	redisLogOnce.Do(func() { redis.SetLogger(redisLogAdapter{log: log}) })
	return &redisPool{log: log, stores: map[redisOptions]*redisStore{}, retired: map[*retiredClient]struct{}{},
		grace: 10 * time.Second}
}

func (p *redisPool) get(o redisOptions) *redisStore {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.stores[o]
	if !ok {
		s = newRedisStore(o, p.log)
		if p.closed {
			// After Manager.Close nothing may hold connections: the store fails
			// every request, and fault_tolerant decides.
			_ = s.client.Close()
			return s
		}
		p.stores[o] = s
	}
	return s
}

// retain closes the clients not in keep. Requests already holding the previous
// chain may still be using them, so the close waits a grace period.
func (p *redisPool) retain(keep map[redisOptions]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for o, s := range p.stores {
		if keep[o] {
			continue
		}
		delete(p.stores, o)
		p.retireLocked(s.client)
	}
}

// retireLocked closes client after the grace period; the timer takes its own
// entry out of p.retired, so frequent config changes leave nothing behind.
func (p *redisPool) retireLocked(client *redis.Client) {
	r := &retiredClient{client: client}
	r.timer = time.AfterFunc(p.grace, func() {
		_ = client.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.retired, r)
	})
	p.retired[r] = struct{}{}
}

func (p *redisPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for r := range p.retired {
		if r.timer.Stop() {
			_ = r.client.Close()
		}
		delete(p.retired, r)
	}
	for o, s := range p.stores {
		_ = s.client.Close()
		delete(p.stores, o)
	}
}
