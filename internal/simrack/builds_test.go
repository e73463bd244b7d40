package simrack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// pattern is a repeating block whose length (251*256) is a multiple of 251.
var pattern = func() []byte {
	b := make([]byte, 251*256)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

// patternReader yields n deterministic bytes without holding them.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rem := p.n - p.off; int64(len(b)) > rem {
		b = b[:rem]
	}
	n := copy(b, pattern[p.off%int64(len(pattern)):])
	p.off += int64(n)
	return n, nil
}

func tgz(t *testing.T, files map[string]string) []byte { return testutil.Tgz(t, files) }

func TestObjects(t *testing.T) {
	tr := newTestRack(t)
	const size = 50 << 20

	tests := []struct {
		name    string
		key     string
		body    func() io.Reader
		size    int64
		chunked bool
	}{
		{"50 MiB with length", "tmp/big.tgz", func() io.Reader { return io.LimitReader(&patternReader{n: size}, size) }, size, false},
		{"50 MiB chunked", "tmp/big-chunked.tgz", func() io.Reader {
			pr, pw := io.Pipe()
			go func() { _, _ = io.Copy(pw, &patternReader{n: size}); pw.Close() }()
			return pr
		}, size, true},
		{"small", "dir/sub/small.txt", func() io.Reader { return strings.NewReader("hello object") }, 12, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr.ResetRequests()
			body := tt.body()
			hr, _ := http.NewRequest("POST", tr.srv.URL+"/apps/myapp/objects/"+tt.key, body)
			if !tt.chunked {
				hr.ContentLength = tt.size
			}
			hr.SetBasicAuth("convox", testPassword)
			hr.Header.Set("Content-Type", "application/octet-stream")
			res, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || strings.TrimSpace(string(b)) != "{\n  \"url\": \"object://myapp/"+tt.key+"\"\n}" {
				t.Fatalf("store: %d %q", res.StatusCode, b)
			}
			if got := tr.Requests()[0].BodyBytes; got != tt.size {
				t.Fatalf("body bytes %d, want %d", got, tt.size)
			}
			o, err := tr.lookupObject("myapp", tt.key)
			if err != nil || o.size != tt.size || len(o.head) > objectHeadLimit {
				t.Fatalf("stored %+v %v", o, err)
			}
			var want [32]byte
			h := sha256.New()
			_, _ = io.Copy(h, tt.body())
			copy(want[:], h.Sum(nil))
			if o.sha256 != hex.EncodeToString(want[:]) {
				t.Fatalf("sha256 mismatch")
			}

			if r := tr.do(req{method: "HEAD", path: "/apps/myapp/objects/" + tt.key}); r.status != 200 {
				t.Fatalf("exists: %d", r.status)
			}
			fr, _ := http.NewRequest("GET", tr.srv.URL+"/apps/myapp/objects/"+tt.key, nil)
			fr.SetBasicAuth("convox", testPassword)
			res, err = http.DefaultClient.Do(fr)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var head bytes.Buffer
			n, _ := io.Copy(io.Discard, io.TeeReader(io.LimitReader(res.Body, 64), &head))
			rest, _ := io.Copy(io.Discard, res.Body)
			if n+rest != tt.size {
				t.Fatalf("fetched %d bytes", n+rest)
			}
			if tt.size < objectHeadLimit && head.String() != "hello object" {
				t.Fatalf("fetched %q", head.String())
			}
		})
	}

	t.Run("delete", func(t *testing.T) {
		if r := tr.do(req{method: "DELETE", path: "/apps/myapp/objects/dir/sub/small.txt"}); r.status != 200 {
			t.Fatalf("delete: %d %q", r.status, r.body)
		}
		if r := tr.do(req{path: "/apps/myapp/objects/dir/sub/small.txt"}); r.status != 404 || r.body != "object not found: dir/sub/small.txt\n" {
			t.Fatalf("after delete: %d %q", r.status, r.body)
		}
	})
}

