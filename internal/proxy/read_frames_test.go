package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
)

// frame encodes one server-to-client websocket frame (masked if mask is
// set, as a client's would be).
func frame(op byte, payload []byte, mask []byte) []byte {
	b := []byte{0x80 | op}
	m := byte(0)
	if mask != nil {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if mask != nil {
		b = append(b, mask...)
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return append(b, p...)
}

func TestReadFrames(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000) // a 64-bit length
	mid := bytes.Repeat([]byte("y"), 300)   // a 16-bit length
	cat := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	cases := []struct {
		name  string
		in    []byte
		bound int
		want  string
		cut   bool
	}{
		{"text then the rack's end (empty binary)", cat(frame(1, []byte("a\n"), nil), frame(1, []byte("b\n"), nil), frame(2, nil, nil), frame(1, []byte("after"), nil)), 100, "a\nb\n", false},
		{"close frame ends", cat(frame(1, []byte("a"), nil), frame(8, []byte{3, 232}, nil)), 100, "a", false},
		{"connection end", frame(1, []byte("a"), nil), 100, "a", false},
		{"pings ignored", cat(frame(9, []byte("p"), nil), frame(1, []byte("a"), nil)), 100, "a", false},
		{"masked frames decoded", frame(1, []byte("hello"), []byte{1, 2, 3, 4}), 100, "hello", false},
		{"16-bit length", frame(1, mid, nil), 1000, string(mid), false},
		{"64-bit length", frame(2, big, nil), 100000, string(big), false},
		{"bound reached: cut, keeps what fit", cat(frame(1, []byte("abc"), nil), frame(1, []byte("defg"), nil)), 5, "abc", true},
		{"frame cut short", frame(1, []byte("hello"), nil)[:4], 100, "", true},
		{"header cut short", []byte{0x81}, 100, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, cut := readFrames(bufio.NewReader(bytes.NewReader(c.in)), c.bound)
			if string(got) != c.want || cut != c.cut {
				t.Errorf("got %.40q cut=%v, want %.40q cut=%v", got, cut, c.want, c.cut)
			}
		})
	}
}
