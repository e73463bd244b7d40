package simrack

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
)

// objectHeadLimit is how much of an uploaded body the rack keeps. Bodies can
// be multi-GB source tarballs or database dumps; only size, SHA-256 and this
// prefix are retained.
const objectHeadLimit = 1 << 20

// object is a stored blob (ObjectStore, builds/import, resource import).
type object struct {
	size    int64
	sha256  string
	head    []byte // the first objectHeadLimit bytes
	public  bool
	created time.Time
}

// complete reports whether head holds the whole body.
func (o *object) complete() bool { return int64(len(o.head)) == o.size }

// headKeeper is an io.Writer that hashes everything and keeps the first
// objectHeadLimit bytes.
type headKeeper struct {
	h    hash.Hash
	head []byte
	n    int64
}

func newHeadKeeper() *headKeeper { return &headKeeper{h: sha256.New()} }

func (k *headKeeper) Write(p []byte) (int, error) {
	k.h.Write(p)
	k.n += int64(len(p))
	if room := objectHeadLimit - len(k.head); room > 0 {
		k.head = append(k.head, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (k *headKeeper) object() *object {
	return &object{size: k.n, sha256: hex.EncodeToString(k.h.Sum(nil)), head: k.head, created: time.Now().UTC()}
}

// consume streams r into a new object without buffering it.
func consume(r io.Reader) (*object, error) {
	k := newHeadKeeper()
	if _, err := io.Copy(k, r); err != nil {
		return nil, err
	}
	return k.object(), nil
}

// sanitizeObjectKey mirrors the rack: clean the key, refuse empty keys and
// any ".." segment.
func sanitizeObjectKey(key string) (string, error) {
	cleaned := strings.TrimPrefix(path.Clean("/"+key), "/")
	if cleaned == "" || cleaned == "." || strings.TrimSpace(cleaned) == "" {
		return "", badRequest("invalid object key")
	}
	if err := rejectDotDot("object key", key); err != nil {
		return "", err
	}
	return cleaned, nil
}

// objectStore is POST /apps/{app}/objects/{key:.*}: the raw body is streamed
// (never form-parsed), an empty key gets a generated tmp/ key.
func (r *Rack) objectStore(c *ctx) error {
	app := c.Var("app")
	key := c.Var("key")
	if key != "" {
		k, err := sanitizeObjectKey(key)
		if err != nil {
			return err
		}
		key = k
	} else {
		var b [15]byte
		_, _ = rand.Read(b[:])
		key = "tmp/" + hex.EncodeToString(b[:])
	}
	public, ok := c.header("Public")
	if _, err := r.withApp(app, func(*appState) (any, error) { return nil, nil }); err != nil {
		return err
	}
	o, err := consume(c.r.Body)
	if err != nil {
		return err
	}
	o.public = optBool(public, ok, false)
	_, err = r.withApp(app, func(a *appState) (any, error) {
		a.objects[key] = o
		return nil, nil
	})
	if err != nil {
		return err
	}
	return c.renderJSON(apiObject{Url: fmt.Sprintf("object://%s/%s", app, key)})
}

// lookupObject returns an object under the lock.
func (r *Rack) lookupObject(app, key string) (*object, error) {
	v, err := r.withApp(app, func(a *appState) (any, error) {
		o, ok := a.objects[key]
		if !ok {
			return nil, notFound("object not found: %s", key)
		}
		return o, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*object), nil
}

// objectFetch streams an object back. Objects larger than the kept prefix
// come back as that prefix padded with zero bytes to the original size.
func (r *Rack) objectFetch(c *ctx) error {
	key, err := sanitizeObjectKey(c.Var("key"))
	if err != nil {
		return err
	}
	o, err := r.lookupObject(c.Var("app"), key)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Length", fmt.Sprint(o.size))
	return writeObject(c.w, o)
}

func writeObject(w io.Writer, o *object) error {
	if _, err := w.Write(o.head); err != nil {
		return err
	}
	_, err := io.CopyN(w, zeroReader{}, o.size-int64(len(o.head)))
	return err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// objectExists is HEAD …/objects/{key}: a JSON boolean (no body on HEAD).
func (r *Rack) objectExists(c *ctx) error {
	key, err := sanitizeObjectKey(c.Var("key"))
	if err != nil {
		return err
	}
	return c.json(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		_, ok := a.objects[key]
		return ok, nil
	}))
}

func (r *Rack) objectDelete(c *ctx) error {
	key, err := sanitizeObjectKey(c.Var("key"))
	if err != nil {
		return err
	}
	return c.ok(r.withApp(c.Var("app"), func(a *appState) (any, error) {
		if _, ok := a.objects[key]; !ok {
			return nil, notFound("object not found: %s", key)
		}
		delete(a.objects, key)
		return nil, nil
	}))
}

// objectList is unimplemented on v3 (k8s) racks.
func (r *Rack) objectList(c *ctx) error {
	prefix := c.Value("prefix")
	if err := rejectDotDot("prefix", prefix); err != nil {
		return err
	}
	if _, err := r.withApp(c.Var("app"), func(*appState) (any, error) { return nil, nil }); err != nil {
		return err
	}
	return errorf(http.StatusNotImplemented, "unimplemented")
}
