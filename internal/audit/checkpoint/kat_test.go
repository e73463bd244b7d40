package checkpoint_test

// Known-answer tests for the frozen checkpoint formats: the v1 statement
// text (Statement.Text, Signer.Make), its Ed25519 signature under a fixed
// test key (Ed25519 signatures are deterministic), the anchor object's bytes
// (EncodeAnchor) and key (AnchorKey), and the key id. The expected values
// are checked in under testdata/ and compared against what the code
// produces; the tests never write them.
//
// THESE VECTORS ARE FROZEN. Every checkpoint a deployed gateway has signed
// and anchored in write-once storage has these forms; the anchors cannot be
// rewritten, and the verifier must keep accepting them. If a test here
// fails, the code changed a format: fix the code. Regenerating the vectors
// (kat_gen_test.go, -regenerate-frozen-vectors) to make a failure go away
// breaks every deployed log. A new format is a new statement version
// accepted alongside v1, with new vector files next to these.
//
// The test key (seed 00 01 … 1f) is public and must never sign anything but
// these vectors.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

const (
	statementVectors = "testdata/statements_v1.json"
	publicKeyFile    = "testdata/kat_public_key.pem"
)

// statementFile is testdata/statements_v1.json.
type statementFile struct {
	Comment string `json:"comment"`
	Key     struct {
		Seed      string `json:"seed"`       // hex of the Ed25519 seed
		PublicKey string `json:"public_key"` // base64 of the 32-byte public key
		KeyID     string `json:"key_id"`     // checkpoint.KeyID
		PEMFile   string `json:"pem_file"`   // checkpoint.MarshalPublicKey, relative to testdata/
	} `json:"key"`
	Vectors []statementVector `json:"vectors"`
}

type statementVector struct {
	Name  string `json:"name"`
	About string `json:"about"`
	// Inputs of Signer.Make: the signer's origin, the head (seq, hash),
	// the clock's reading, and the previous checkpoint (another vector's
	// name, "" for none).
	Origin string `json:"origin"`
	Seq    int64  `json:"seq"`
	Head   string `json:"head"`
	Now    string `json:"now"`
	Prev   string `json:"prev"`
	// Outputs.
	Statement       string `json:"statement"`
	StatementSHA256 string `json:"statement_sha256"` // checkpoint.Hash: the next statement's prev
	Signature       string `json:"signature"`        // base64
	CreatedAt       string `json:"created_at"`
	AnchorKey       string `json:"anchor_key"`
	AnchorFile      string `json:"anchor_file"` // EncodeAnchor's exact bytes, relative to testdata/
}