func TestBuildReleasePromote(t *testing.T) {
	tr := newTestRack(t)
	manifest := "services:\n  web:\n    build: .\n    port: 3000\n  worker:\n    build: .\n  clock:\n    build: .\n"
	src := tgz(t, map[string]string{"convox.yml": manifest, "Dockerfile": "FROM scratch\n"})

	var obj apiObject
	tr.jsonDo(req{method: "POST", path: "/apps/myapp/objects/tmp/src.tgz", body: bytes.NewReader(src)}, &obj)

	var b apiBuild
	tr.jsonDo(req{method: "POST", path: "/apps/myapp/builds", form: url.Values{"url": {obj.Url}, "description": {"test build"}}}, &b)
	if b.Status != "running" || !strings.HasPrefix(b.Id, "B") || len(b.Id) != 11 {
		t.Fatalf("build %+v", b)
	}

	// The build log stream follows the build until it completes.
	conn := tr.mustDial("/apps/myapp/builds/"+b.Id+"/logs", nil)
	logs, _ := readUntilEOF(t, conn)
	if !strings.Contains(logs, "Step 1/1 : FROM scratch\n") || !strings.HasSuffix(logs, "Running: docker push registry.simrack.local/myapp:clock."+b.Id+"\n") ||
		!strings.Contains(logs, "myapp:clock."+b.Id) {
		t.Fatalf("build logs %q", logs)
	}
	tr.jsonDo(req{path: "/apps/myapp/builds/" + b.Id}, &b)
	if b.Status != "complete" || b.Release == "" || b.Manifest != manifest {
		t.Fatalf("completed build %+v", b)
	}

	var builds []apiBuild
	tr.jsonDo(req{path: "/apps/myapp/builds?limit=1"}, &builds)
	if len(builds) != 1 || builds[0].Id != b.Id {
		t.Fatalf("latest builds %+v", builds)
	}

	// The build's release carries the previous env; env is read via releases.
	var rel apiRelease
	tr.jsonDo(req{path: "/apps/myapp/releases/" + b.Release}, &rel)
	if rel.Build != b.Id || !strings.Contains(rel.Env, "SECRET_KEY_BASE=") {
		t.Fatalf("build release %+v", rel)
	}

	// `convox env set`: release create with a new env, then promote.
	newEnv := rel.Env + "\nNEW_KEY=new-value"
	var created apiRelease
	tr.jsonDo(req{method: "POST", path: "/apps/myapp/releases", form: url.Values{"env": {newEnv}}}, &created)
	if created.Env != newEnv || created.Build != b.Id || created.Description != "env add:NEW_KEY" {
		t.Fatalf("created release %+v", created)
	}
	var latest []apiRelease
	tr.jsonDo(req{path: "/apps/myapp/releases?limit=1"}, &latest)
	if len(latest) != 1 || latest[0].Id != created.Id || !strings.Contains(latest[0].Env, "NEW_KEY=new-value") {
		t.Fatalf("latest releases %+v", latest)
	}

	if r := tr.do(req{method: "POST", path: "/apps/myapp/releases/" + created.Id + "/promote"}); r.status != 200 || r.body != "ok\n" {
		t.Fatalf("promote: %d %q", r.status, r.body)
	}
	var app apiApp
	tr.jsonDo(req{path: "/apps/myapp"}, &app)
	if app.Release != created.Id || app.Status != "updating" {
		t.Fatalf("app after promote %+v", app)
	}
	waitFor(t, "app running", func() bool {
		tr.jsonDo(req{path: "/apps/myapp"}, &app)
		return app.Status == "running"
	})

	var ps []apiProcess
	tr.jsonDo(req{path: "/apps/myapp/processes"}, &ps)
	names := map[string]int{}
	for _, p := range ps {
		names[p.Name]++
		if p.Release != created.Id {
			t.Errorf("process %s on release %s", p.Id, p.Release)
		}
	}
	if names["web"] != 2 || names["worker"] != 1 || names["clock"] != 1 {
		t.Fatalf("processes after promote %v", names)
	}

	t.Run("seeded pids survive promote", func(t *testing.T) {
		if r := tr.do(req{path: "/apps/myapp/processes/web-5d8f9c7b6b-x2x7k"}); r.status != 200 {
			t.Fatalf("%d %q", r.status, r.body)
		}
	})
	t.Run("unknown release", func(t *testing.T) {
		if r := tr.do(req{method: "POST", path: "/apps/myapp/releases/RNOPE/promote"}); r.status != 404 {
			t.Fatalf("%d %q", r.status, r.body)
		}
	})
}

func TestBuildImportExport(t *testing.T) {
	tr := newTestRack(t)
	exp := tr.do(req{path: "/apps/myapp/builds/BMYAPPSECND.tgz"})
	if exp.status != 200 || findInTarball([]byte(exp.body), "build.json") == "" {
		t.Fatalf("export: %d (%d bytes)", exp.status, len(exp.body))
	}
	var b apiBuild
	tr.jsonDo(req{method: "POST", path: "/apps/blog/builds/import", body: strings.NewReader(exp.body)}, &b)
	if b.Status != "complete" || b.Release == "" || b.Description != "build 8b1e4d2c6a add health check" {
		t.Fatalf("imported %+v", b)
	}
}

