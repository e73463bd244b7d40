package deploycheck

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"path"
)

// MaxManifestSize bounds convox.yml (1 MiB); a larger one fails the check.
const MaxManifestSize = 1 << 20

// ManifestName is the file the rack's build reads, at the root of the
// uploaded source.
const ManifestName = "convox.yml"

// readManifest reads the gzipped tar stream r to its end and returns the
// content of its one convox.yml, or the reason the upload fails.
//
// It reads the archive as the rack's build does (compress/gzip and
// archive/tar, each entry extracted at its cleaned path below the build
// directory): every entry whose cleaned path is convox.yml counts, so
// "convox.yml" and "./convox.yml" together are ambiguous (the rack would
// let the last one overwrite the first, partially). The whole gzip stream
// must be intact: a truncated upload fails.
func readManifest(r io.Reader) ([]byte, string) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Sprintf("the upload is not a gzip stream (%s)", quoteTrunc(err.Error()))
	}
	tr := tar.NewReader(zr)
	var data []byte
	first := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Sprintf("the upload is not a complete tar archive (%s)", quoteTrunc(err.Error()))
		}
		if !isManifest(h.Name) {
			continue
		}
		if first != "" {
			return nil, fmt.Sprintf("the upload has more than one %s (entries %s and %s); which one the rack would use is ambiguous", ManifestName, quoteTrunc(first), quoteTrunc(h.Name))
		}
		first = h.Name
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Sprintf("%s in the upload is a %s, not a regular file", ManifestName, typeName(h.Typeflag))
		}
		if h.Size > MaxManifestSize {
			return nil, fmt.Sprintf("%s in the upload is larger than %d bytes", ManifestName, MaxManifestSize)
		}
		data, err = io.ReadAll(io.LimitReader(tr, MaxManifestSize+1))
		if err != nil {
			return nil, fmt.Sprintf("the upload is not a complete tar archive (%s)", quoteTrunc(err.Error()))
		}
		if len(data) > MaxManifestSize {
			return nil, fmt.Sprintf("%s in the upload is larger than %d bytes", ManifestName, MaxManifestSize)
		}
	}
	// What follows the archive's end marker must still be an intact gzip
	// stream: a cut upload fails here rather than passing on what it had.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Sprintf("the upload's gzip stream is truncated or corrupt (%s)", quoteTrunc(err.Error()))
	}
	if first == "" {
		return nil, fmt.Sprintf("the upload has no %s at its root", ManifestName)
	}
	return data, ""
}

// isManifest tells whether a tar entry extracts to convox.yml at the root.
func isManifest(name string) bool {
	return path.Clean("/"+name) == "/"+ManifestName
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeDir:
		return "directory"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "named pipe"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}
