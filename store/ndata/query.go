package ndata

import "strings"

// Op is a comparison operator of the query language. It exists so that the
// operator of a Filter is a closed set that the SQL builder can map to a
// fixed clause, never to text supplied by the user.
type Op string

// The operators. Their spelling is the one used in query values (operators
// are matched case-insensitively there).
const (
	OpEq  Op = "eq"  // equal; with null: IS NULL
	OpNeq Op = "neq" // not equal; with null: IS NOT NULL
	OpGt  Op = "gt"  // greater than
	OpGte Op = "gte" // greater than or equal
	OpLt  Op = "lt"  // less than
	OpLte Op = "lte" // less than or equal
	OpIn  Op = "in"  // equal to one of a list
	OpNin Op = "nin" // equal to none of a list
)

// lookupOp returns the operator spelled s, in any case.
func lookupOp(s string) (Op, bool) {
	if len(s) > len(OpNin) {
		return "", false
	}
	switch o := Op(strings.ToLower(s)); o {
	case OpEq, OpNeq, OpGt, OpGte, OpLt, OpLte, OpIn, OpNin:
		return o, true
	}
	return "", false
}

// isRange reports whether o orders values, which NULL and booleans cannot be.
func (o Op) isRange() bool {
	return o == OpGt || o == OpGte || o == OpLt || o == OpLte
}

// isList reports whether o takes a comma-separated list.
func (o Op) isList() bool { return o == OpIn || o == OpNin }

// Filter is one comparison of a column with typed values. It exists as the
// validated, SQL-free result of parsing one operation, so that translation
// to SQL needs no further checks of user input.
type Filter struct {
	Param    string // query parameter as the user wrote it, for messages
	Column   string // SQL column name, taken from a Schema
	Op       Op
	Values   []any // typed: string, int64, bool, time.Time, or nil meaning NULL; one value unless Op is in or nin
	Nullable bool  // Column may be NULL: neq and nin then also match NULL rows
}

// Query is a parsed list request: paging, sorting and filters. It exists
// so that handlers get one value they can apply to a *gorm.DB; it can also
// be built by hand.
//
// The zero Query takes no rows; Parse starts from Take = DefaultTake.
type Query struct {
	Skip, Take int
	Count      bool // $count=true: caller returns only counts, no items
	// SkipTotal ($skipTotal=true, skipTotal=true on Spring pages) leaves the
	// total uncounted: a page then reads one row more than it shows, to
	// tell whether another page follows.
	SkipTotal bool
	Sort      []Sort
	Filters   []Filter
	TieBreak  string // column appended last to ORDER BY (ascending) unless already in Sort; Parse copies Schema.TieBreak
}

// Limits of a request. They bound the size of the SQL a request can cause.
const (
	DefaultTake  = 100  // rows per page when $take is absent
	MaxTake      = 1000 // largest $take accepted
	MaxFilters   = 50   // filter operations per request
	MaxListItems = 100  // items in one in/nin list
	MaxSortKeys  = 10   // keys in $sort
)
