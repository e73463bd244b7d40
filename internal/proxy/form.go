package proxy

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
)

// maxFormBody bounds a parameter body the gateway reads to audit or guard
// it. The rack's own form limit is 10 MB; env documents are far smaller.
const maxFormBody = 4 << 20

func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// bufferForm reads and parses a form body, then puts an identical body back
// on the request for forwarding.
func bufferForm(r *http.Request, limit int64) (url.Values, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return url.Values{}, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, errors.New("could not read the request body")
	}
	if int64(len(b)) > limit {
		return nil, errors.New("request parameters are too large")
	}
	_ = r.Body.Close()
	setBody(r, b)
	v, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, errors.New("malformed form body")
	}
	return v, nil
}

func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	r.TransferEncoding = nil
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}
