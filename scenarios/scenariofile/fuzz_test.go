package scenariofile

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: a scenario file is user input; whatever it holds, Parse answers
// a *File or one *Error line naming the file, and never panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(strings.Replace(good, "rate: 100", "rate: -5", 1)))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("name: [t\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxFileSize {
			return
		}
		file, err := Parse("s.yaml", data)
		if err == nil {
			if file == nil {
				t.Fatal("no file and no error")
			}
			return
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("error %T %v, want *Error", err, err)
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "s.yaml") {
			t.Fatalf("not one line naming the file: %q", msg)
		}
	})
}
