package deploycheck_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
)

// bigUpload is a 50 MiB gzipped tar of incompressible files with convox.yml
// last, so the whole stream must be read to find it.
func bigUpload(t *testing.T) []byte {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{1})
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	chunk := make([]byte, 1<<20)
	for i := range 50 {
		rng.Read(chunk)
		if err := tw.WriteHeader(&tar.Header{Name: "assets/blob" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Mode: 0o644, Size: int64(len(chunk))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(chunk)
	}
	manifest := yml(img("web", commit))
	tw.WriteHeader(&tar.Header{Name: "convox.yml", Mode: 0o644, Size: int64(len(manifest))})
	tw.Write([]byte(manifest))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The Inspector must not hold the upload: 50 MiB streamed through it in
// small writes may allocate only a small, fixed amount in total (the
// decompressor, tar headers, convox.yml and its parse). TotalAlloc counts
// every allocation, collected or not, so this does not depend on when the
// garbage collector runs: buffering the body would need ≥ 50 MiB.
func TestInspectorMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 50 MiB")
	}
	data := bigUpload(t)
	if len(data) < 50<<20 {
		t.Fatalf("upload is only %d bytes", len(data))
	}
	rule, err := deploycheck.NewImageRule(webPattern, true)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	in := rule.Inspector(commit)
	for p := data; len(p) > 0; {
		n := min(4096, len(p))
		in.Write(p[:n])
		p = p[n:]
	}
	in.Close()
	runtime.ReadMemStats(&after)
	v := in.Result()
	if !v.OK {
		t.Fatalf("verdict: %q", v.Reason)
	}
	const bound = 2 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Errorf("inspecting %d MiB allocated %d bytes; want at most %d", len(data)>>20, alloc, bound)
	} else {
		t.Logf("inspecting %d MiB allocated %d KiB in total", len(data)>>20, alloc>>10)
	}
}
