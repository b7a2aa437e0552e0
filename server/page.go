package server

import (
	"context"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/ndata"
)

// springPage has the fields, in order, of every generated akenza page type
// (gen.OrganizationPage, gen.WorkspacePage, …), so one builder serves them
// all by conversion: gen.OrganizationPage(newPage(items, q, total)).
type springPage[T any] struct {
	Content          []T
	Empty            bool
	First            bool
	Last             bool
	Number           int
	NumberOfElements int
	Pageable         gen.Pageable
	Size             int
	Sort             gen.SortInfo
	TotalElements    int64
	TotalPages       int
}

// newPage wraps one page of items, read with q, in the Spring Page envelope.
// An uncounted page (store.UnknownTotal) shows -1 as its totals, and holds
// one item more than it shows when another page follows.
func newPage[T any](items []T, q ndata.Query, total int64) springPage[T] {
	if items == nil {
		items = []T{}
	}
	size := max(q.Take, 1)
	number := q.Skip / size
	pages := int((total + int64(size) - 1) / int64(size))
	last := number >= pages-1
	if total == store.UnknownTotal {
		pages, last = -1, len(items) <= size
		items = items[:min(len(items), size)]
	}
	sort := gen.SortInfo{Sorted: len(q.Sort) > 0, Unsorted: len(q.Sort) == 0, Empty: len(q.Sort) == 0}
	return springPage[T]{
		Content:          items,
		Empty:            len(items) == 0,
		First:            number == 0,
		Last:             last,
		Number:           number,
		NumberOfElements: len(items),
		Pageable: gen.Pageable{Sort: sort, Offset: int64(q.Skip), PageSize: size, PageNumber: number,
			Paged: true, Unpaged: false},
		Size:          size,
		Sort:          sort,
		TotalElements: total,
		TotalPages:    pages,
	}
}

// queryResult maps one page of rows to the items and count of a Portos
// QueryResult: with $count=true the items are absent and count is the number
// of matches; an uncounted page ($skipTotal) drops the row read past it.
func queryResult[M, T any](q ndata.Query, rows []M, total int64, out func(*M) T) (*[]T, int64) {
	if q.Count {
		return nil, total
	}
	if total == store.UnknownTotal {
		rows = rows[:min(len(rows), q.Take)]
	}
	items := mapRows(rows, out)
	return &items, int64(len(rows))
}

// mapRows maps rows to the wire format one at a time, never to nil.
func mapRows[M, T any](rows []M, out func(*M) T) []T {
	items := make([]T, len(rows))
	for i := range rows {
		items[i] = out(&rows[i])
	}
	return items
}

// platformList serves the NData list of a platform resource (users, roles):
// the request's query over fields, the caller's right to read scope
// platform-wide, one page of list, and its rows mapped with out.
func platformList[M, T any](ctx context.Context, fields ndata.Schema, scope auth.Scope,
	list func(context.Context, ndata.Query) ([]M, int64, error), out func(*M) T) (items *[]T, count, total int64, err error) {
	q, err := listQuery(ctx, fields)
	if err != nil {
		return nil, 0, 0, err
	}
	if err := authorize(ctx, auth.RightOf(scope, auth.Read)); err != nil {
		return nil, 0, 0, err
	}
	rows, total, err := list(ctx, q)
	if err != nil {
		return nil, 0, 0, err
	}
	items, count = queryResult(q, rows, total, out)
	return items, count, total, nil
}

// springQuery parses the page, size, skipTotal and sort parameters of an
// akenza list.
func springQuery(page, size *int, skipTotal *bool, sort *[]string, schema ndata.Schema) (ndata.Query, error) {
	p, sz := 0, 25
	if page != nil {
		p = *page
	}
	if size != nil {
		sz = *size
	}
	var sorts []string
	if sort != nil {
		sorts = *sort
	}
	q, err := ndata.ParseSpring(p, sz, sorts, schema)
	q.SkipTotal = skipTotal != nil && *skipTotal
	return q, err
}
