package ndata

import (
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Reserved parameter names. They are matched case-insensitively.
const (
	paramSkip  = "$skip"
	paramTake  = "$take"
	paramCount = "$count"
	// paramSkipTotal leaves the total out: counting every match is most of
	// the cost of a page over many rows.
	paramSkipTotal = "$skipTotal"
	paramSort      = "$sort"
)

// Parse reads an NData query from URL query values, checking every field
// name against s and typing every value by its field's Kind. It exists so
// that list handlers get a validated Query instead of raw strings.
//
// All mistakes in the request are collected into one *Error. Any other
// error means that s itself is malformed (a programming error). Parameters
// are processed in sorted order of their names, so the result and the
// order of errors do not depend on map iteration.
func Parse(values url.Values, s Schema) (Query, error) {
	if err := s.validate(); err != nil {
		return Query{}, err
	}
	p := parser{
		fields: newFieldIndex(s.Fields),
		q:      Query{Take: DefaultTake, TieBreak: s.TieBreak},
	}
	for _, key := range slices.Sorted(maps.Keys(values)) {
		vals := values[key]
		switch {
		case strings.EqualFold(key, paramSkip):
			if v, ok := p.single(key, vals, &p.nskip); ok {
				p.q.Skip, _ = p.integer(key, v, 0, maxInt)
			}
		case strings.EqualFold(key, paramTake):
			if v, ok := p.single(key, vals, &p.ntake); ok {
				if n, ok := p.integer(key, v, 0, MaxTake); ok {
					p.q.Take = n
				}
			}
		case strings.EqualFold(key, paramCount):
			if v, ok := p.single(key, vals, &p.ncount); ok {
				p.q.Count = p.boolean(key, v)
			}
		case strings.EqualFold(key, paramSkipTotal):
			if v, ok := p.single(key, vals, &p.nskiptotal); ok {
				p.q.SkipTotal = p.boolean(key, v)
			}
		case strings.EqualFold(key, paramSort):
			p.sort(key, vals)
		case strings.HasPrefix(key, "$"):
			p.errs.add(key, CodeUnknownField, "unknown parameter %s (reserved parameters are $skip, $take, $count, $skipTotal and $sort)", show(key))
		default:
			p.filter(key, vals)
		}
	}
	if len(p.errs) > 0 {
		return Query{}, &Error{Errors: p.errs}
	}
	if !p.sorted {
		p.q.Sort = slices.Clone(s.DefaultSort)
	}
	return p.q, nil
}

// maxInt is the largest value of int, the type of Query.Skip.
const maxInt = int64(^uint(0) >> 1)

// parser holds the state of one Parse call.
type parser struct {
	fields fieldIndex
	q      Query
	errs   errorList

	nskip, ntake, ncount, nskiptotal int  // values seen of each single-valued parameter
	sorted                           bool // $sort was given
	nsort                            int  // $sort keys seen
	nops                             int  // filter operations seen
}

// single returns the value of a parameter that may be given only once. It
// reports a duplicate once per parameter, counting spellings that differ
// only in case as the same parameter.
func (p *parser) single(key string, vals []string, seen *int) (string, bool) {
	if len(vals) == 0 {
		return "", false
	}
	before := *seen
	*seen += len(vals)
	switch {
	case before == 0 && len(vals) == 1:
		return vals[0], true
	case before <= 1:
		p.errs.add(key, CodeDuplicate, "parameter may be given only once")
	}
	return "", false
}

// integer parses a reserved integer parameter within [lo, hi].
func (p *parser) integer(key, v string, lo, hi int64) (int, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			p.errs.add(key, CodeOutOfRange, "value %s must be between %d and %d", show(v), lo, hi)
			return 0, false
		}
		p.errs.add(key, CodeInvalidValue, "value %s is not a base-10 integer", show(v))
		return 0, false
	}
	if n < lo || n > hi {
		p.errs.add(key, CodeOutOfRange, "value %d must be between %d and %d", n, lo, hi)
		return 0, false
	}
	return int(n), true
}

// boolean parses the value of a boolean parameter ($count, $skipTotal).
func (p *parser) boolean(key, v string) bool {
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case strings.EqualFold(v, "false"):
		return false
	default:
		p.errs.add(key, CodeInvalidValue, "value %s is not a boolean (true or false)", show(v))
		return false
	}
}

// sort parses every value of $sort, each a comma-separated list of keys.
func (p *parser) sort(key string, vals []string) {
	for _, v := range vals {
		p.sorted = true
		for k := range strings.SplitSeq(v, ",") {
			p.sortKey(key, k)
		}
	}
}