func TestSeededSecrets(t *testing.T) {
	tr := newTestRack(t)
	tests := []struct {
		name string
		path string
		want string
	}{
		{"release env", "/apps/myapp/releases/RMYAPPSECND", "DATABASE_URL=postgres://u:secretpw@db/x"},
		{"resource url", "/apps/myapp/resources", "postgres://app:dbsecretpw@"},
		{"rack resource url", "/resources/shared-db", "sharedsecretpw"},
		{"registry password", "/registries", "registry-s3cret-pw"},
		{"db dump", "/apps/myapp/resources/database/data", "INSERT INTO users"},
		{"container file", "/apps/myapp/processes/web-5d8f9c7b6b-x2x7k/files?file=/app/config/database.yml", "secretpw"},
		{"app config", "/apps/myapp/configs/app-config", "\"value\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tr.do(req{path: tt.path})
			if r.status != 200 || !strings.Contains(r.body, tt.want) {
				t.Fatalf("%d %q", r.status, r.body)
			}
		})
	}
}

func TestProcessRunAndStop(t *testing.T) {
	tr := newTestRack(t)
	var p apiProcess
	tr.jsonDo(req{method: "POST", path: "/apps/myapp/services/web/processes",
		header: map[string]string{"Command": "sleep 3600", "Environment": "EXTRA=1&OTHER=two"}}, &p)
	if p.Status != "pending" || p.Command != "sleep 3600" || !strings.HasPrefix(p.Id, "web-run-") {
		t.Fatalf("run %+v", p)
	}
	waitFor(t, "process running", func() bool {
		tr.jsonDo(req{path: "/apps/myapp/processes/" + p.Id}, &p)
		return p.Status == "running"
	})
	conn := tr.mustDial("/apps/myapp/processes/"+p.Id+"/exec", map[string]string{"Command": "printenv OTHER", "Entrypoint": "true", "Tty": "false"})
	sendEOF(t, conn)
	if text, _ := readUntilEOF(t, conn); text != "two\n"+marker+"0\n" {
		t.Fatalf("exec in run process: %q", text)
	}
	if r := tr.do(req{method: "DELETE", path: "/apps/myapp/processes/" + p.Id}); r.status != 200 {
		t.Fatalf("stop: %d", r.status)
	}
	if r := tr.do(req{path: "/apps/myapp/processes/" + p.Id}); r.status != 404 {
		t.Fatalf("after stop: %d", r.status)
	}
}

// build uploads src, creates a build of it and returns the build once its
// log stream has ended (the build is over then).
func (tr *testRack) build(src []byte, form url.Values) (apiBuild, string) {
	tr.t.Helper()
	var obj apiObject
	tr.jsonDo(req{method: "POST", path: "/apps/myapp/objects/tmp/src.tgz", body: bytes.NewReader(src)}, &obj)
	if form == nil {
		form = url.Values{}
	}
	form.Set("url", obj.Url)
	var b apiBuild
	tr.jsonDo(req{method: "POST", path: "/apps/myapp/builds", form: form}, &b)
	conn := tr.mustDial("/apps/myapp/builds/"+b.Id+"/logs", nil)
	logs, _ := readUntilEOF(tr.t, conn)
	tr.jsonDo(req{path: "/apps/myapp/builds/" + b.Id}, &b)
	return b, logs
}

