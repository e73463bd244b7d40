package deploycheck_test

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
	"github.com/rack-gateway/rack-gateway/internal/deploycheck/githubtest"
)

const webPattern = `^registry\.example\.com/(web|worker):{{GIT_COMMIT}}$`

var commit = githubtest.SHA("approved")

func yml(services string) string { return "environment:\n  - PORT=3000\nservices:\n" + services }

func img(service, tag string) string {
	return fmt.Sprintf("  %s:\n    image: registry.example.com/%s:%s\n", service, service, tag)
}

func billionLaughs() string {
	var b strings.Builder
	b.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		fmt.Fprintf(&b, "%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	return b.String() + "services:\n  web:\n    image: *i\n"
}

func TestImageRuleRefusesBadPatterns(t *testing.T) {
	for _, p := range []string{
		``, `registry\.example\.com/web:{{GIT_COMMIT}}`, `^registry/web:{{GIT_COMMIT}}`, `registry/web:{{GIT_COMMIT}}$`,
		`^a$|^b$`, `(?m)^web:{{GIT_COMMIT}}$`, `^web:{{GIT_COMMIT}}\$`, `^web:[$`, `^(web$)`, strings.Repeat("a", 5000),
	} {
		if r, err := deploycheck.NewImageRule(p, false); !errors.Is(err, deploycheck.ErrInvalidInput) {
			t.Errorf("NewImageRule(%q) = %v, %v; want ErrInvalidInput", p, r, err)
		}
	}
	for _, p := range []string{webPattern, `\Aregistry/web:{{GIT_COMMIT}}\z`, `^(?:a|b)$`, `^registry/web:[0-9a-f]{40}$`} {
		if _, err := deploycheck.NewImageRule(p, false); err != nil {
			t.Errorf("NewImageRule(%q): %v", p, err)
		}
	}
}

func TestInspector(t *testing.T) {
	good := img("web", commit) + img("worker", commit)
	tests := []struct {
		name          string
		data          []byte
		requireImages bool
		pattern       string // webPattern when empty
		commit        string // commit when empty
		ok            bool
		reason        string
		images        map[string]string
		buildOnly     []string
	}{
		{name: "matching images", data: upload(t, file("Dockerfile", "FROM scratch\n"), file("convox.yml", yml(good))), ok: true,
			reason: "all 2 images in convox.yml match", images: map[string]string{"web": "registry.example.com/web:" + commit, "worker": "registry.example.com/worker:" + commit}},
		{name: "one service with another tag", data: upload(t, file("convox.yml", yml(img("web", commit)+img("worker", githubtest.SHA("other"))))),
			reason: `worker: "registry.example.com/worker:` + githubtest.SHA("other")},
		{name: "tag is a prefix of the commit", data: upload(t, file("convox.yml", yml(img("web", commit[:12])))), reason: "do not match"},
		{name: "tag with a suffix", data: upload(t, file("convox.yml", yml(img("web", commit+"-debug")))), reason: "do not match"},
		{name: "latest", data: upload(t, file("convox.yml", yml(img("web", "latest")))), reason: "do not match"},
		{name: "image with a trailing newline", data: upload(t, file("convox.yml", yml("  web:\n    image: \"registry.example.com/web:"+commit+"\\n\"\n"))),
			reason: "whitespace or a non-printable character"},
		{name: "image with a space, permissive pattern", pattern: `^.*$`, data: upload(t, file("convox.yml", yml("  web:\n    image: \"a b\"\n"))),
			reason: "whitespace"},
		{name: "init container with another image", data: upload(t, file("convox.yml", yml(img("web", commit)+"    initContainer:\n      image: evil/migrate:1\n"))),
			reason: `web/initContainer: "evil/migrate:1"`},
		{name: "init container with the approved image", data: upload(t, file("convox.yml", yml(img("web", commit)+"    initContainer:\n      image: registry.example.com/web:"+commit+"\n"))),
			ok: true, reason: "all 2 images"},
		{name: "build-only service allowed", data: upload(t, file("convox.yml", yml(img("web", commit)+"  worker:\n    build: ./worker\n"))),
			ok: true, reason: "built from the uploaded source: worker", buildOnly: []string{"worker"}},
		{name: "build-only service refused", requireImages: true, data: upload(t, file("convox.yml", yml(img("web", commit)+"  worker:\n    build: ./worker\n"))),
			reason: "requires every service to name an image, but worker would be built"},
		{name: "empty image is build-only", requireImages: true, data: upload(t, file("convox.yml", yml("  web:\n    image: \"\"\n"))), reason: "web would be built"},
		{name: "null service is build-only", data: upload(t, file("convox.yml", yml("  web:\n"))), ok: true, reason: "no service in convox.yml names an image", buildOnly: []string{"web"}},
		{name: "YAML anchors and merge keys", data: upload(t, file("convox.yml", "x-base: &base\n  image: registry.example.com/web:"+commit+"\nservices:\n  web:\n    <<: *base\n    port: 3000\n")),
			ok: true, reason: "all 1 images"},
		{name: "convox.yml as ./convox.yml", data: upload(t, file("./convox.yml", yml(good))), ok: true},
		{name: "invalid commit", commit: ".*", data: upload(t, file("convox.yml", yml(good))), reason: `the approved commit ".*" is not a full 40-hex`},
		{name: "uppercase commit", commit: strings.ToUpper(commit), data: upload(t, file("convox.yml", yml(good))), reason: "is not a full 40-hex"},

		{name: "not gzip", data: tarOf(t, file("convox.yml", yml(good))), reason: "not a gzip stream"},
		{name: "empty upload", data: nil, reason: "not a gzip stream"},
		{name: "gzip but not tar", data: gz(t, []byte(strings.Repeat("not a tar archive\n", 100))), reason: "not a complete tar archive"},
		{name: "no convox.yml", data: upload(t, file("Dockerfile", "FROM scratch\n")), reason: "has no convox.yml at its root"},
		{name: "convox.yml only in a subdirectory", data: upload(t, file("app/convox.yml", yml(good))), reason: "has no convox.yml"},
		{name: "two convox.yml", data: upload(t, file("convox.yml", yml(good)), file("./convox.yml", yml(img("web", "latest")))),
			reason: `more than one convox.yml (entries "convox.yml" and "./convox.yml")`},
		{name: "convox.yml through .. and /", data: upload(t, file("/convox.yml", yml(good)), file("a/../convox.yml", yml(good))), reason: "more than one convox.yml"},
		{name: "symlink", data: upload(t, entry{name: "convox.yml", typ: tar.TypeSymlink, link: "other.yml"}, file("other.yml", yml(good))), reason: "is a symbolic link"},
		{name: "hard link", data: upload(t, file("other.yml", yml(good)), entry{name: "convox.yml", typ: tar.TypeLink, link: "other.yml"}), reason: "is a hard link"},
		{name: "directory", data: upload(t, entry{name: "convox.yml/", typ: tar.TypeDir}), reason: "is a directory"},
		{name: "over 1 MiB", data: upload(t, file("convox.yml", yml(good)+"#"+strings.Repeat("x", 1<<20)+"\n")), reason: "larger than 1048576 bytes"},
		{name: "exactly 1 MiB", data: upload(t, file("convox.yml", pad(yml(good), 1<<20))), ok: true},
		{name: "billion laughs", data: upload(t, file("convox.yml", billionLaughs())), reason: "more than 64 YAML aliases"},
		{name: "deep nesting", data: upload(t, file("convox.yml", "services: "+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+"\n")), reason: "exceeded max depth"},
		{name: "too many nodes", data: upload(t, file("convox.yml", yml(img("web", commit))+"x: ["+strings.Repeat("a,", 20000)+"a]\n")), reason: "too complex to check"},
		{name: "indicators in comments do not count", data: upload(t, file("convox.yml", yml(img("web", commit))+strings.Repeat("# ----------\n", 5000))), ok: true},
		{name: "too many keys", data: upload(t, file("convox.yml", yml(img("web", commit))+"x: {"+strings.Repeat("k: v, ", 501)+"}\n")), reason: "a mapping with more than 500 keys"},
		{name: "interpolation", data: upload(t, file("convox.yml", yml("  web:\n    image: registry.example.com/web:${TAG}\n"))), reason: `uses ${...} interpolation ("${TAG}")`},
		{name: "interpolation in another section", data: upload(t, file("convox.yml", "environment:\n  - X=${Y}\n"+yml(good)[len("environment:\n  - PORT=3000\n"):])), reason: "interpolation"},
		{name: "duplicate service", data: upload(t, file("convox.yml", yml(img("web", commit)+img("web", "latest")))), reason: `defines the key "web" twice (lines 4 and 6)`},
		{name: "duplicate image key", data: upload(t, file("convox.yml", yml(img("web", commit)+"    image: evil\n"))), reason: `defines the key "image" twice`},
		{name: "two YAML documents", data: upload(t, file("convox.yml", yml(good)+"---\n"+yml(img("web", "latest")))), reason: "more than one YAML document"},
		{name: "empty convox.yml", data: upload(t, file("convox.yml", "")), reason: "convox.yml is empty"},
		{name: "no services", data: upload(t, file("convox.yml", "environment:\n  - A\n")), reason: "declares no services"},
		{name: "services is a list", data: upload(t, file("convox.yml", "services:\n  - web\n")), reason: "does not have the shape"},
		{name: "image is a list", data: upload(t, file("convox.yml", yml("  web:\n    image: [a, b]\n"))), reason: "does not have the shape"},
		{name: "bad service name", data: upload(t, file("convox.yml", yml("  \"Web/initContainer\":\n    image: x\n"))), reason: "not a valid Convox service name"},
		{name: "not YAML", data: upload(t, file("convox.yml", "services: {web: [\n")), reason: "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pattern, c := tt.pattern, tt.commit
			if pattern == "" {
				pattern = webPattern
			}
			if c == "" {
				c = commit
			}
			rule, err := deploycheck.NewImageRule(pattern, tt.requireImages)
			if err != nil {
				t.Fatal(err)
			}
			for _, chunk := range []int{1 << 20, 777, 1} {
				if chunk == 1 && len(tt.data) > 64<<10 {
					continue
				}
				v := inspect(t, rule, c, tt.data, chunk)
				if v.OK != tt.ok || !strings.Contains(v.Reason, tt.reason) {
					t.Fatalf("writes of %d: got OK=%v %q; want OK=%v, reason containing %q", chunk, v.OK, v.Reason, tt.ok, tt.reason)
				}
				if tt.images != nil && !maps.Equal(v.Images, tt.images) {
					t.Errorf("images %v, want %v", v.Images, tt.images)
				}
				if tt.buildOnly != nil && !slices.Equal(v.BuildOnly, tt.buildOnly) {
					t.Errorf("build-only %v, want %v", v.BuildOnly, tt.buildOnly)
				}
			}
		})
	}
}

