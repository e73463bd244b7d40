package yubiotp

import (
	"errors"
	"strings"
	"testing"
)

func TestPublicID(t *testing.T) {
	const tok = "dteffujehknhfjbrjnlnldnhcujvddbi" // 32 modhex
	tests := []struct {
		name, in, want string
	}{
		{"44 characters", "ccccccjlkgjh" + tok, "ccccccjlkgjh"},
		{"33 characters", "v" + tok, "v"},
		{"48 characters", "cbdefghijklnrtuv" + tok, "cbdefghijklnrtuv"},
		{"upper case", "CCCCCCJLKGJH" + strings.ToUpper(tok), "ccccccjlkgjh"},
		{"mixed case", "CcccccJLkgjh" + tok, "ccccccjlkgjh"},
		{"spaces and the Enter a key types", "  ccccccjlkgjh" + tok + "\r\n", "ccccccjlkgjh"},
		{"32 characters: empty public id", tok, ""},
		{"49 characters", "cbdefghijklnrtuvc" + tok, ""},
		{"empty", "", ""},
		{"six-digit TOTP code", "123456", ""},
		{"non-modhex letter", "ccccccjlkgja" + tok, ""},
		{"digits", "cccccc123456" + tok, ""},
		{"inner space", "cccccc jlkgj" + tok, ""},
		{"non-ASCII", "ccccccjlkgjé" + tok[1:], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PublicID(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrMalformedOTP) {
					t.Fatalf("PublicID = %q, %v; want ErrMalformedOTP", got, err)
				}
				if strings.Contains(err.Error(), tok) {
					t.Errorf("error quotes the input: %v", err)
				}
				if Looks(tt.in) {
					t.Errorf("Looks = true")
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PublicID = %q, %v; want %q", got, err, tt.want)
			}
			if !Looks(tt.in) {
				t.Errorf("Looks = false")
			}
		})
	}
}
