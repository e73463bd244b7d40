package proxy

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The header watch cancels a call whose rack has not started answering
// within the timeout, counted from when the request (and its body) was
// sent; a call that got its headers is left alone. Time is synctest's.
func TestHeaderWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = time.Second
		hw := newHeaderWatch(timeout)

		silent, w1 := hw.watch(context.Background(), false)
		answered, w2 := hw.watch(context.Background(), false)
		uploading, w3 := hw.watch(context.Background(), true)
		body := w3.body(io.NopCloser(strings.NewReader("payload")))

		time.Sleep(timeout - time.Millisecond)
		synctest.Wait()
		if silent.Err() != nil || answered.Err() != nil || uploading.Err() != nil {
			t.Fatal("a call was cut before the timeout")
		}
		w2.headers() // the rack answered
		time.Sleep(timeout / 2)
		synctest.Wait()
		if !errors.Is(context.Cause(silent), errRackTimeout) {
			t.Fatalf("silent rack: cause %v, want errRackTimeout", context.Cause(silent))
		}
		if answered.Err() != nil {
			t.Fatal("a call whose headers arrived was cut")
		}
		// The upload's clock starts once its body has been read whole.
		if uploading.Err() != nil {
			t.Fatal("a call still sending its body was cut")
		}
		if _, err := io.ReadAll(body); err != nil {
			t.Fatal(err)
		}
		time.Sleep(timeout - time.Millisecond)
		synctest.Wait()
		if uploading.Err() != nil {
			t.Fatal("the upload was cut before the timeout after its body was sent")
		}
		time.Sleep(timeout / 2)
		synctest.Wait()
		if !errors.Is(context.Cause(uploading), errRackTimeout) {
			t.Fatalf("upload: cause %v, want errRackTimeout", context.Cause(uploading))
		}
		for _, w := range []*watched{w1, w2, w3} {
			w.release()
		}
		if !errors.Is(context.Cause(answered), context.Canceled) {
			t.Fatalf("released call: cause %v", context.Cause(answered))
		}
	})
}

// No timeout configured: no watch, the context is returned as is.
func TestHeaderWatchDisabled(t *testing.T) {
	var hw *headerWatch = newHeaderWatch(0)
	ctx := context.Background()
	got, w := hw.watch(ctx, true)
	if got != ctx || w != nil {
		t.Fatal("a disabled watch changed the context")
	}
	w.headers()
	w.release()
}
