package archtest

// The packaging files (Dockerfile, systemd unit, GoReleaser and Convox
// configurations) are not built by the go command, so nothing else notices
// when they drift from the code: a Go version bump that leaves the image's
// builder behind, a renamed -X target that silently stops stamping the
// version, a hardening line lost in an edit, a Convox variable the gateway
// does not read. CI has no container daemon and cannot pull base images, so
// these tests check the files' essentials instead of building them.

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rack-gateway/rack-gateway/internal/config"
)

// versionVar is the variable the release builds stamp with -X.
const versionVar = module + "/internal/gateway.Version"

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("packaging: %v", err)
	}
	return string(b)
}

// toolchainVersion is go.mod's toolchain line without "go" (e.g. 1.27.3),
// else its go line.
func toolchainVersion(t *testing.T) string {
	t.Helper()
	var goLine string
	for _, l := range strings.Split(readRepoFile(t, "go.mod"), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "toolchain" {
			return strings.TrimPrefix(f[1], "go")
		}
		if len(f) == 2 && f[0] == "go" {
			goLine = f[1]
		}
	}
	if goLine == "" {
		t.Fatal("go.mod has neither a toolchain nor a go line")
	}
	return goLine
}

// defaultPort is the port of serve's default listen address.
func defaultPort(t *testing.T) string {
	t.Helper()
	c, err := config.Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		t.Fatalf("default addr %q: %v", c.Addr, err)
	}
	return port
}

// configVariables is every RGW_* variable the configuration loader reads.
// Some are read only when another is set (the rack's password and name
// with RGW_RACK_URL), so it loads twice.
func configVariables(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, set := range []map[string]string{{}, {"RGW_RACK_URL": "https://rack.example.com"}} {
		if _, err := config.Load("", func(k string) string { names[k] = true; return set[k] }); err != nil {
			t.Fatal(err)
		}
	}
	if len(names) < 10 {
		t.Fatalf("config.Load asked for only %d variables; the recorder no longer sees them", len(names))
	}
	return names
}

func TestVersionVariableExists(t *testing.T) {
	fset := token.NewFileSet()
	dir := filepath.Join("..", "gateway")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, s := range g.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					if n.Name == "Version" {
						return
					}
				}
			}
		}
	}
	t.Fatalf("internal/gateway declares no package-level var Version, but the Dockerfile and .goreleaser.yaml set %s with -ldflags -X", versionVar)
}

// dockerStage is one FROM … stage of a Dockerfile: its base image and its
// instructions (continuation lines joined, comments dropped).
type dockerStage struct {
	from  string
	lines []string
}

func parseDockerfile(text string) []dockerStage {
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		l := strings.TrimSpace(cur.String())
		cur.Reset()
		if l == "" {
			return
		}
		f := strings.Fields(l)
		if strings.EqualFold(f[0], "FROM") {
			img := ""
			for _, w := range f[1:] {
				if !strings.HasPrefix(w, "--") {
					img = w
					break
				}
			}
			stages = append(stages, dockerStage{from: img})
			return
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, l)
		}
	}
	for _, raw := range strings.Split(text, "\n") {
		l := strings.TrimSpace(raw)
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		flush()
	}
	flush()
	return stages
}

