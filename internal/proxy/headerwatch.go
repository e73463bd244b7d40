package proxy

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// errRackTimeout cancels a call whose rack did not start answering within
// the request timeout (Config.RequestTimeout).
var errRackTimeout = errors.New("the rack did not start answering in time")

// headerWatch bounds how long the rack may take to start answering a call,
// without a timer per call.
//
// http.Transport's ResponseHeaderTimeout arms a timer for every request,
// and arming a timer can wake the network poller: on a busy gateway that
// cost more CPU than authentication and policy together. Instead, one
// goroutine looks at the calls still waiting for the rack's headers a few
// times per timeout and cancels the late ones; it runs only while calls
// are in flight. Streams are not cut: once headers arrive, the call leaves
// the watch. As with ResponseHeaderTimeout, the clock starts once the
// request body has been sent, so slow uploads are not cut either.
type headerWatch struct {
	timeout time.Duration
	tick    time.Duration

	mu      sync.Mutex
	waiting map[*watched]struct{}
	running bool
}

// watched is one call waiting for the rack's headers.
type watched struct {
	hw     *headerWatch
	start  atomic.Int64 // UnixNano when the request was sent; 0 while its body is
	cancel context.CancelCauseFunc
}

func newHeaderWatch(timeout time.Duration) *headerWatch {
	if timeout <= 0 {
		return nil
	}
	return &headerWatch{timeout: timeout, tick: min(timeout/4, time.Second), waiting: map[*watched]struct{}{}}
}

// watch returns a context for the call to the rack that is canceled with
// errRackTimeout if headers have not arrived within the timeout after the
// request was sent. With a body, the clock starts when the body has been
// read to its end (see body). Call headers when they arrive and release
// when the call is over. A nil watch (no timeout) returns ctx unchanged.
func (hw *headerWatch) watch(ctx context.Context, hasBody bool) (context.Context, *watched) {
	if hw == nil {
		return ctx, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watched{hw: hw, cancel: cancel}
	if !hasBody {
		w.start.Store(time.Now().UnixNano())
	}
	hw.mu.Lock()
	hw.waiting[w] = struct{}{}
	if !hw.running {
		hw.running = true
		go hw.run()
	}
	hw.mu.Unlock()
	return ctx, w
}

// headers takes the call off the watch: the rack has answered.
func (w *watched) headers() {
	if w == nil {
		return
	}
	w.hw.mu.Lock()
	delete(w.hw.waiting, w)
	w.hw.mu.Unlock()
}

// release ends the call's context once the call is over.
func (w *watched) release() {
	if w == nil {
		return
	}
	w.headers()
	w.cancel(context.Canceled)
}

// run cancels late calls every tick until none is waiting.
func (hw *headerWatch) run() {
	t := time.NewTicker(hw.tick)
	defer t.Stop()
	for now := range t.C {
		hw.mu.Lock()
		for w := range hw.waiting {
			if s := w.start.Load(); s != 0 && now.UnixNano()-s >= int64(hw.timeout) {
				w.cancel(errRackTimeout)
				delete(hw.waiting, w)
			}
		}
		if len(hw.waiting) == 0 {
			hw.running = false
			hw.mu.Unlock()
			return
		}
		hw.mu.Unlock()
	}
}

// body wraps a request body so that the watch's clock starts when the
// body has been read to its end (or closed).
func (w *watched) body(rc io.ReadCloser) io.ReadCloser {
	if w == nil {
		return rc
	}
	return &sentBody{ReadCloser: rc, w: w}
}

type sentBody struct {
	io.ReadCloser
	w *watched
}

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.w.start.CompareAndSwap(0, time.Now().UnixNano())
	}
	return n, err
}

func (b *sentBody) Close() error {
	b.w.start.CompareAndSwap(0, time.Now().UnixNano())
	return b.ReadCloser.Close()
}
