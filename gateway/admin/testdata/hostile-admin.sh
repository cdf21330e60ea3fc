#!/usr/bin/env bash
# hostile-admin.sh BINARY [CASE-REGEX]: measures how a gateway binary answers hostile Admin
# API writes (issue 10). Each case gets a fresh gateway process, so the peak
# RSS (VmHWM) printed is that one request's cost. Output: one line per case
# with the HTTP status, curl's wall time, the process's peak RSS and whether
# the process survived.
#
#   CGO_ENABLED=0 go build -o /tmp/gw ./gateway && gateway/admin/testdata/hostile-admin.sh /tmp/gw
set -euo pipefail
bin=${1:?usage: hostile-admin.sh BINARY [CASE-REGEX]}
only=${2:-.}
admin=127.0.0.1:18101
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gen() { python3 - "$@"; }

gen "$work" <<'EOF'
import sys, os, json
d = sys.argv[1]
def w(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
w("key2m.form", "a" + ".a" * 2_000_000 + "=1")
w("key1m.form", "a" + ".a" * 1_000_000 + "=1")
b = "XbOuNdArY"
w("key1m.multipart", "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n1\r\n--%s--\r\n" % (b, "a" + ".a" * 1_000_000, b))
# 99,996 tags + the object, name, host and array: MaxEntityValues exactly.
for n in (10_000, 40_000, 99_996, 200_000):
    w("tags%d.json" % n, json.dumps({"name": "s", "host": "h", "tags": ["t%d" % i for i in range(n)]}))
w("args5k.form", "&".join("tags=t%d" % i for i in range(5_000)))
svc = "".join("- name: s%d\n  host: h\n  routes:\n  - name: r%d\n    paths: [/p%d]\n" % (i, i, i) for i in range(8000))
w("decl8k.yaml", "_format_version: \"3.0\"\nservices:\n" + svc)
w("deep100k.json", '{"name":"x","config":' + "[" * 100_000 + "]" * 100_000 + "}")
laughs = ["_format_version: \"3.0\"", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
prev = "a"
for i in range(1, 9):
    cur = chr(ord("a") + i)
    laughs.append("%s: &%s [%s]" % (cur, cur, ", ".join("*" + prev for _ in range(10))))
    prev = cur
w("laughs.yaml", "\n".join(laughs) + "\n")
w("tag-utf8.json", b'{"name":"s","host":"h","tags":["ok","bad\xff"]}')
w("tag-utf8.form", "name=s&host=h&tags=bad%FF")
w("header-crlf.json", json.dumps({"paths": ["/x"], "headers": {"x-a\r\nInjected: 1": ["v"]}}))
w("header-value-crlf.json", json.dumps({"paths": ["/x"], "headers": {"x-a": ["v\r\nInjected: 1"]}}))
EOF

run_case() { # name method path content-type bodyfile
	local name=$1 method=$2 path=$3 ct=$4 body=$5
	[[ $name =~ $only ]] || return 0
	rm -rf "$work/data"
	"$bin" --database embedded --data-dir "$work/data" --admin-listen "$admin" \
		--proxy-listen 127.0.0.1:18100 --log-level error >"$work/log" 2>&1 &
	local pid=$!
	for _ in $(seq 100); do curl -fs "http://$admin/status" >/dev/null && break; sleep 0.05; done
	local out
	: >"$work/resp"
	out=$(curl -s -o "$work/resp" -w '%{http_code} %{time_total}' -X "$method" \
		-H "Content-Type: $ct" --data-binary @"$work/$body" --max-time 60 "http://$admin$path" || true)
	local hwm alive=alive
	hwm=$(awk '/VmHWM/ {printf "%d MB", $2/1024}' /proc/$pid/status 2>/dev/null || echo "-")
	kill -0 $pid 2>/dev/null || alive="DIED($(grep -m1 -o 'fatal error: [a-z ]*' "$work/log" || echo exit))"
	printf '%-24s status=%s time=%ss peakRSS=%s %s body=%.110s\n' "$name" "${out% *}" "${out#* }" "${hwm:--}" \
		"$alive" "$(tr -d '\n' <"$work/resp")"
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
}

# concurrent_case: a small write's latency while the largest accepted entity
# write is being processed (the big write starts 0.05 s earlier).
concurrent_case() {
	[[ concurrent-small-write =~ $only ]] || return 0
	rm -rf "$work/data"
	"$bin" --database embedded --data-dir "$work/data" --admin-listen "$admin" \
		--proxy-listen 127.0.0.1:18100 --log-level error >"$work/log" 2>&1 &
	local pid=$!
	for _ in $(seq 100); do curl -fs "http://$admin/status" >/dev/null && break; sleep 0.05; done
	curl -s -o /dev/null -w 'big-write status=%{http_code} time=%{time_total}s\n' -H 'Content-Type: application/json' \
		--data-binary @"$work/tags99996.json" --max-time 120 "http://$admin/services" >"$work/big" &
	local big=$!
	sleep 0.05
	curl -s -o /dev/null -w 'concurrent-small-write    status=%{http_code} time=%{time_total}s (during the 99,996-tag write)\n' \
		-H 'Content-Type: application/json' --data-binary '{"username":"alice"}' --max-time 120 "http://$admin/consumers"
	wait $big
	printf '%-24s  %s\n' "" "$(cat "$work/big")"
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
}

concurrent_case
run_case form-key-2M-segments POST /services application/x-www-form-urlencoded key2m.form
run_case form-key-1M-segments POST /services application/x-www-form-urlencoded key1m.form
run_case multipart-key-1M POST /services "multipart/form-data; boundary=XbOuNdArY" key1m.multipart
run_case form-5k-args POST /services application/x-www-form-urlencoded args5k.form
run_case json-10k-tags POST /services application/json tags10000.json
run_case json-40k-tags POST /services application/json tags40000.json
run_case json-99996-tags POST /services application/json tags99996.json
run_case json-200k-tags POST /services application/json tags200000.json
run_case json-depth-100k POST /plugins application/json deep100k.json
run_case yaml-8k-services POST /config application/yaml decl8k.yaml
run_case yaml-billion-laughs POST /config application/yaml laughs.yaml
run_case tag-invalid-utf8-json POST /services application/json tag-utf8.json
run_case tag-invalid-utf8-form POST /services application/x-www-form-urlencoded tag-utf8.form
run_case route-header-name-crlf POST /routes application/json header-crlf.json
run_case route-header-value-crlf POST /routes application/json header-value-crlf.json
