package conformance

import (
	"encoding/json"
	"net/http"
	"testing"
)

const specTags = "spec/02-integration/04-admin_api/14-tags_spec.lua"

var _ = register("tags", tagsCases)

// tagsSetup is the first describe's lazy_setup; rate-limiting stands in for
// file-log (not bundled) as the consumers' tagged plugin.
func tagsSetup() []Step {
	var s []Step
	for _, i := range []string{"1", "2"} {
		s = append(s,
			post("/consumers", obj{"username": "adminapi-filter-by-tag-" + i, "tags": arr{"corp_ a", "consumer_ " + i, "🦍"}}, "c"+i),
			post("/plugins", obj{"name": "rate-limiting", "consumer": obj{"id": "{{c" + i + "}}"}, "config": obj{"minute": 10},
				"tags": arr{"corp_ a", "consumer_ " + i}}))
	}
	return s
}

// tagsSetup2 is the /tags describe's lazy_setup.
func tagsSetup2() []Step {
	return []Step{
		post("/consumers", obj{"username": "adminapi-filter-by-tag-1", "tags": arr{"corp_ a", "consumer_ 1"}}),
		post("/consumers", obj{"username": "adminapi-filter-by-tag-2", "tags": arr{"corp_ a", "consumer_ 2"}}),
	}
}

var tagsCases = rows(
	Case{
		Spec: specTags + ":50", Name: "filter by single tag",
		Setup: tagsSetup(),
		Steps: []Step{get("/consumers?tags=corp_%20a", 200, obj{"data.#": 2, "data.0.tags": Contains("corp_ a"), "data.1.tags": Contains("corp_ a")})},
	},
	Case{
		Spec: specTags + ":63", Name: "filter by single unicode tag",
		Setup: tagsSetup(),
		Steps: []Step{get("/consumers?tags=%F0%9F%A6%8D", 200, obj{"data.#": 2, "data.0.tags": Contains("🦍"), "data.1.tags": Contains("🦍")})},
	},
	Case{
		Spec: specTags + ":76", Name: "filter by empty tag",
		Setup: tagsSetup(),
		Steps: []Step{get("/consumers?tags=", 400, obj{"message": "invalid option (tags: cannot be null)"})},
	},
	Case{
		Spec: specTags + ":86", Name: "filter by empty string tag",
		Setup: tagsSetup(),
		Steps: []Step{get("/consumers?tags=''", 200, obj{"data.#": 0})},
	},
	Case{
		Spec: specTags + ":96", Name: "filter by multiple tags with AND",
		Setup: tagsSetup(),
		Steps: []Step{get("/consumers?tags=corp_%20a,consumer_%201", 200, obj{"data.#": 1, "data.0.tags": Set("corp_ a", "consumer_ 1", "🦍")})},
	},
	Case{
		Spec: specTags + ":110", Name: "filter by multiple tags with OR",
		Setup: tagsSetup(),
		Steps: []Step{get("/consumers?tags=consumer_%202/consumer_%201", 200, obj{"data.#": 2})},
	},
	Case{
		Spec: specTags + ":120", Name: "ignores tags when filtering by multiple filters #6779",
		Setup: tagsSetup(),
		Steps: []Step{get("/consumers/adminapi-filter-by-tag-1/plugins?tags=consumer_%202", 200, obj{"data.#": 1,
			"data.0.tags": Set("corp_ a", "consumer_ 1")})},
	},
	Case{
		Spec: specTags + ":131", Name: "errors if filter by mix of AND and OR",
		Setup: tagsSetup(),
		Steps: []Step{
			get("/consumers?tags=consumer_%203,consumer_%202/consumer_%201", 400, obj{"message": "invalid option (tags: invalid filter syntax)"}),
			get("/consumers?tags=consumer_%203/consumer_%202,consumer_%201", 400, obj{"message": "invalid option (tags: invalid filter syntax)"}),
		},
	},
	Case{
		Spec: specTags + ":149", Name: "errors if filter by tag with invalid value",
		Setup: tagsSetup(),
		Steps: []Step{get("/consumers?tags=%FF", 400, obj{"message": "invalid option (tags: invalid filter syntax)"})},
	},
	Case{
		Spec: specTags + ":159", Name: "returns the correct 'next' arg",
		Setup: tagsSetup(),
		Steps: []Step{
			{Path: "/consumers?tags=corp_%20a&size=1", Status: 200, JSON: obj{"data.#": 1, "next": Contains("tags=corp_%20a")},
				Check: followNext(obj{"data.#": 1, "data.0.tags": Contains("corp_ a")})},
		},
	},
	Case{
		Spec: specTags + ":226", Name: "/tags",
		Setup: tagsSetup2(),
		Steps: []Step{get("/tags", 200, obj{"data.#": 4, "data.0": obj{"entity_name": "consumers", "entity_id": isUUID, "tag": isString}})},
	},
	Case{
		Spec: specTags + ":231", Name: "/tags/:tags",
		Setup: tagsSetup2(),
		Steps: []Step{get("/tags/corp_%20a", 200, obj{"data.#": 2, "data.0.tag": "corp_ a", "data.1.entity_name": "consumers"})},
	},
	Case{
		Spec: specTags + ":236", Name: "/tags/:tags with a not exist tag",
		Setup: tagsSetup2(),
		Steps: []Step{get("/tags/does-not-exist", 200, obj{"data.#": 0})},
	},
	Case{
		Spec: specTags + ":241", Name: "/tags/:tags with invalid :tags value",
		Setup: tagsSetup2(),
		Steps: []Step{get("/tags/%FF", 400, obj{"message": Match(`invalid utf-8`)})},
	},
	Case{
		Spec: specTags + ":251", Name: "/tags ignores ?tags= query",
		Setup: tagsSetup2(),
		Steps: []Step{get("/tags?tags=not_a_tag", 200, obj{"data.#": 4}), get("/tags?tags=invalid@tag", 200, obj{"data.#": 4})},
	},
	Case{
		Spec: specTags + ":259", Name: "/tags/:tags ignores ?tags= query",
		Setup: tagsSetup2(),
		Steps: []Step{get("/tags/corp_%20a?tags=not_a_tag", 200, obj{"data.#": 2}), get("/tags/corp_%20a?tags=invalid@tag", 200, obj{"data.#": 2})},
	},
)

// followNext checks that the response's "next" URL, fetched from the Admin
// API, answers with fields.
func followNext(fields obj) func(t *testing.T, r *Resp) {
	return func(t *testing.T, r *Resp) {
		t.Helper()
		next, _ := r.Get("next")
		s, ok := next.(string)
		if !ok {
			t.Errorf("no next in %s", r.Body)
			return
		}
		req, _ := http.NewRequest("GET", r.Request.URL.Scheme+"://"+r.Request.URL.Host+s, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("GET next %s: %v", s, err)
			return
		}
		defer resp.Body.Close()
		var doc any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		for p, want := range fields {
			v, ok := lookup(doc, p)
			if err := matchValue(want, v, ok, nil); err != nil {
				t.Errorf("next page %s: %v", p, err)
			}
		}
	}
}