// sortKey parses one key: name, +name, -name, name:asc or name:desc.
func (p *parser) sortKey(param, raw string) {
	p.nsort++
	if p.nsort == MaxSortKeys+1 {
		p.errs.add(param, CodeOutOfRange, "at most %d sort keys are allowed", MaxSortKeys)
	}
	name, desc, signed := raw, false, false
	if name != "" && (name[0] == '-' || name[0] == '+') {
		name, desc, signed = name[1:], name[0] == '-', true
	}
	if n, dir, ok := strings.Cut(name, ":"); ok {
		if signed {
			p.errs.add(param, CodeSyntax, "sort key %s has both a sign and a direction", show(raw))
			return
		}
		switch {
		case strings.EqualFold(dir, "asc"):
		case strings.EqualFold(dir, "desc"):
			desc = true
		default:
			p.errs.add(param, CodeInvalidValue, "sort direction %s in key %s is neither asc nor desc", show(dir), show(raw))
			return
		}
		name = n
	}
	if name == "" {
		p.errs.add(param, CodeSyntax, "empty sort key")
		return
	}
	f, ok := p.fields.lookup(name)
	if !ok {
		hint := ""
		if strings.HasPrefix(name, " ") {
			hint = " (a literal '+' must be percent-encoded as %2B)"
		}
		p.errs.add(param, CodeUnknownField, "unknown sort field %s%s", show(name), hint)
		return
	}
	if !f.Sortable {
		p.errs.add(param, CodeNotSortable, "field %s cannot be sorted on", show(name))
		return
	}
	if slices.ContainsFunc(p.q.Sort, func(s Sort) bool { return s.Column == f.Column }) {
		p.errs.add(param, CodeDuplicate, "field %s appears more than once in the sort", show(name))
		return
	}
	if p.nsort <= MaxSortKeys {
		p.q.Sort = append(p.q.Sort, Sort{Column: f.Column, Desc: desc, Nullable: f.Nullable})
	}
}

// filter parses every value of a filter parameter; all operations of all
// values apply together.
func (p *parser) filter(key string, vals []string) {
	f, ok := p.fields.lookup(key)
	if !ok {
		p.errs.add(key, CodeUnknownField, "unknown field %s", show(key))
		return
	}
	for _, v := range vals {
		terms, err := lex(v)
		if err != nil {
			p.errs.add(key, CodeSyntax, "%v", err)
			continue
		}
		for _, t := range terms {
			p.nops++
			if p.nops == MaxFilters+1 {
				p.errs.add(key, CodeOutOfRange, "at most %d filter operations are allowed", MaxFilters)
			}
			if flt, ok := p.term(key, f, t); ok && p.nops <= MaxFilters {
				p.q.Filters = append(p.q.Filters, flt)
			}
		}
	}
}

// term checks one operation against its field and types its values.
func (p *parser) term(param string, f Field, t term) (Filter, bool) {
	op := OpEq
	if t.hasOp {
		o, ok := lookupOp(t.op)
		if !ok {
			p.errs.add(param, CodeUnknownOperator, "unknown operator %s (operators are eq, neq, gt, gte, lt, lte, in and nin; quote a value that contains ':')", show(t.op))
			return Filter{}, false
		}
		op = o
	}
	if f.Kind == Bool && op.isRange() {
		p.errs.add(param, CodeUnknownOperator, "operator %s does not apply to %s fields", op, f.Kind)
		return Filter{}, false
	}
	if t.overflow {
		p.errs.add(param, CodeOutOfRange, "operator %s takes at most %d values", op, MaxListItems)
		return Filter{}, false
	}
	flt := Filter{Param: param, Column: f.Column, Op: op, Nullable: f.Nullable, Values: make([]any, 0, len(t.items))}
	ok := true
	for _, it := range t.items {
		switch {
		case !it.quoted && it.text == "null":
			if op.isRange() {
				p.errs.add(param, CodeInvalidValue, "null cannot be used with operator %s", op)
				ok = false
				continue
			}
			flt.Values = append(flt.Values, nil)
		case op.isList() && !it.quoted && it.text == "":
			p.errs.add(param, CodeSyntax, `empty item in %s list (write "" for an empty string)`, op)
			ok = false
		default:
			v, err := convert(f.Kind, it.text)
			if err != nil {
				p.errs.add(param, CodeInvalidValue, "%v", err)
				ok = false
				continue
			}
			flt.Values = append(flt.Values, v)
		}
	}
	return flt, ok
}
