package deploycheck

import (
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
)

// CommitPlaceholder stands for the approved commit in an image pattern; it
// is replaced by regexp.QuoteMeta(commit), so it matches the commit
// literally.
const CommitPlaceholder = "{{GIT_COMMIT}}"

// sampleCommit is substituted to check a pattern when the rule is made.
const sampleCommit = "0123456789abcdef0123456789abcdef01234567"

// maxPatternLen bounds an image pattern.
const maxPatternLen = 4096

// ImageRule is an app policy's requirement on the images its convox.yml
// names. It is immutable and safe for concurrent use.
type ImageRule struct {
	pattern       string
	requireImages bool
}

// NewImageRule checks and returns a rule. pattern is a Go regular
// expression (RE2 syntax) that every service's image must match, anchored
// at both ends: it must begin with ^ (or \A) and end with $ (or \z) at its
// top level, as in ^registry\.example\.com/web:{{GIT_COMMIT}}$; an
// alternation must be grouped inside the anchors, ^(?:a|b)$, and (?m) is
// refused. With requireImages, a service without an image (built from its
// Dockerfile by the rack) fails the check; without it such services are
// allowed and listed in ImageVerdict.BuildOnly.
func NewImageRule(pattern string, requireImages bool) (*ImageRule, error) {
	if len(pattern) > maxPatternLen {
		return nil, invalid("image pattern longer than %d bytes", maxPatternLen)
	}
	if _, err := compilePattern(pattern, sampleCommit); err != nil {
		return nil, err
	}
	return &ImageRule{pattern: pattern, requireImages: requireImages}, nil
}

// Pattern returns the rule's pattern as given.
func (r *ImageRule) Pattern() string { return r.pattern }

// compilePattern substitutes commit (quoted) for the placeholder, then
// compiles and checks the anchoring.
func compilePattern(pattern, commit string) (*regexp.Regexp, error) {
	expr := strings.ReplaceAll(pattern, CommitPlaceholder, regexp.QuoteMeta(commit))
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, invalid("image pattern %q does not compile: %v", pattern, err)
	}
	if n := len(tree.Sub); tree.Op != syntax.OpConcat || n < 2 || tree.Sub[0].Op != syntax.OpBeginText || tree.Sub[n-1].Op != syntax.OpEndText {
		return nil, invalid("image pattern %q must be anchored: begin with ^ and end with $ (group alternatives inside: ^(?:a|b)$)", pattern)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, invalid("image pattern %q does not compile: %v", pattern, err)
	}
	return re, nil
}

// ImageVerdict is the outcome of inspecting one upload.
type ImageVerdict struct {
	OK bool
	// Reason is one sentence for people. Names and images from the upload
	// appear in it quoted.
	Reason string
	// Images maps each service with an image to it, and
	// "<service>/initContainer" to an init container's image: everything
	// convox.yml names, matching or not. These are the upload's text:
	// escape them when displaying.
	Images map[string]string
	// BuildOnly lists (sorted) the services without an image, which the
	// rack builds from the uploaded source.
	BuildOnly []string
}

// Inspector checks one upload as it streams: write the upload's body to it
// (e.g. through io.TeeReader) and Close it when the body has been read to
// its end, then read Result. It is an io.WriteCloser for one writer; Close
// may come from another goroutine, even during a Write (e.g. a transport
// closing the request body on error), with io.Pipe's guarantees: the
// inspection then sees a cut stream and fails. Close is idempotent.
//
// Write never fails and never holds on to its argument: the bytes go
// through an io.Pipe to a goroutine that decompresses and reads the tar
// stream with a fixed amount of memory, and once it has its answer keeps
// draining, so Write only ever waits for the parsing of what it hands over.
// Close must be called (even when the upload is abandoned: a partial
// upload fails as truncated), or the goroutine is left waiting.
type Inspector struct {
	rule   *ImageRule
	commit string
	re     *regexp.Regexp // nil when the commit is not valid
	pw     *io.PipeWriter
	once   sync.Once
	done   chan struct{}
	result ImageVerdict // written by the goroutine before done is closed
}

// Inspector returns an inspector that checks an upload against the rule
// for the approved commit (the full 40-hex SHA; any other value makes the
// check fail).
func (r *ImageRule) Inspector(commit string) *Inspector {
	in := &Inspector{rule: r, commit: commit, done: make(chan struct{})}
	if ValidCommit(commit) == nil {
		in.re, _ = compilePattern(r.pattern, commit) // compiled in NewImageRule with a sample commit
	}
	pr, pw := io.Pipe()
	in.pw = pw
	go in.run(pr)
	return in
}

// Write hands p to the inspection. It returns len(p), nil, unless the
// Inspector was closed.
func (in *Inspector) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // an empty write through the pipe would be an empty read, which bufio counts against progress
	}
	if _, err := in.pw.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the upload and waits for the inspection to finish. It always
// returns nil; the outcome is Result.
func (in *Inspector) Close() error {
	in.once.Do(func() { in.pw.Close() })
	<-in.done
	return nil
}

// Result is the inspection's verdict. Before Close has returned it is not
// OK ("not finished").
func (in *Inspector) Result() ImageVerdict {
	select {
	case <-in.done:
		return in.result
	default:
		return ImageVerdict{Reason: "the upload's inspection has not finished"}
	}
}

func (in *Inspector) run(pr *io.PipeReader) {
	defer close(in.done)
	v := in.inspect(pr)
	io.Copy(io.Discard, pr) // the writer never blocks on an inspection that has its answer
	pr.Close()
	in.result = v
}

// inspect reads the upload and decides, turning a panic on hostile input
// into a failed verdict rather than a crash of the gateway.
func (in *Inspector) inspect(r io.Reader) (v ImageVerdict) {
	defer func() {
		if p := recover(); p != nil {
			v = ImageVerdict{Reason: fmt.Sprintf("the upload could not be inspected (internal error: %v)", p)}
		}
	}()
	data, reason := readManifest(r)
	if reason != "" {
		return ImageVerdict{Reason: reason}
	}
	if in.re == nil {
		return ImageVerdict{Reason: fmt.Sprintf("the approved commit %q is not a full 40-hex commit SHA", in.commit)}
	}
	return in.evaluate(data)
}
