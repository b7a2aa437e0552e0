package connector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// object reads the members of one JSON object of a connector's properties
// for Configure, recording every mistake with its member's JSON pointer.
// A member that is null counts as absent.
type object struct {
	base    string // JSON pointer of the object from the connector object
	members map[string]json.RawMessage
	errs    *FieldErrors
}

// readObject decodes raw as an object whose members may only be known
// ones. It reports a missing (nil or null) raw as required, anything but an
// object as a type error, and each unknown member; it returns false when
// raw is not an object.
func readObject(raw json.RawMessage, base string, errs *FieldErrors, known ...string) (*object, bool) {
	o := &object{base: base, errs: errs}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		o.bad("", "required", "is required")
		return nil, false
	}
	if raw[0] != '{' || json.Unmarshal(raw, &o.members) != nil {
		o.bad("", "type", "must be an object")
		return nil, false
	}
	var unknown []string
	for name, v := range o.members {
		if string(bytes.TrimSpace(v)) == "null" {
			delete(o.members, name)
			continue
		}
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		o.bad("/"+pointerToken(name), "unknown", "is not a member of %s", strings.TrimPrefix(base, "/"))
	}
	return o, true
}

// bad records a mistake at member (a JSON pointer below the object, "" for
// the object itself).
func (o *object) bad(member, code, format string, args ...any) {
	*o.errs = append(*o.errs, FieldError{Member: o.base + member, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (o *object) has(name string) bool {
	_, ok := o.members[name]
	return ok
}

// decode reads member name into dst when present; a value of another JSON
// type is a type error (what says what it must be). It reports whether dst
// was set.
func (o *object) decode(name string, dst any, what string) bool {
	v, ok := o.members[name]
	if !ok {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		o.bad("/"+pointerToken(name), "type", "must be %s", what)
		return false
	}
	return true
}

func (o *object) str(name string, dst *string) bool { return o.decode(name, dst, "a string") }

func (o *object) boolean(name string, dst *bool) bool { return o.decode(name, dst, "a boolean") }

// strMap reads an object of strings.
func (o *object) strMap(name string, dst *map[string]string) bool {
	return o.decode(name, dst, "an object of strings")
}

// child reads member name as an object of its own.
func (o *object) child(name string, known ...string) (*object, bool) {
	if !o.has(name) {
		return nil, false
	}
	return readObject(o.members[name], o.base+"/"+pointerToken(name), o.errs, known...)
}

// maxLength reports a string longer than n characters.
func (o *object) maxLength(member, s string, n int) bool {
	if utf8.RuneCountInString(s) > n {
		o.bad(member, "maxLength", "must be at most %d characters", n)
		return false
	}
	return true
}

// requiredStr reads the string member name into dst, reporting it when
// absent. It reports whether dst holds a string of at most n characters,
// for the caller to judge further.
func (o *object) requiredStr(name string, dst *string, n int) bool {
	if !o.has(name) {
		o.bad("/"+pointerToken(name), "required", "is required")
		return false
	}
	return o.shortStr(name, dst, n)
}

// shortStr reads the string member name into dst when present. It reports
// whether dst holds a string of at most n characters, for the caller to
// judge further.
func (o *object) shortStr(name string, dst *string, n int) bool {
	return o.str(name, dst) && o.maxLength("/"+pointerToken(name), *dst, n)
}

// maxProperties reports an object of more than n members (what they are:
// "headers").
func (o *object) maxProperties(member string, m map[string]string, n int, what string) {
	if len(m) > n {
		o.bad(member, "maxProperties", "must have at most %d %s", n, what)
	}
}

// keepMasked is the stored value a secret sent as Masked at member stands
// for: kept, when the stored configuration has one (ok). Otherwise Masked
// stands for nothing, which is reported as a missing secret (what names
// it: "password"), and keepMasked returns false.
func (o *object) keepMasked(member, what, kept string, ok bool) (string, bool) {
	if !ok {
		o.bad(member, "required", "there is no stored %s for %q to keep", what, Masked)
		return "", false
	}
	return kept, true
}

// enum reports a value outside allowed.
func (o *object) enum(member, v string, allowed ...string) bool {
	if !slices.Contains(allowed, v) {
		o.bad(member, "enum", "must be one of %s", strings.Join(allowed, ", "))
		return false
	}
	return true
}

// pointerToken escapes s as one JSON pointer reference token (RFC 6901).
func pointerToken(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
