package nws4

import (
	"sync"
	"time"
)

// monoClock issues strictly increasing millisecond timestamps. NWS4 timestamps
// have millisecond resolution, so two identical requests signed in the same
// millisecond would carry the same signature and the server, which rejects
// replays, would refuse the second. A monoClock rules that out for every
// request signed through it. It must not be copied after first use.
type monoClock struct {
	mu     sync.Mutex
	last   time.Time // last timestamp issued, a whole millisecond
	issued bool      // whether last is set; a zero time is a valid base
}

// next returns now truncated to the millisecond, or, if that is not after the
// last timestamp issued (same millisecond, or a clock that went backwards),
// the last one plus a millisecond. A nil clock returns the truncated now.
func (c *monoClock) next(now time.Time) time.Time {
	// Truncating also drops the monotonic reading, so the comparison below is
	// on the wall time that is signed; whole milliseconds divide seconds, so
	// this equals the truncation formatTimestamp applies.
	now = now.Truncate(time.Millisecond)
	if c == nil {
		return now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.issued && !now.After(c.last) {
		now = c.last.Add(time.Millisecond)
	}
	c.last, c.issued = now, true
	return now
}
