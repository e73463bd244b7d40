package deploycheck_test

import (
	"archive/tar"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
)

// Fuzz input modes (the first byte, modulo 3), so the fuzzer reaches each
// layer without forging checksums and with small inputs (Go's fuzzer
// minimises every new input; a raw tar is kilobytes of padding): the rest
// is the raw upload; or tar entries "name\x00type\x00body\x00..." (type f
// file, d directory, l symlink, h hard link, whose body is the target) to
// put in a gzipped tar; or a convox.yml to put in a gzipped tar.
const (
	fuzzRaw = iota
	fuzzEntries
	fuzzManifest
)

// entriesOf decodes the fuzzEntries encoding.
func entriesOf(data []byte) []entry {
	parts := strings.Split(string(data), "\x00")
	var out []entry
	for i := 0; i+1 < len(parts); i += 3 {
		e := entry{name: parts[i]}
		body := ""
		if i+2 < len(parts) {
			body = parts[i+2]
		}
		switch parts[i+1] {
		case "d":
			e.typ = tar.TypeDir
		case "l":
			e.typ, e.link = tar.TypeSymlink, body
		case "h":
			e.typ, e.link = tar.TypeLink, body
		default:
			e.body = body
		}
		out = append(out, e)
	}
	return out
}

// FuzzInspector feeds hostile uploads to the Inspector: it must never
// panic or hang, must give a reason, must come to the same verdict however
// the upload is split into writes, and must accept only what matches.
func FuzzInspector(f *testing.F) {
	good := yml(img("web", commit) + img("worker", commit))
	seeds := map[byte][]string{
		fuzzRaw: {"", "\x1f\x8b", string(upload(f, file("convox.yml", good))), string(upload(f, file("convox.yml", good), file("./convox.yml", good)))},
		fuzzEntries: {
			"convox.yml\x00f\x00" + good,
			"Dockerfile\x00f\x00FROM scratch\n\x00convox.yml\x00f\x00" + yml(img("web", "latest")),
			"convox.yml\x00l\x00x.yml\x00x.yml\x00f\x00" + good,
			"x.yml\x00f\x00" + good + "\x00convox.yml\x00h\x00x.yml",
			"a/../convox.yml\x00f\x00" + good + "\x00convox.yml/\x00d\x00",
		},
		fuzzManifest: {
			good,
			yml("  web:\n    build: .\n  worker:\n    image: registry.example.com/worker:" + commit + "\n    initContainer:\n      image: x\n"),
			"x: &a {image: registry.example.com/web:" + commit + "}\nservices:\n  web:\n    <<: *a\n",
			billionLaughs(),
			"services: {web: {image: ${IMAGE}}}\n",
			"services:\n  web:\n    image: \"registry.example.com/web:" + commit + "\\n\"\n",
			"services: " + strings.Repeat("[", 100) + "\n",
			"--- \nservices: {}\n---\nservices: {}\n",
		},
	}
	for mode, list := range seeds {
		for _, s := range list {
			f.Add(append([]byte{mode}, s...))
		}
	}
	rule, err := deploycheck.NewImageRule(webPattern, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		data := in[1:]
		switch in[0] % 3 {
		case fuzzEntries:
			raw, err := writeTar(entriesOf(data))
			if err != nil {
				return // not an archive tar.Writer makes; raw mode covers those
			}
			data = gz(t, raw)
		case fuzzManifest:
			data = upload(t, file("convox.yml", string(data)))
		}
		whole := inspect(t, rule, commit, data, len(data)+1)
		split := inspect(t, rule, commit, data, 1+int(in[0])%61)
		if whole.OK != split.OK || whole.Reason != split.Reason {
			t.Fatalf("verdict depends on how the upload is written: %+v vs %+v", whole, split)
		}
		if whole.Reason == "" {
			t.Fatalf("no reason: %+v", whole)
		}
		if whole.OK {
			if len(whole.Images) == 0 && len(whole.BuildOnly) == 0 {
				t.Fatalf("OK without services: %+v", whole)
			}
			for svc, image := range whole.Images {
				if image != "registry.example.com/web:"+commit && image != "registry.example.com/worker:"+commit {
					t.Fatalf("OK with %s image %q", svc, image)
				}
			}
		}
	})
}
