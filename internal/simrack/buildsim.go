package simrack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// A simulated build follows the real build pod (convox/convox pkg/build with
// the docker engine) step by step:
//
//  1. log in to the registry ("Authenticating …");
//  2. unpack the gzipped source tarball into a fresh temporary directory;
//  3. read the manifest (convox.yml or the --manifest name) from it: when
//     it is missing the build fails with "ERROR: open /tmp/N/convox.yml: no
//     such file or directory" and status failed, like a real rack;
//  4. per distinct service build: "Building: PATH", then docker build's own
//     output, one "Step i/n : …" line per instruction of that Dockerfile
//     (a missing Dockerfile fails the build as docker would);
//  5. docker pull of image services, docker tag of every service image and a
//     tag and push to the app's repository.
//
// Any error ends the log with "ERROR: …" and leaves the build failed
// without a release; otherwise the build completes with a release.
//
// A source kept only in part (larger than objectHeadLimit) is read as far as
// it was kept; what could not be seen (the manifest, a Dockerfile) is taken
// to exist, so large uploads still build.

// sourceFileLimit bounds a source file whose content the simulation keeps.
const sourceFileLimit = 256 << 10

// buildPlan is what a build will log and how it ends.
type buildPlan struct {
	manifest string // as read from the source; "" when the build failed before
	lines    []string
	failed   bool
}

// source is an unpacked build source.
type source struct {
	files   map[string][]byte // cleaned path -> content (small files only)
	sizes   map[string]int64  // cleaned path -> size, every regular file
	partial bool              // the tarball was only partly kept
}

// readSource unpacks a source object like the build pod's gzip+untar.
func readSource(o *object) (*source, error) {
	src := &source{files: map[string][]byte{}, sizes: map[string]int64{}, partial: !o.complete()}
	gz, err := gzip.NewReader(bytes.NewReader(o.head))
	if err != nil {
		if src.partial && errors.Is(err, io.ErrUnexpectedEOF) {
			return src, nil
		}
		return nil, fmt.Errorf("gzip: %s", strings.TrimPrefix(err.Error(), "gzip: "))
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return src, nil
		}
		if err != nil {
			if src.partial {
				return src, nil
			}
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean("/" + h.Name)[1:]
		src.sizes[name] = h.Size
		if h.Size > sourceFileLimit {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			if src.partial {
				return src, nil
			}
			return nil, err
		}
		src.files[name] = b
	}
}

// contextSize is the size of the files under dir (the docker build context).
func (s *source) contextSize(dir string) int64 {
	dir = path.Clean(dir)
	var n int64
	for name, size := range s.sizes {
		if dir == "." || name == dir || strings.HasPrefix(name, dir+"/") {
			n += size
		}
	}
	return n
}

// serviceBuild is one service of a manifest as the build sees it.
type serviceBuild struct {
	name       string
	image      string // an image service is pulled, not built
	path       string // build path, default "."
	dockerfile string // Dockerfile name inside path, default "Dockerfile"
}

// parseServiceBuilds reads each service's build (a path, or a block with
// path and manifest) or image out of a convox.yml.
func parseServiceBuilds(manifest string) []serviceBuild {
	var out []serviceBuild
	inBuild, buildIndent := false, -1
	for l := range serviceLines(manifest) {
		if inBuild && l.indent <= buildIndent {
			inBuild = false
		}
		key, val, _ := strings.Cut(l.text, ":")
		val = strings.Trim(strings.TrimSpace(val), `"'`)
		switch {
		case l.indent == l.svcIndent:
			out = append(out, serviceBuild{name: key, path: ".", dockerfile: "Dockerfile"})
		case len(out) == 0:
		case inBuild && key == "path" && val != "":
			out[len(out)-1].path = val
		case inBuild && key == "manifest" && val != "":
			out[len(out)-1].dockerfile = val
		case inBuild:
		case key == "build":
			if val != "" {
				out[len(out)-1].path = val
			} else {
				inBuild, buildIndent = true, l.indent
			}
		case key == "image":
			out[len(out)-1].image = val
		}
	}
	return out
}

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	keyword string
	text    string // as docker prints it after "Step i/n : "
}

// dockerfileInstructions parses a Dockerfile the way docker's classic
// builder numbers its steps.
func dockerfileInstructions(data string) []instruction {
	var out []instruction
	var cur strings.Builder
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		kw, _, _ := strings.Cut(text, " ")
		out = append(out, instruction{keyword: strings.ToUpper(kw), text: text})
	}
	for _, line := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\"))
			continue
		}
		cur.WriteString(t)
		flush()
	}
	flush()
	return out
}

// fakeDockerfile stands in for a Dockerfile the simulation could not see.
const fakeDockerfile = "FROM ruby:3.3-slim\nCOPY . /app\nRUN bundle install\nCMD [\"bin/web\"]\n"

