package deploycheck

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrInvalidInput is wrapped by every error about a malformed repository,
// commit, branch, rule or image pattern. Such input is refused before any
// request is made.
var ErrInvalidInput = errors.New("deploycheck: invalid input")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)
}

// ValidCommit accepts exactly a full commit SHA: 40 lowercase hexadecimal
// digits. Abbreviated SHAs are refused: an approval binds one exact commit,
// and a prefix could name another commit pushed later.
func ValidCommit(sha string) error {
	if len(sha) != 40 {
		return invalid("commit %q is not a full 40-hex commit SHA", sha)
	}
	for i := 0; i < len(sha); i++ {
		if c := sha[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return invalid("commit %q is not a full 40-hex commit SHA (lowercase hexadecimal digits only)", sha)
		}
	}
	return nil
}

// ValidRepo accepts "owner/name" as GitHub spells them: the owner (a user
// or organisation, with an enterprise-managed user's _shortcode allowed) is
// ASCII letters, digits, '-' and '_', starting with a letter or digit, at
// most 100 characters; the name is ASCII letters, digits, '.', '-' and '_',
// at most 100 characters, not "." or "..", and not ending in ".git" (GitHub
// strips that suffix, so it would name another repository).
func ValidRepo(repo string) error {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" {
		return invalid("repository %q is not owner/name", repo)
	}
	if len(owner) > 100 || !isAlnum(owner[0]) || !allBytes(owner, func(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }) {
		return invalid("repository owner %q: letters, digits, '-' and '_' only, starting with a letter or digit", owner)
	}
	if len(name) > 100 || name == "." || name == ".." || strings.HasSuffix(strings.ToLower(name), ".git") ||
		!allBytes(name, func(c byte) bool { return isAlnum(c) || c == '-' || c == '_' || c == '.' }) {
		return invalid("repository name %q: letters, digits, '.', '-' and '_' only, not . or .., not ending in .git", name)
	}
	return nil
}

// ValidBranch accepts a branch name by git's ref-name rules
// (git check-ref-format), restricted further to printable ASCII of at most
// 255 bytes: no control characters, space, ~ ^ : ? * [ \ or DEL; no "..",
// "@{", "//"; no leading or trailing '/', no trailing '.'; no component
// starting with '.' or ending in ".lock"; not "@" or "HEAD"; not starting
// with '-' or "refs/"; and not 40 hexadecimal digits (GitHub would read it
// as a commit).
func ValidBranch(branch string) error {
	bad := func(why string) error { return invalid("branch %q: %s", branch, why) }
	switch {
	case branch == "":
		return bad("empty")
	case len(branch) > 255:
		return bad("longer than 255 bytes")
	case branch == "@" || branch == "HEAD":
		return bad("not a branch name")
	case strings.HasPrefix(branch, "-"):
		return bad("starts with '-'")
	case strings.HasPrefix(branch, "refs/"):
		return bad("give the branch name, not a full ref")
	case strings.Contains(branch, ".."), strings.Contains(branch, "@{"), strings.Contains(branch, "//"):
		return bad(`contains "..", "@{" or "//"`)
	case strings.HasPrefix(branch, "/"), strings.HasSuffix(branch, "/"), strings.HasSuffix(branch, "."):
		return bad("starts or ends with '/', or ends with '.'")
	case ValidCommit(branch) == nil:
		return bad("40 hexadecimal digits would be read as a commit")
	}
	for i := 0; i < len(branch); i++ {
		if c := branch[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`~^:?*[\`, c) >= 0 {
			return bad("printable ASCII only, without space or any of ~ ^ : ? * [ \\")
		}
	}
	for part := range strings.SplitSeq(branch, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return bad("a component starts with '.' or ends with \".lock\"")
		}
	}
	return nil
}

// escapeBranch escapes each '/'-separated component of a valid branch name
// for a URL path, keeping the slashes: GitHub takes release/1.2 as is.
func escapeBranch(branch string) string {
	parts := strings.Split(branch, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// short is a commit's 7-character abbreviation for sentences.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
