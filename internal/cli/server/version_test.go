package server

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestVersionLine(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	full := &debug.BuildInfo{GoVersion: "go1.27.3",
		Main: debug.Module{Path: "github.com/rack-gateway/rack-gateway", Version: "v0.0.0-20261205080000-1a2b3c4d5e6f+dirty"},
		Settings: vcs("-buildmode", "exe", "vcs", "git", "vcs.revision", "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
			"vcs.time", "2026-12-05T08:00:00Z", "vcs.modified", "true")}
	cases := []struct {
		name    string
		release string
		bi      *debug.BuildInfo
		want    string
	}{
		{"go build in a work tree with changes", "dev", full,
			"rack-gateway v0.0.0-20261205080000-1a2b3c4d5e6f+dirty (commit 1a2b3c4d5e6f, 2026-12-05T08:00:00Z, modified) go1.27.3"},
		{"a release: the version set at build time wins", "v1.2.3", &debug.BuildInfo{GoVersion: "go1.27.3",
			Main:     debug.Module{Version: "v1.2.3"},
			Settings: vcs("vcs.revision", "abcdef0123456789", "vcs.time", "2027-01-02T03:04:05Z", "vcs.modified", "false")},
			"rack-gateway v1.2.3 (commit abcdef012345, 2027-01-02T03:04:05Z) go1.27.3"},
		{"go install of a tag", "dev", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "v1.4.0"}},
			"rack-gateway v1.4.0 go1.27.3"},
		{"go run or go test: (devel), no vcs", "dev", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "(devel)"}},
			"rack-gateway dev go1.27.3"},
		{"-buildvcs=false build, empty version", "", &debug.BuildInfo{GoVersion: "go1.27.3"}, "rack-gateway dev go1.27.3"},
		{"a short revision", "dev", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "abc")},
			"rack-gateway dev (commit abc) go1.27.3"},
		{"no build info", "dev", nil, "rack-gateway dev " + runtime.Version()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := VersionLine(c.release, c.bi); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}