// instruction returns the arguments of the stage's last instruction named
// name ("" and false when it has none).
func (s dockerStage) instruction(name string) (string, bool) {
	args, found := "", false
	for _, l := range s.lines {
		f := strings.SplitN(l, " ", 2)
		if strings.EqualFold(f[0], name) {
			found = true
			args = ""
			if len(f) == 2 {
				args = strings.TrimSpace(f[1])
			}
		}
	}
	return args, found
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(readRepoFile(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: want a multi-stage build (a Go builder, then a minimal image), found %d FROM", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	goVersion := toolchainVersion(t)
	img, tag, _ := strings.Cut(build.from, ":")
	if img != "golang" || (tag != goVersion && !strings.HasPrefix(tag, goVersion+"-")) {
		t.Errorf("Dockerfile: the builder is FROM %s; want golang:%s (go.mod's toolchain), optionally with a -variant suffix", build.from, goVersion)
	}
	buildText := strings.Join(build.lines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X " + versionVar + "=", "./cmd/rack-gateway"} {
		if !strings.Contains(buildText, want) {
			t.Errorf("Dockerfile: the build stage lacks %q", want)
		}
	}

	switch final.from {
	case "gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12":
	case "scratch":
		if !strings.Contains(strings.Join(final.lines, "\n"), "ca-certificates") {
			t.Error("Dockerfile: a scratch image must copy CA certificates (the gateway calls racks, OIDC and S3 over TLS)")
		}
	default:
		t.Errorf("Dockerfile: the final stage is FROM %s; want gcr.io/distroless/static-debian12:nonroot or scratch", final.from)
	}
	user, ok := final.instruction("USER")
	name, _, _ := strings.Cut(user, ":")
	if !ok || name == "" || name == "root" || name == "0" {
		t.Errorf("Dockerfile: the final stage must set a non-root USER (got %q)", user)
	}
	if expose, _ := final.instruction("EXPOSE"); !slices.Contains(strings.Fields(expose), defaultPort(t)) {
		t.Errorf("Dockerfile: EXPOSE %q does not include serve's default port %s", expose, defaultPort(t))
	}
	if ep, _ := final.instruction("ENTRYPOINT"); ep != `["rack-gateway"]` {
		t.Errorf(`Dockerfile: ENTRYPOINT is %q; want ["rack-gateway"]`, ep)
	}
	if cmd, _ := final.instruction("CMD"); cmd != `["serve"]` {
		t.Errorf(`Dockerfile: CMD is %q; want ["serve"]`, cmd)
	}
	if _, ok := final.instruction("HEALTHCHECK"); ok {
		t.Error("Dockerfile: HEALTHCHECK cannot run in an image without a shell or HTTP client; probe /healthz from outside")
	}

	ignore := strings.Fields(readRepoFile(t, ".dockerignore"))
	if !slices.Contains(ignore, ".git") {
		t.Error(".dockerignore: must exclude .git from the build context")
	}
}

// unitKeys returns the [Service] section's settings: key → values in order.
func unitKeys(text string) map[string][]string {
	keys := map[string][]string{}
	section := ""
	for _, raw := range strings.Split(text, "\n") {
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") {
			continue
		}
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && section == "[Service]" {
			keys[strings.TrimSpace(k)] = append(keys[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return keys
}

func TestSystemdUnit(t *testing.T) {
	const unit = "deploy/systemd/rack-gateway.service"
	keys := unitKeys(readRepoFile(t, unit))
	want := map[string]string{
		"ExecStart":               "/usr/local/bin/rack-gateway serve --config /etc/rack-gateway/config.json",
		"EnvironmentFile":         "/etc/rack-gateway/env",
		"StateDirectory":          "rack-gateway",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter":        "@system-service",
	}
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if vs, ok := keys[k]; !ok || !slices.Contains(vs, want[k]) {
			t.Errorf("%s: [Service] needs %s=%s (has %q)", unit, k, want[k], vs)
		}
	}
	if caps := keys["CapabilityBoundingSet"]; len(caps) > 0 && caps[len(caps)-1] != "" {
		t.Errorf("%s: the last CapabilityBoundingSet= must be empty (no capabilities), got %q", unit, caps[len(caps)-1])
	}
	users := keys["User"]
	dynamic := slices.Contains(keys["DynamicUser"], "yes")
	switch {
	case dynamic:
	case len(users) == 0 || users[len(users)-1] == "root" || users[len(users)-1] == "0":
		t.Errorf("%s: run as a dedicated user (User=) or DynamicUser=yes, not root (User=%q)", unit, users)
	default:
		sysusers := readRepoFile(t, "deploy/systemd/rack-gateway.sysusers")
		if !regexp.MustCompile(`(?m)^u\s+` + regexp.QuoteMeta(users[len(users)-1]) + `\s`).MatchString(sysusers) {
			t.Errorf("deploy/systemd/rack-gateway.sysusers does not create the unit's User=%s", users[len(users)-1])
		}
	}
}

func TestGoReleaser(t *testing.T) {
	var cfg struct {
		Version int `yaml:"version"`
		Builds  []struct {
			Main    string   `yaml:"main"`
			Binary  string   `yaml:"binary"`
			Env     []string `yaml:"env"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
			Flags   []string `yaml:"flags"`
			Ldflags []string `yaml:"ldflags"`
		} `yaml:"builds"`
		Archives []struct {
			Formats         []string `yaml:"formats"`
			FormatOverrides []struct {
				Goos    string   `yaml:"goos"`
				Formats []string `yaml:"formats"`
			} `yaml:"format_overrides"`
			Files []string `yaml:"files"`
		} `yaml:"archives"`
		Checksum struct {
			Algorithm string `yaml:"algorithm"`
		} `yaml:"checksum"`
	}
	const file = ".goreleaser.yaml"
	if err := yaml.Unmarshal([]byte(readRepoFile(t, file)), &cfg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if cfg.Version != 2 {
		t.Errorf("%s: version: %d; want 2 (the GoReleaser v2 schema)", file, cfg.Version)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf("%s: want one build (the rack-gateway binary), found %d", file, len(cfg.Builds))
	}
	b := cfg.Builds[0]
	if b.Main != "./cmd/rack-gateway" || b.Binary != "rack-gateway" {
		t.Errorf("%s: the build is main %q binary %q; want ./cmd/rack-gateway, rack-gateway", file, b.Main, b.Binary)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("%s: builds need env CGO_ENABLED=0 (static binaries)", file)
	}
	if !slices.Contains(b.Flags, "-trimpath") {
		t.Errorf("%s: builds need flags -trimpath", file)
	}
	ld := strings.Join(b.Ldflags, " ")
	for _, want := range []string{"-s -w", "-X " + versionVar + "="} {
		if !strings.Contains(ld, want) {
			t.Errorf("%s: ldflags lack %q", file, want)
		}
	}
	sorted := func(s []string) string { s = slices.Clone(s); sort.Strings(s); return strings.Join(s, ",") }
	if got := sorted(b.Goos); got != "darwin,linux,windows" {
		t.Errorf("%s: goos %s; want darwin, linux and windows", file, got)
	}
	if got := sorted(b.Goarch); got != "amd64,arm64" {
		t.Errorf("%s: goarch %s; want amd64 and arm64", file, got)
	}
	if len(cfg.Archives) == 0 || !slices.Contains(cfg.Archives[0].Formats, "tar.gz") {
		t.Errorf("%s: archives need formats [tar.gz]", file)
	} else {
		zip := false
		for _, o := range cfg.Archives[0].FormatOverrides {
			zip = zip || (o.Goos == "windows" && slices.Contains(o.Formats, "zip"))
		}
		if !zip {
			t.Errorf("%s: archives need a windows format override to zip", file)
		}
		for _, f := range cfg.Archives[0].Files {
			if m, _ := filepath.Glob(filepath.Join("..", "..", f)); len(m) == 0 {
				t.Errorf("%s: archive file %q matches nothing", file, f)
			}
		}
	}
	if cfg.Checksum.Algorithm != "sha256" {
		t.Errorf("%s: checksum algorithm %q; want sha256", file, cfg.Checksum.Algorithm)
	}
}

// convoxEnvName is the variable a linked Convox resource injects (the
// resource name upper-cased, "-" as "_", then _URL).
func convoxEnvName(resource string) string {
	return strings.ReplaceAll(strings.ToUpper(resource), "-", "_") + "_URL"
}

func TestConvoxManifest(t *testing.T) {
	const file = "deploy/convox/convox.yml"
	var m struct {
		Environment []string                  `yaml:"environment"`
		Resources   map[string]map[string]any `yaml:"resources"`
		Services    map[string]struct {
			Build       any      `yaml:"build"`
			Dockerfile  string   `yaml:"dockerfile"`
			Port        any      `yaml:"port"`
			Health      any      `yaml:"health"`
			Environment []string `yaml:"environment"`
			Resources   []string `yaml:"resources"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, file)), &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	web, ok := m.Services["web"]
	if !ok {
		t.Fatalf("%s: no service web", file)
	}
	if web.Build != "." {
		t.Errorf("%s: web builds %v; want . (the repository root, deployed with -m %s)", file, web.Build, file)
	}
	if df := web.Dockerfile; df != "" && df != "Dockerfile" {
		t.Errorf("%s: web's dockerfile is %q; want the root Dockerfile", file, df)
	}
	if got := fmt.Sprint(web.Port); got != defaultPort(t) {
		t.Errorf("%s: web port %s; want serve's default port %s", file, got, defaultPort(t))
	}
	health := ""
	switch h := web.Health.(type) {
	case string:
		health = h
	case map[string]any:
		health, _ = h["path"].(string)
	}
	if health != "/healthz" {
		t.Errorf("%s: web health check %q; want /healthz", file, health)
	}
	if !strings.Contains(readRepoFile(t, "internal/web/server.go"), `"GET /healthz"`) {
		t.Error(`internal/web/server.go no longer mounts "GET /healthz", which the Convox manifest and the Dockerfile's notes probe`)
	}

	known := configVariables(t)
	injected := map[string]string{}
	for _, r := range web.Resources {
		if _, ok := m.Resources[r]; !ok {
			t.Errorf("%s: web links resource %s, which resources: does not define", file, r)
		}
		injected[convoxEnvName(r)] = r
	}
	for name, r := range injected {
		if strings.HasPrefix(name, "RGW_") && !known[name] {
			t.Errorf("%s: resource %s injects %s, which the gateway does not read", file, r, name)
		}
	}
	if _, ok := injected["RGW_DATABASE_URL"]; !ok && len(m.Resources) > 0 {
		t.Errorf("%s: a database resource must be named so that it injects RGW_DATABASE_URL (rgw-database)", file)
	}
	for _, e := range append(slices.Clone(m.Environment), web.Environment...) {
		name, _, _ := strings.Cut(e, "=")
		if !known[name] {
			t.Errorf("%s: environment %s is not a variable the gateway reads (internal/config)", file, name)
		}
	}
	for _, must := range []string{"RGW_RACK_URL", "RGW_RACK_PASSWORD", "RGW_PUBLIC_URL", "RGW_AUDIT_SIGNING_KEY", "RGW_AUDIT_HMAC_KEY"} {
		if !slices.Contains(m.Environment, must) && !slices.Contains(web.Environment, must) {
			t.Errorf("%s: environment lacks %s (an operator must set it with convox env set)", file, must)
		}
	}
}

func TestLicense(t *testing.T) {
	text := readRepoFile(t, "LICENSE")
	for _, want := range []string{"Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "END OF TERMS AND CONDITIONS"} {
		if !strings.Contains(text, want) {
			t.Errorf("LICENSE: not the full Apache License 2.0 text (lacks %q)", want)
		}
	}
}
