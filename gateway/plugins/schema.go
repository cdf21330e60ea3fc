package plugins

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gauntlet-dev/gauntlet/gateway/config"
)

// A plugin's config is described with the config package's schema engine
// (config.Field), as entities are: it validates with Kong's field messages,
// fills defaults (the normalized config the Admin API stores and returns) and
// renders the JSON served at /schemas/plugins/{name}, from one description.

// Kong's typedefs used by the bundled plugins.

var headerNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkHeaderName is typedefs.header_name's validator.
func checkHeaderName(v any) string {
	s, _ := v.(string)
	if !headerNameRE.MatchString(s) {
		return fmt.Sprintf("bad header name '%s', allowed characters are A-Z, a-z, 0-9, '_', and '-'", s)
	}
	return ""
}

// checkPath is the prefix part of typedefs.path.
func checkPath(v any) string {
	s, _ := v.(string)
	if !strings.HasPrefix(s, "/") {
		return "should start with: /"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	return ""
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$|^\[?[0-9A-Fa-f:.]+\]?$`)

// checkHost is typedefs.host: a hostname or an IP address, no port.
func checkHost(v any) string {
	s, _ := v.(string)
	if s == "" || !hostnameRE.MatchString(s) {
		return "invalid value: " + s
	}
	return ""
}

func headerNameField(name, description string) *config.Field {
	return &config.Field{Name: name, Type: config.TString, Description: description, Check: checkHeaderName}
}

// lenMinZero is Kong's len_min = 0 on a string: it refuses nothing, so it is
// only served at /schemas, where Kong's schema has it.
func lenMinZero(extra map[string]any) map[string]any {
	if extra == nil {
		extra = map[string]any{}
	}
	extra["len_min"] = 0
	return extra
}
