package server

import (
	"testing"
	"time"
)

func TestBucketInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{"PT1H": time.Hour, "PT15M": 15 * time.Minute, "P1D": 24 * time.Hour,
		"PT99999M": 99999 * time.Minute, "P7D": 7 * 24 * time.Hour, "PT0M": 0, "PT1S": 0, "P1W": 0, "1H": 0, "": 0} {
		got, err := bucketInterval(in)
		if (want == 0) != (err != nil) || got != want {
			t.Errorf("bucketInterval(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
