package deploycheck_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
)

// entry is one tar entry of a test upload.
type entry struct {
	name string
	typ  byte // tar.TypeReg when zero
	body string
	link string
}

func file(name, body string) entry { return entry{name: name, body: body} }

// tarOf writes entries as a tar archive (with its end marker).
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	data, err := writeTar(entries)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeTar(entries []entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload is what convox build uploads: a gzipped tar.
func upload(t testing.TB, entries ...entry) []byte { return gz(t, tarOf(t, entries...)) }

// inspect streams data through an Inspector in writes of at most chunk
// bytes and returns its verdict.
func inspect(t testing.TB, rule *deploycheck.ImageRule, commit string, data []byte, chunk int) deploycheck.ImageVerdict {
	t.Helper()
	in := rule.Inspector(commit)
	for len(data) > 0 {
		n := min(chunk, len(data))
		if w, err := in.Write(data[:n]); w != n || err != nil {
			t.Fatalf("Write: %d, %v", w, err)
		}
		data = data[n:]
	}
	if err := in.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return in.Result()
}