func readVectors(t *testing.T) (*statementFile, ed25519.PrivateKey) {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(statementVectors))
	if err != nil {
		t.Fatal(err)
	}
	var f statementFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", statementVectors, err)
	}
	seed, err := hex.DecodeString(f.Key.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("bad seed %q", f.Key.Seed)
	}
	return &f, ed25519.NewKeyFromSeed(seed)
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func readTestdata(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The key's public forms are frozen too: auditors are given the PEM, and
// anchors name the key by KeyID.
func TestKeyKnownAnswers(t *testing.T) {
	f, key := readVectors(t)
	pub := key.Public().(ed25519.PublicKey)
	if got := base64.StdEncoding.EncodeToString(pub); got != f.Key.PublicKey {
		t.Fatalf("public key of the seed = %s, want %s", got, f.Key.PublicKey)
	}
	if got := checkpoint.KeyID(pub); got != f.Key.KeyID {
		t.Fatalf("KeyID changed: %s, want %s", got, f.Key.KeyID)
	}
	pemBytes := readTestdata(t, f.Key.PEMFile)
	if got := checkpoint.MarshalPublicKey(pub); !bytes.Equal(got, pemBytes) {
		t.Fatalf("MarshalPublicKey changed:\n%s\nwant\n%s", got, pemBytes)
	}
	for _, in := range [][]byte{pemBytes, []byte(f.Key.PublicKey + "\n")} {
		got, err := checkpoint.ParsePublicKey(in)
		if err != nil || !got.Equal(pub) {
			t.Fatalf("ParsePublicKey(%q) = %x, %v", in, got, err)
		}
	}
	priv, err := checkpoint.ParsePrivateKey([]byte(base64.StdEncoding.EncodeToString(key.Seed())))
	if err != nil || !priv.Equal(key) {
		t.Fatalf("ParsePrivateKey(base64 seed): %v", err)
	}
}

// Signer.Make, given the vector's inputs, produces exactly the frozen
// statement, signature and anchor object; and the frozen ones parse and
// verify.
func TestStatementKnownAnswers(t *testing.T) {
	f, key := readVectors(t)
	pub := key.Public().(ed25519.PublicKey)
	if len(f.Vectors) < 4 {
		t.Fatalf("only %d statement vectors", len(f.Vectors))
	}
	byName := map[string]*statementVector{}
	for i := range f.Vectors {
		v := &f.Vectors[i]
		t.Run(v.Name, func(t *testing.T) {
			sig := b64(t, v.Signature)
			head := unhex(t, v.Head)
			now, err := time.Parse(time.RFC3339Nano, v.Now)
			if err != nil {
				t.Fatal(err)
			}
			created, err := time.Parse(time.RFC3339Nano, v.CreatedAt)
			if err != nil {
				t.Fatal(err)
			}
			var prev *store.Checkpoint
			var prevHash []byte
			if v.Prev != "" {
				p := byName[v.Prev]
				if p == nil {
					t.Fatalf("prev %q is not an earlier vector", v.Prev)
				}
				prev = &store.Checkpoint{Seq: p.Seq, Statement: p.Statement, Signature: b64(t, p.Signature)}
				prevHash = unhex(t, p.StatementSHA256)
			}

			// The production path.
			s := &checkpoint.Signer{Key: key, Origin: v.Origin, Now: func() time.Time { return now }}
			c, err := s.Make(prev, v.Seq, head)
			if err != nil || c == nil {
				t.Fatalf("Make: %v, %v", c, err)
			}
			if c.Statement != v.Statement {
				t.Fatalf("the statement text changed — this breaks every deployed audit log:\n got %q\nwant %q", c.Statement, v.Statement)
			}
			if !bytes.Equal(c.Signature, sig) {
				t.Fatalf("the signature changed:\n got %s\nwant %s", base64.StdEncoding.EncodeToString(c.Signature), v.Signature)
			}
			if c.Seq != v.Seq || !c.CreatedAt.Equal(created) || c.CreatedAt.Location() != time.UTC {
				t.Fatalf("checkpoint seq %d created %v, want %d %v (UTC)", c.Seq, c.CreatedAt, v.Seq, created)
			}

			// The statement, from its fields.
			st := checkpoint.Statement{Origin: v.Origin, Seq: v.Seq, Head: head, Time: created, Prev: prevHash}
			if got := st.Text(); got != v.Statement {
				t.Fatalf("Statement.Text changed:\n got %q\nwant %q", got, v.Statement)
			}
			if got := hex.EncodeToString(checkpoint.Hash(v.Statement)); got != v.StatementSHA256 {
				t.Fatalf("Hash = %s, want %s", got, v.StatementSHA256)
			}
			if prev != nil && !checkpoint.SamePrev(st.Prev, checkpoint.Hash(prev.Statement)) {
				t.Fatal("the statement does not link to its predecessor")
			}

			// The frozen statement parses back to its fields and verifies.
			got, err := checkpoint.Verify(pub, v.Statement, sig)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Origin != st.Origin || got.Seq != st.Seq || !bytes.Equal(got.Head, st.Head) ||
				!got.Time.Equal(st.Time) || !bytes.Equal(got.Prev, st.Prev) {
				t.Fatalf("Parse = %+v, want %+v", got, st)
			}
			bad := bytes.Clone(sig)
			bad[0] ^= 1
			if _, err := checkpoint.Verify(pub, v.Statement, bad); err == nil {
				t.Fatal("a flipped signature bit verified")
			}

			// The anchor object.
			if got := checkpoint.AnchorKey(v.Seq); got != v.AnchorKey {
				t.Fatalf("AnchorKey(%d) = %s, want %s", v.Seq, got, v.AnchorKey)
			}
			want := readTestdata(t, v.AnchorFile)
			if got := checkpoint.EncodeAnchor(c, f.Key.KeyID); !bytes.Equal(got, want) {
				t.Fatalf("EncodeAnchor changed — anchors already in write-once storage would no longer match:\n got %s\nwant %s", got, want)
			}
			a, err := checkpoint.DecodeAnchor(want)
			if err != nil {
				t.Fatal(err)
			}
			if a.Statement != v.Statement || a.KeyID != f.Key.KeyID || !bytes.Equal(a.Signature, sig) {
				t.Fatalf("DecodeAnchor = %+v", a)
			}
		})
		byName[v.Name] = v
	}
}

// An auditor can check a frozen anchor with OpenSSL alone, as the package
// documentation shows: the signature is plain Ed25519 over the statement's
// bytes. Skipped where no OpenSSL 3 is installed.
func TestStatementVerifiesWithOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	out, err := exec.Command(bin, "version").Output()
	major := 0
	if m := regexp.MustCompile(`^OpenSSL (\d+)\.`).FindSubmatch(out); err == nil && m != nil {
		major, _ = strconv.Atoi(string(m[1]))
	}
	if major < 3 {
		t.Skipf("need OpenSSL 3 for pkeyutl -rawin; have %q", bytes.TrimSpace(out))
	}
	f, _ := readVectors(t)
	dir := t.TempDir()
	for _, v := range f.Vectors {
		a, err := checkpoint.DecodeAnchor(readTestdata(t, v.AnchorFile))
		if err != nil {
			t.Fatal(err)
		}
		stmt, sigf := filepath.Join(dir, v.Name+".txt"), filepath.Join(dir, v.Name+".sig")
		if err := os.WriteFile(stmt, []byte(a.Statement), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sigf, a.Signature, 0o600); err != nil {
			t.Fatal(err)
		}
		verify := func() ([]byte, error) {
			return exec.Command(bin, "pkeyutl", "-verify", "-pubin", "-inkey", filepath.Join("testdata", f.Key.PEMFile),
				"-rawin", "-in", stmt, "-sigfile", sigf).CombinedOutput()
		}
		if out, err := verify(); err != nil || !strings.Contains(string(out), "Verified Successfully") {
			t.Fatalf("%s: openssl: %v\n%s", v.Name, err, out)
		}
		// And OpenSSL does reject a changed statement.
		if err := os.WriteFile(stmt, []byte(strings.Replace(a.Statement, "seq: ", "seq: 1", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := verify(); err == nil {
			t.Fatalf("%s: openssl verified a changed statement:\n%s", v.Name, out)
		}
	}
}