// pad fills a YAML text with a comment up to exactly n bytes.
func pad(s string, n int) string {
	return s + "#" + strings.Repeat("x", n-len(s)-2) + "\n"
}

func TestInspectorTruncated(t *testing.T) {
	rule, err := deploycheck.NewImageRule(webPattern, false)
	if err != nil {
		t.Fatal(err)
	}
	// convox.yml first, then a large file: cut anywhere after the
	// manifest, the upload must still fail.
	full := upload(t, file("convox.yml", yml(img("web", commit))), file("big.bin", strings.Repeat("0123456789abcdef", 1<<14)))
	if v := inspect(t, rule, commit, full, 4096); !v.OK {
		t.Fatalf("whole upload: %q", v.Reason)
	}
	for _, cut := range []int{1, 10, 100, len(full) / 2, len(full) - 9, len(full) - 1} {
		if v := inspect(t, rule, commit, full[:cut], 4096); v.OK {
			t.Errorf("cut at %d of %d: OK", cut, len(full))
		}
	}
	// Bytes after the gzip stream are not part of any archive the rack
	// would read the same way: refused.
	if v := inspect(t, rule, commit, append(full, "trailing"...), 4096); v.OK {
		t.Error("trailing garbage accepted")
	}
}

func TestInspectorLifecycle(t *testing.T) {
	rule, err := deploycheck.NewImageRule(webPattern, false)
	if err != nil {
		t.Fatal(err)
	}
	in := rule.Inspector(commit)
	if v := in.Result(); v.OK || !strings.Contains(v.Reason, "not finished") {
		t.Errorf("before Close: %+v", v)
	}
	// Not gzip: the answer is known at once, and the writer must still be
	// able to write everything that follows without blocking.
	junk := []byte(strings.Repeat("junk", 1<<10))
	for range 2560 { // 10 MiB
		if _, err := in.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if v := in.Result(); v.OK || !strings.Contains(v.Reason, "not a gzip stream") {
		t.Errorf("after Close: %+v", v)
	}
	if _, err := in.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Write after Close: %v", err)
	}
	// Empty writes (which a careless tee might make) change nothing.
	in = rule.Inspector(commit)
	for _, b := range upload(t, file("convox.yml", yml(img("web", commit)))) {
		for range 150 {
			in.Write(nil)
		}
		in.Write([]byte{b})
	}
	in.Close()
	if v := in.Result(); !v.OK {
		t.Errorf("with empty writes: %q", v.Reason)
	}
	// An abandoned upload: Close without a single byte.
	in = rule.Inspector(commit)
	in.Close()
	if v := in.Result(); v.OK {
		t.Error("empty upload OK")
	}
}
