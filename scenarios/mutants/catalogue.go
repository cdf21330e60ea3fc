package mutants

// Catalogue is every mutant `make mutate` runs, grouped by the README gateway
// rule it breaks. Each is one plausible bug; its labels name the scenarios
// that must fail on it.
var Catalogue = []Mutant{
	// --- retries and method safety ---
	{
		ID:      "retry-post-after-send",
		Rule:    "a POST or PATCH is never sent twice once it has reached an upstream",
		File:    "gateway/proxy/proxy.go",
		Find:    "\t\treturn idem || !f.sent\n",
		Replace: "\t\treturn true\n",
		Labels:  []string{"post-safety"},
		Why:     "retryable ignores method safety: a POST that reached a target and then failed (reset, kill, stall) is re-sent to the next target, a duplicate write.",
	},
	// --- balancing per algorithm and weights ---
	{
		ID:      "rr-ignores-weights",
		Rule:    "round-robin is weighted",
		File:    "gateway/balancer/pick.go",
		Find:    "\t\tws[i] = w / g\n",
		Replace: "\t\tws[i] = min(w, 1)\n",
		Labels:  []string{"weights"},
		Why:     "the smooth-WRR wheel gives every eligible target one slot: a 1:3:6 upstream splits 1:1:1.",
	},
	{
		ID:      "leastconn-ignores-weights",
		Rule:    "least-connections is weighted ((active+1)/weight)",
		File:    "gateway/balancer/pick.go",
		Find:    "a, w := e.t.active.Load()+1, int64(e.weight)",
		Replace: "a, w := e.t.active.Load()+1, int64(1)",
		Labels:  []string{"weights"},
		Why:     "least-connections compares raw in-flight counts: equal-latency targets split evenly whatever their weight.",
	},
	{
		ID:      "hash-ignores-weights",
		Rule:    "consistent-hashing gives each target a share of slots proportional to its weight",
		File:    "gateway/balancer/hash.go",
		Find:    "cand{int32(i), hashString(t.key), float64(weights[i])}",
		Replace: "cand{int32(i), hashString(t.key), float64(min(weights[i], 1))}",
		Labels:  []string{"weights"},
		Why:     "the rendezvous ring scores every target with weight 1: each owns about a third of the keys.",
	},
	// --- health counters ---
	{
		ID:      "passive-success-clears-with-successes-0",
		Rule:    "Kong's counter rules: a success clears the failure counters only when healthy.successes > 0",
		File:    "gateway/health/state.go",
		Find:    "\tlim := p.limits(src).limit(o)\n\tif lim == 0 {\n",
		Replace: "\tlim := p.limits(src).limit(o)\n\tif lim == 0 && o != Success {\n",
		Labels:  []string{"passive-mixed"},
		Why:     "a success with the successes counter disabled still resets the failures: a 500,ok,500,ok target is never ejected, where Kong ejects it at the 3rd 500.",
	},
}
