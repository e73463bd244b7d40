package routes

import (
	"errors"
	"strings"
)

// ErrBadPath is returned for paths the gateway refuses outright.
var ErrBadPath = errors.New("path is not canonical")

// CheckPath validates a request path before matching. escaped is the path as
// sent (URL.EscapedPath), decoded its decoded form (URL.Path). The rack
// matches on the decoded path without cleaning it, so anything that could
// make the gateway and the rack see different segments is refused: encoded
// slashes, dots, backslashes or NULs, dot segments, empty segments (double
// slashes), and control characters.
func CheckPath(escaped, decoded string) error {
	if len(decoded) == 0 || decoded[0] != '/' {
		return ErrBadPath
	}
	if strings.IndexByte(escaped, '%') >= 0 {
		for i := 0; i+2 < len(escaped); i++ {
			if escaped[i] != '%' {
				continue
			}
			switch strings.ToLower(escaped[i+1 : i+3]) {
			case "2f", "2e", "5c", "00":
				return ErrBadPath
			}
		}
	}
	for i := 0; i < len(decoded); i++ {
		c := decoded[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return ErrBadPath
		}
	}
	if decoded == "/" {
		return nil
	}
	rest := decoded[1:]
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "" || seg == "." || seg == ".." {
			return ErrBadPath
		}
		if !more {
			return nil
		}
		rest = tail
	}
}
