package nws4

import "time"

// timestampLayout is .NET's "yyyy-MM-ddTHH:mm:ss.fffZ" for a UTC time. Go's
// formatter truncates the fraction, as the reference does.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// formatTimestamp formats t in UTC with exactly three (truncated) fractional
// digits and a literal Z (spec §2.2).
func formatTimestamp(t time.Time) string {
	return t.UTC().Format(timestampLayout)
}

// parseTimestamp parses the Authorization Timestamp exactly as the reference's
// ParseExact("yyyy-MM-ddTHH:mm:ss.fffK") does (spec §3 step 7): three fraction
// digits and a zone of "Z", "±hh:mm" or nothing, in which case the time is read
// in loc (the server's local zone in the reference).
func parseTimestamp(s string, loc *time.Location) (time.Time, bool) {
	const shape = "0000-00-00T00:00:00.000"
	if len(s) < len(shape) {
		return time.Time{}, false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == '0' && !isDigit(s[i]) || shape[i] != '0' && s[i] != shape[i] {
			return time.Time{}, false
		}
	}
	switch zone := s[len(shape):]; {
	case zone == "":
	case zone == "Z":
		loc = time.UTC
	case len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') &&
		isDigit(zone[1]) && isDigit(zone[2]) && zone[3] == ':' && isDigit(zone[4]) && isDigit(zone[5]):
		h, m := num(zone[1:3]), num(zone[4:6])
		if m > 59 || h*60+m > 14*60 {
			return time.Time{}, false
		}
		off := (h*60 + m) * 60
		if zone[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return time.Time{}, false
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec, ms := num(s[11:13]), num(s[14:16]), num(s[17:19]), num(s[20:23])
	if year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	// Reject dates such as 02-30, which time.Date would silently normalize.
	if d := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC); d.Day() != day {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, ms*int(time.Millisecond), loc), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// num converts a string of ASCII digits, already checked, to an int.
func num(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