// planBuild simulates the build pod for a source object.
func planBuild(rack, app, id, repository string, o *object, manifestName string) buildPlan {
	if manifestName == "" {
		manifestName = "convox.yml"
	}
	p := buildPlan{lines: []string{"Authenticating registry.simrack.local: Login Succeeded\n"}}
	fail := func(format string, args ...any) buildPlan {
		p.lines = append(p.lines, fmt.Sprintf("ERROR: "+format+"\n", args...))
		p.failed = true
		return p
	}
	src, err := readSource(o)
	if err != nil {
		return fail("%s", err)
	}
	tmp := tempDir(id)
	manifest, ok := src.files[path.Clean(manifestName)]
	switch {
	case ok:
	case src.partial:
		manifest = []byte(defaultManifest)
	default:
		return fail("open %s: no such file or directory", path.Join(tmp, manifestName))
	}
	p.manifest = string(manifest)

	services := parseServiceBuilds(p.manifest)
	hashes := map[string]string{} // service -> local image (build hash or pulled image)
	built := map[string]string{}  // build key -> hash
	var pulls []string
	for _, s := range services {
		if s.image != "" {
			hashes[s.name] = s.image
			pulls = append(pulls, s.image)
			continue
		}
		key := s.path + "\x00" + s.dockerfile
		if h, ok := built[key]; ok {
			hashes[s.name] = h
			continue
		}
		h := fakeHash(56, id, s.path, s.dockerfile)
		built[key], hashes[s.name] = h, h
		p.lines = append(p.lines, fmt.Sprintf("Building: %s\n", s.path))
		dfName := path.Join(s.path, s.dockerfile)
		df, ok := src.files[dfName]
		if !ok {
			if _, exists := src.sizes[dfName]; !exists && !src.partial {
				return fail("open %s: no such file or directory", path.Join(tmp, dfName))
			}
			df = []byte(fakeDockerfile)
		}
		lines, err := dockerBuild(id, h, df, src.contextSize(s.path), s.dockerfile)
		p.lines = append(p.lines, lines...)
		if err != nil {
			return fail("%s", err)
		}
	}
	sort.Strings(pulls)
	for i, image := range pulls {
		if i > 0 && image == pulls[i-1] {
			continue
		}
		p.lines = append(p.lines, fmt.Sprintf("Running: docker pull %s\n", image))
	}
	names := make([]string, 0, len(hashes))
	for _, s := range services {
		names = append(names, s.name)
	}
	sort.SliceStable(names, func(i, j int) bool { return hashes[names[i]] < hashes[names[j]] })
	for _, n := range names {
		p.lines = append(p.lines, fmt.Sprintf("Running: docker tag %s %s/%s:%s.%s\n", hashes[n], rack, app, n, id))
	}
	for _, n := range names {
		to := fmt.Sprintf("%s:%s.%s", repository, n, id)
		p.lines = append(p.lines,
			fmt.Sprintf("Running: docker tag %s/%s:%s.%s %s\n", rack, app, n, id, to),
			fmt.Sprintf("Running: docker push %s\n", to))
	}
	return p
}

// dockerBuild is the output of docker's classic builder for one Dockerfile.
func dockerBuild(id, tag string, dockerfile []byte, contextSize int64, name string) ([]string, error) {
	steps := dockerfileInstructions(string(dockerfile))
	lines := []string{fmt.Sprintf("Sending build context to Docker daemon  %s\n", humanSize(contextSize))}
	if len(steps) == 0 {
		lines = append(lines, fmt.Sprintf("Error response from daemon: the Dockerfile (%s) cannot be empty\n", name))
		return lines, errors.New("exit status 1")
	}
	image := ""
	for i, st := range steps {
		lines = append(lines, fmt.Sprintf("Step %d/%d : %s\n", i+1, len(steps), st.text))
		if i == 0 && st.keyword != "FROM" && st.keyword != "ARG" {
			lines = append(lines, "Error response from daemon: No build stage in current context\n")
			return lines, errors.New("exit status 1")
		}
		image = fakeHash(12, id, tag, st.text, fmt.Sprint(i))
		switch st.keyword {
		case "FROM", "COPY", "ADD", "ARG":
		default:
			c := fakeHash(12, id, tag, "container", fmt.Sprint(i))
			lines = append(lines, fmt.Sprintf(" ---> Running in %s\n", c))
			lines = append(lines, fmt.Sprintf("Removing intermediate container %s\n", c))
		}
		lines = append(lines, fmt.Sprintf(" ---> %s\n", image))
	}
	return append(lines,
		fmt.Sprintf("Successfully built %s\n", image),
		fmt.Sprintf("Successfully tagged %s:latest\n", tag)), nil
}

// fakeHash is a deterministic hex id of n digits.
func fakeHash(n int, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:n]
}

// tempDir is the build pod's os.MkdirTemp(os.TempDir(), "") for a build.
func tempDir(id string) string {
	sum := sha256.Sum256([]byte(id))
	return fmt.Sprintf("/tmp/%d", binary.BigEndian.Uint32(sum[:4]))
}

// humanSize formats bytes like docker (go-units HumanSize: 4 significant
// digits, decimal units).
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// seedBuildLogs is the log of a seeded build: the plan of a source holding
// the manifest and a Ruby Dockerfile.
func seedBuildLogs(rack, app, id, manifest string) []string {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, body string }{{"convox.yml", manifest}, {"Dockerfile", fakeDockerfile}} {
		_ = tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(f.body))
	}
	_ = tw.Close()
	_ = gz.Close()
	o, _ := consume(&buf)
	return planBuild(rack, app, id, "registry.simrack.local/"+app, o, "").lines
}
