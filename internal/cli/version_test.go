package cli

import (
	"regexp"
	"testing"
)

// `rack-gateway version` prints one line: the version, what the build
// recorded of its commit (a test binary records none), the Go version.
func TestVersionCommand(t *testing.T) {
	code, out, stderr := run(t, nil, "version")
	shape := regexp.MustCompile(`^rack-gateway (\S+)( \(commit [0-9a-f]{1,12}(, [0-9TZ:-]+)?(, modified)?\))? go\S+\n$`)
	if code != 0 || stderr != "" || !shape.MatchString(out) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want one line like %s", code, out, stderr, shape)
	}
}
