// Package ndata implements NData, the query language of the list endpoints
// of the Portos API, and translates it into parameterized GORM clauses.
//
// A list request takes paging, sorting and filters from its URL query:
//
//	GET /things?name=in:alpha,beta&createdAt=gte:2023-07-13T14:35:49Z&$sort=-createdAt&$take=20
//
// # Paging and counting
//
//   - $skip: rows to skip, an integer ≥ 0; default 0.
//   - $take: rows to return, an integer from 0 to 1000; default 100.
//   - $count: true or false (any case); true asks for counts only, no items.
//
// Each of these may be given at most once. Any other parameter starting
// with '$' is an error. Reserved parameter names, field names and operators
// are all case-insensitive.
//
// # Sorting
//
// $sort is a comma-separated list of keys, and may be repeated; keys apply
// in the order written. A key is a field name, optionally prefixed with '-'
// (descending) or '+' (ascending), or suffixed with ":asc" or ":desc":
//
//	$sort=-createdAt,name      $sort=createdAt:desc&$sort=name
//
// In a URL a '+' means a space, so write %2B for a literal '+'. Only fields
// marked sortable may be used, each at most once, at most 10 keys in all.
// The schema's tie-break column (usually the id) always ends the order, so
// that paging is stable.
//
// # Filters
//
// Every other parameter filters on the field of that name. Its value is one
// or more operations separated by ';'; all operations, and all values of a
// repeated parameter, must hold (AND):
//
//	version=gte:2;lt:5         same as  version=gte:2&version=lt:5
//
// url.ParseQuery rejects a pair containing a raw ';' and url.URL.Query
// silently drops it, which would lose the filter; decode the raw query with
// ParseRawQuery, which keeps ';' as data. Clients may also send it as %3B.
//
// An operation is op:argument, where op is one of
//
//	eq neq gt gte lt lte       one value
//	in nin                     a comma-separated list of 1 to 100 values
//
// The operator is recognised only when the text before the first ':' is a
// bare run of letters; the argument is everything after that ':' and may
// itself contain colons (createdAt=gte:2023-07-13T14:35:49Z). Without such a
// prefix, the whole operation is an eq value: name=gte means name equals
// "gte", and createdAt=2023-07-13T14:35:49Z is an equality because it
// starts with a digit. A letters-only prefix that is not an operator, as in
// url=https://example.com, is an error: quote such values.
//
// A value may be wrapped in double quotes. Inside quotes, \" is a quote and
// \\ a backslash (no other escapes exist), and ';', ',' and ':' have no
// special meaning. A closing quote must be followed by the end of the value,
// ';' or, in an in/nin list, ','. An unquoted value may not contain '"'.
// Whitespace is never trimmed. Outside in/nin lists an unquoted ',' is an
// ordinary character.
//
//	name="a;b"      name="say \"hi\""      name=in:"x,y",z      name=eq:"gte:x"
//
// The unquoted word null (lower case) stands for NULL:
//
//	description=null              IS NULL
//	description=neq:null          IS NOT NULL
//	description=in:a,null         = 'a' OR IS NULL
//	description=nin:a,null        <> 'a' AND IS NOT NULL
//
// null cannot be used with gt, gte, lt or lte. A quoted "null" is the
// four-letter string.
//
// On a nullable field, neq and nin also match rows where the field is NULL
// (unless null is in the nin list): description=neq:x returns rows whose
// description is not x, including rows without a description.
//
// Values are read according to the field's type; quoting changes how a value
// is split, not its type:
//
//   - string: as written; must be valid UTF-8 without NUL characters.
//     An empty value (name= or name=eq:) means the empty string; an empty
//     item in a list must be written "".
//   - integer: base-10, 64-bit.
//   - boolean: true or false, any case; only eq, neq, in and nin apply.
//   - time: RFC 3339 with or without fractional seconds
//     (2023-07-13T14:35:49Z, 2023-07-13T16:35:49.5+02:00), or a date
//     (2023-07-13) meaning midnight UTC. Compared in UTC.
//
// A request may contain at most 50 filter operations.
//
// # Errors
//
// Parse reports every mistake in a request at once, as an *Error whose
// FieldErrors name the parameter as written and carry one of the codes
// syntax, unknownField, unknownOperator, invalidValue, outOfRange,
// duplicate and notSortable.
//
// # SQL
//
// Query.Where and Query.Page build the statement from gorm clause values
// only: columns come from the Schema and are quoted by the dialect, and
// every value is a bound parameter.
package ndata
