package server

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/gateway"
)

const versionUsage = `version

Prints the version of this build: the release version (set at build time
with -ldflags "-X .../internal/gateway.Version=v1.2.3"), else the module
version the go command recorded (a tag, or a pseudo-version from the
commit), else "dev"; then the commit, its time and "modified" when built
from a work tree with changes, and the Go version.`

// Version is `rack-gateway version`, e.g.
//
//	rack-gateway v0.0.0-20261205080000-1a2b3c4d5e6f (commit 1a2b3c4d5e6f, 2026-12-05T08:00:00Z, modified) go1.27.3
func Version(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "version", versionUsage)
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.Stdout, VersionLine(gateway.Version, bi))
	return nil
}

// VersionLine describes the build: "rack-gateway VERSION (commit C, TIME,
// modified) GO", the parenthesis only with what the build recorded.
// release is the version set at build time ("dev" or "" when not); bi may
// be nil (a binary built without module support).
func VersionLine(release string, bi *debug.BuildInfo) string {
	version := release
	goVersion := runtime.Version()
	var details []string
	if bi != nil {
		if version == "" || version == "dev" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			details = append(details, "commit "+rev[:min(len(rev), 12)])
		}
		if t := settings["vcs.time"]; t != "" {
			details = append(details, t)
		}
		if settings["vcs.modified"] == "true" {
			details = append(details, "modified")
		}
	}
	if version == "" || version == "(devel)" {
		// `go run`, `go test`, or a build without version control
		// information (-buildvcs=false, no .git).
		version = "dev"
	}
	line := "rack-gateway " + version
	if len(details) > 0 {
		line += " (" + strings.Join(details, ", ") + ")"
	}
	return line + " " + goVersion
}
