package simrack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// Config configures a simulated rack.
type Config struct {
	// Password is the rack password. HTTP Basic auth with any username other
	// than "jwt" must carry it and is granted the admin role. As on a real
	// rack, an empty password disables password checking: every request
	// that is not a JWT login is then admin.
	Password string
	// Logger receives one debug line per request (never credentials).
	// Optional; nil discards.
	Logger *slog.Logger
	// Name is the rack name reported by GET /system. Optional; default
	// "simrack".
	Name string
	// MaxRequests bounds the request log (Requests) to about the newest
	// MaxRequests entries, at most twice that; 0 keeps every request, as
	// tests want. A long-running rack (load tests) should set it.
	MaxRequests int
}

// Rack is a simulated Convox v3 rack API server. Create it with New and
// serve Handler(); all methods are safe for concurrent use.
type Rack struct {
	cfg    Config
	log    *slog.Logger
	router *router
	reqs   requestLog
	keys   *jwtKeys
	st     *state

	// Simulated durations; tests inside the package shorten them.
	buildDuration   time.Duration // build running -> complete
	promoteDuration time.Duration // app updating -> running
	followInterval  time.Duration // log line cadence with Follow
	wsLinger        time.Duration // how long a finished socket waits for the client to hang up
}

// New returns a rack seeded with demo data (see seed.go).
func New(cfg Config) *Rack {
	if cfg.Name == "" {
		cfg.Name = "simrack"
	}
	r := &Rack{
		cfg:             cfg,
		log:             cfg.Logger,
		keys:            newJWTKeys(),
		buildDuration:   time.Second,
		promoteDuration: time.Second,
		followInterval:  250 * time.Millisecond,
		wsLinger:        10 * time.Second,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Password == "" {
		r.log.Warn("simrack: empty rack password: password authentication is disabled")
	}
	r.reqs.max = cfg.MaxRequests
	r.st = newState(cfg.Name)
	r.router = newRouter(r.routes())
	return r
}

// Handler returns the rack API as an http.Handler.
func (r *Rack) Handler() http.Handler { return http.HandlerFunc(r.serveHTTP) }

// Requests returns a copy of the log of every request that reached the
// rack, in arrival order. Entries of requests still in flight show the
// status and body size reached so far.
func (r *Rack) Requests() []Request { return r.reqs.snapshot() }

// ResetRequests clears the request log.
func (r *Rack) ResetRequests() { r.reqs.reset() }

// upgrader mirrors stdapi: 10 KiB buffers and gorilla's default CheckOrigin
// (the Origin host must equal Host, else 403 before any auth).
var upgrader = websocket.Upgrader{ReadBufferSize: 10 * 1024, WriteBufferSize: 10 * 1024}

func (r *Rack) serveHTTP(w http.ResponseWriter, req *http.Request) {
	id := newRequestID()
	who := r.authenticate(req)
	entry := r.reqs.start(req, who.err == nil, who.role)
	rec := &recorder{ResponseWriter: w, entry: entry}
	if req.Body != nil {
		req.Body = &countingBody{ReadCloser: req.Body, entry: entry}
	}
	defer func() {
		r.log.Debug("simrack request", "id", id, "method", req.Method, "path", req.URL.Path,
			"status", entry.status.Load(), "actor", entry.req.Actor, "authorized", entry.req.Authorized)
	}()

	h := rec.Header()
	h.Set("Request-Id", id)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")

	// stdapi registers /check on the root router, outside auth, any method.
	if req.URL.Path == "/check" {
		fmt.Fprint(rec, "ok")
		return
	}

	rt, vars, status := r.router.match(req)
	if rt == nil {
		// mux's not-found / method-not-allowed handlers: status only.
		rec.WriteHeader(status)
		return
	}

	c := &ctx{rack: r, w: rec, r: req, vars: vars, id: id, who: who}
	if rt.method == methodSocket {
		r.serveSocket(c, rt, entry)
		return
	}
	if err := r.runChain(c, rt); err != nil {
		c.writeError(err)
	}
}

// runChain is the rack's middleware chain (authenticate, Authorize) followed
// by the handler.
func (r *Rack) runChain(c *ctx, rt *route) error {
	if c.who.err != nil {
		if c.who.basicRealm {
			c.w.Header().Set("WWW-Authenticate", `Basic realm="convox"`)
		}
		return c.who.err
	}
	if !rt.noAuthorize {
		// Authorize: GET needs read, every other method (HEAD and OPTIONS
		// included) needs write; sockets are GETs.
		allowed := c.canWrite()
		if c.r.Method == http.MethodGet {
			allowed = c.canRead()
		}
		if !allowed {
			return errorf(http.StatusUnauthorized, "you are unauthorized to access this")
		}
	}
	return rt.fn(c)
}

// serveSocket upgrades first and authenticates afterwards, like stdapi: a
// failed check still gets 101, then `ERROR: …` and the end-of-stream frame.
func (r *Rack) serveSocket(c *ctx, rt *route, entry *logEntry) {
	hdr := http.Header{}
	for _, k := range []string{"Request-Id", "X-Content-Type-Options", "X-Frame-Options"} {
		hdr.Set(k, c.w.Header().Get(k))
	}
	conn, err := upgrader.Upgrade(c.w, c.r, hdr)
	if err != nil {
		// The upgrader already wrote its status; stdapi appends this line.
		fmt.Fprintf(c.w, "ERROR: %s\n", err)
		return
	}
	entry.status.Store(http.StatusSwitchingProtocols)

	ws := newWSConn(conn)
	c.ws = ws
	if err := r.runChain(c, rt); err != nil {
		_ = ws.writeText([]byte(fmt.Sprintf("ERROR: %s\n", err)))
	}
	_ = ws.writeEOF()
	ws.finish(r.wsLinger)
}

func newRequestID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
