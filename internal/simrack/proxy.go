package simrack

import (
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// proxy is the /proxy/{host}/{port} socket (`convox proxy`, `resources
// proxy`): write role, and loopback, link-local, unspecified, ULA and cloud
// metadata targets are refused like on the rack. The simulated tunnel
// echoes every byte back until the client's EOF.
func (r *Rack) proxy(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "proxy requires write access")
	}
	if !safeProxyTarget(strings.TrimSpace(c.Var("host"))) {
		return badRequest("invalid proxy host")
	}
	port, err := strconv.Atoi(c.Var("port"))
	if err != nil || port < 1 || port > 65535 {
		return badRequest("invalid proxy port")
	}
	buf := make([]byte, 32*1024)
	in := &stdin{ws: c.ws}
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if werr := c.ws.writeText(buf[:n]); werr != nil {
				return nil
			}
		}
		if err != nil {
			return nil
		}
	}
}

// safeProxyTarget mirrors the rack's isSafeProxyTarget.
func safeProxyTarget(host string) bool {
	if host == "" {
		return false
	}
	clean := strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	if i := strings.IndexByte(clean, '%'); i >= 0 {
		clean = clean[:i]
	}
	if clean == "" {
		return false
	}
	if ip := net.ParseIP(clean); ip != nil {
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() {
			return false
		}
		if ip.To4() == nil && ip.To16()[0]&0xfe == 0xfc {
			return false // IPv6 unique local
		}
	} else if nonStandardIP(clean) {
		return false
	}
	h := strings.TrimRight(strings.ToLower(clean), ".")
	return h != "localhost" && h != "metadata.google.internal"
}

// nonStandardIP catches hex and short dotted forms that resolvers may still
// turn into loopback or metadata addresses (e.g. "0x7f000001", "127.1").
func nonStandardIP(s string) bool {
	if strings.HasPrefix(strings.ToLower(s), "0x") {
		return true
	}
	return strings.Trim(s, "0123456789.") == "" && s != ""
}

// validProxyHost matches cluster-internal names for the HTTP service proxy.
var validProxyHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+\.(local|svc\.cluster\.local)$`)

func allowedProxyHost(h string) bool {
	switch h {
	case "local", "svc.cluster.local", "cluster.local":
		return false
	}
	return validProxyHost.MatchString(h)
}