func TestBuildLogsFollowTheDockerfiles(t *testing.T) {
	tr := newTestRack(t)
	manifest := "services:\n  web:\n    build: .\n    port: 3000\n  api:\n    build: .\n" +
		"  worker:\n    build:\n      path: worker\n      manifest: Dockerfile.worker\n  cache:\n    image: redis:7\n"
	dockerfile := "# syntax comment\nFROM node:22-alpine\nWORKDIR /app\nCOPY package.json .\nRUN npm ci && \\\n    npm cache clean --force\nCMD [\"node\", \"server.js\"]\n"
	b, logs := tr.build(tgz(t, map[string]string{
		"convox.yml": manifest, "Dockerfile": dockerfile, "package.json": "{}\n",
		"worker/Dockerfile.worker": "FROM golang:1.24\nRUN go build ./...\n",
	}), nil)
	if b.Status != "complete" || b.Release == "" || b.Manifest != manifest {
		t.Fatalf("build %+v\n%s", b, logs)
	}
	for _, want := range []string{
		"Authenticating registry.simrack.local: Login Succeeded\nBuilding: .\nSending build context to Docker daemon  ",
		"Step 1/5 : FROM node:22-alpine\n",
		"Step 2/5 : WORKDIR /app\n",
		"Step 4/5 : RUN npm ci && npm cache clean --force\n",
		"Step 5/5 : CMD [\"node\", \"server.js\"]\n",
		"Building: worker\n",
		"Step 1/2 : FROM golang:1.24\n",
		"Step 2/2 : RUN go build ./...\n",
		"Running: docker pull redis:7\n",
		"Running: docker tag redis:7 simrack/myapp:cache." + b.Id + "\n",
		"Running: docker push registry.simrack.local/myapp:worker." + b.Id + "\n",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("build logs lack %q:\n%s", want, logs)
		}
	}
	// web and api share one docker build.
	if n := strings.Count(logs, "Building: .\n"); n != 1 {
		t.Errorf("%d builds of .:\n%s", n, logs)
	}
	if strings.Contains(logs, "ruby") || strings.Contains(logs, "ERROR") {
		t.Errorf("canned or failing output:\n%s", logs)
	}
	// The stored log object is the same text.
	if r := tr.do(req{path: "/apps/myapp/objects/build/" + b.Id + "/logs"}); r.status != 200 || r.body != logs {
		t.Errorf("log object %d %q", r.status, r.body)
	}
}

func TestBuildFailsLikeARack(t *testing.T) {
	tr := newTestRack(t)
	manifest := "services:\n  web:\n    build: .\n"
	tests := []struct {
		name    string
		src     []byte
		form    url.Values
		wantErr string // the last log line, after the temp dir
		status  string
	}{
		{"no convox.yml", tgz(t, map[string]string{"Dockerfile": "FROM scratch\n", "index.html": "hi"}), nil,
			"/convox.yml: no such file or directory\n", "failed"},
		{"named manifest missing", tgz(t, map[string]string{"convox.yml": manifest, "Dockerfile": "FROM scratch\n"}),
			url.Values{"manifest": {"convox.prod.yml"}}, "/convox.prod.yml: no such file or directory\n", "failed"},
		{"named manifest present", tgz(t, map[string]string{"convox.prod.yml": manifest, "Dockerfile": "FROM scratch\n"}),
			url.Values{"manifest": {"convox.prod.yml"}}, "", "complete"},
		{"no Dockerfile", tgz(t, map[string]string{"convox.yml": manifest}), nil,
			"/Dockerfile: no such file or directory\n", "failed"},
		{"empty Dockerfile", tgz(t, map[string]string{"convox.yml": manifest, "Dockerfile": "# nothing\n"}), nil,
			"Error response from daemon: the Dockerfile (Dockerfile) cannot be empty\nERROR: exit status 1\n", "failed"},
		{"not a gzip", []byte(strings.Repeat("tgz", 100)), nil, "ERROR: gzip: invalid header\n", "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, logs := tr.build(tt.src, tt.form)
			if b.Status != tt.status {
				t.Fatalf("status %q, want %q\n%s", b.Status, tt.status, logs)
			}
			if tt.status == "complete" {
				if b.Release == "" || b.Manifest != manifest || strings.Contains(logs, "ERROR") {
					t.Fatalf("build %+v\n%s", b, logs)
				}
				return
			}
			// The manifest is recorded once read, before the docker build.
			readManifest := strings.Contains(tt.wantErr, "Dockerfile")
			if b.Release != "" || (b.Manifest != "") != readManifest || b.Ended.IsZero() {
				t.Errorf("failed build %+v", b)
			}
			if !strings.HasSuffix(logs, tt.wantErr) || !strings.HasPrefix(logs, "Authenticating ") {
				t.Errorf("logs %q lack %q", logs, tt.wantErr)
			}
			if strings.HasSuffix(tt.wantErr, "no such file or directory\n") && !regexp.MustCompile(`\nERROR: open /tmp/[0-9]+/`).MatchString(logs) {
				t.Errorf("logs %q: want the build pod's open error", logs)
			}
			if r := tr.do(req{path: "/apps/myapp/objects/build/" + b.Id + "/logs"}); r.status != 200 || r.body != logs {
				t.Errorf("log object %d %q", r.status, r.body)
			}
		})
	}
}
