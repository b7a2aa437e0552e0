package ndata

import (
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Where applies only the filters of q, ANDed together, to db. It exists
// separately from Page so that a handler can run COUNT(*) over the same
// rows it pages through.
//
// Every column is quoted by the dialect and every value is a bound
// parameter. A malformed hand-built Filter (unknown operator, wrong number
// of values, value of an unsupported type) is added to db as an error, so
// the query fails instead of silently matching more rows.
func (q Query) Where(db *gorm.DB) *gorm.DB {
	for _, f := range q.Filters {
		e, err := f.expression()
		if err != nil {
			// Scopes with no functions only obtains an instance of our
			// own, so the error cannot stick to a shared *gorm.DB.
			db = db.Scopes()
			_ = db.AddError(err)
			continue
		}
		if e != nil {
			db = db.Where(e)
		}
	}
	return db
}

// Page applies ORDER BY (Sort, then TieBreak ascending unless TieBreak is
// already in Sort), OFFSET and LIMIT to db. It exists so that every page of
// a list is taken from one stable order. Negative Skip or Take count as 0.
func (q Query) Page(db *gorm.DB) *gorm.DB {
	keys := q.Sort
	tie := q.TieBreak != ""
	for _, s := range q.Sort {
		if s.Column == q.TieBreak {
			tie = false
		}
	}
	if tie {
		keys = append(keys[:len(keys):len(keys)], Sort{Column: q.TieBreak})
	}
	if len(keys) > 0 {
		// One expression, so that NULLS FIRST/LAST can follow a column; the
		// columns are bound as identifiers, quoted by the dialect.
		sql := make([]string, len(keys))
		vars := make([]any, len(keys))
		for i, s := range keys {
			sql[i] = "?"
			if s.Desc {
				sql[i] += " DESC"
			}
			switch {
			case s.Nullable && s.Desc:
				sql[i] += " NULLS LAST"
			case s.Nullable:
				sql[i] += " NULLS FIRST"
			}
			vars[i] = clause.Column{Name: s.Column}
		}
		db = db.Order(clause.OrderBy{Expression: clause.Expr{SQL: strings.Join(sql, ", "), Vars: vars}})
	}
	take, skip := max(q.Take, 0), max(q.Skip, 0)
	return db.Clauses(clause.Limit{Limit: &take, Offset: skip})
}

// expression translates one filter. A nil expression means "no condition"
// (nin of an empty list).
func (f Filter) expression() (clause.Expression, error) {
	if f.Column == "" {
		return nil, fmt.Errorf("ndata: filter %q has no column", f.Param)
	}
	for _, v := range f.Values {
		if !isScalar(v) {
			return nil, fmt.Errorf("ndata: filter %q: value of unsupported type %T", f.Param, v)
		}
	}
	col := clause.Column{Name: f.Column}
	if f.Op.isList() {
		return f.list(col), nil
	}
	if len(f.Values) != 1 {
		return nil, fmt.Errorf("ndata: filter %q: operator %q needs exactly one value, got %d", f.Param, f.Op, len(f.Values))
	}
	v := f.Values[0]
	switch f.Op {
	case OpEq:
		return clause.Eq{Column: col, Value: v}, nil // nil renders IS NULL
	case OpNeq:
		if v == nil || !f.Nullable {
			return clause.Neq{Column: col, Value: v}, nil // nil renders IS NOT NULL
		}
		return clause.Or(clause.Neq{Column: col, Value: v}, clause.Eq{Column: col}), nil
	case OpGt:
		return clause.Gt{Column: col, Value: v}, nil
	case OpGte:
		return clause.Gte{Column: col, Value: v}, nil
	case OpLt:
		return clause.Lt{Column: col, Value: v}, nil
	case OpLte:
		return clause.Lte{Column: col, Value: v}, nil
	}
	return nil, fmt.Errorf("ndata: filter %q: unsupported operator %q", f.Param, f.Op)
}

// list translates in and nin, treating a nil item as NULL.
func (f Filter) list(col clause.Column) clause.Expression {
	vals := make([]any, 0, len(f.Values))
	null := false
	for _, v := range f.Values {
		if v == nil {
			null = true
		} else {
			vals = append(vals, v)
		}
	}
	isNull, notNull := clause.Eq{Column: col}, clause.Neq{Column: col}
	in := clause.IN{Column: col, Values: vals} // one value renders "=", none "IN (NULL)"
	if f.Op == OpIn {
		switch {
		case len(vals) == 0 && null:
			return isNull
		case null:
			return clause.Or(in, isNull)
		}
		return in
	}
	switch {
	case len(vals) == 0 && null:
		return notNull
	case len(vals) == 0:
		return nil
	case null:
		return clause.And(clause.Not(in), notNull)
	case f.Nullable:
		return clause.Or(clause.Not(in), isNull)
	}
	return clause.Not(in)
}

// isScalar reports whether v may be bound as a parameter. It keeps values
// that gorm would expand into SQL (clause expressions, columns, subqueries,
// slices) out of hand-built filters.
func isScalar(v any) bool {
	switch v.(type) {
	case nil, string, bool, time.Time,
		int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64,
		float32, float64:
		return true
	}
	return false
}
