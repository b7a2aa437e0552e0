package ndata

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// row is the test table; its columns match testSchema.
type row struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	IsActive    bool
	CreatedAt   time.Time
	Version     int
	Description *string
}

func (row) TableName() string { return "t" }

func ptr(s string) *string { return &s }

// openDB returns an in-memory SQLite database holding the test rows.
func openDB(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open("file::memory:"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("sql.DB: %v", err)
	}
	sqlDB.SetMaxOpenConns(1) // every connection to file::memory: is a new database
	t.Cleanup(func() { sqlDB.Close() })
	if err := db.AutoMigrate(&row{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	day := func(d, hh, mm, ss int) time.Time { return time.Date(2023, 7, d, hh, mm, ss, 0, time.UTC) }
	rows := []row{
		{"01", "alpha", true, day(10, 0, 0, 0), 1, ptr("x")},
		{"02", "beta", false, day(11, 12, 0, 0), 2, nil},
		{"03", "gamma", true, day(12, 8, 30, 0), 3, ptr("y")},
		{"04", "delta", false, day(13, 14, 35, 49), 1, nil},
		{"05", "alpha", true, day(13, 14, 35, 50), 2, ptr("x")},
		{"06", "a;b", true, day(14, 0, 0, 0), 5, ptr("")},
		{"07", "gte", false, day(15, 0, 0, 0), 3, ptr("z")},
		{"08", `say "hi"`, true, day(16, 0, 0, 0), 4, nil},
		{"09", "null", false, day(17, 0, 0, 0), 1, ptr("null")},
		{"10", "", true, day(18, 0, 0, 0), 2, ptr("x")},
	}
	if err := db.Create(&rows).Error; err != nil {
		t.Fatalf("insert: %v", err)
	}
	return db
}

// ids runs q against the test table and returns the ids in result order.
func ids(t *testing.T, db *gorm.DB, q Query) []string {
	t.Helper()
	var got []string
	if err := db.Model(&row{}).Scopes(q.Where, q.Page).Pluck("id", &got).Error; err != nil {
		t.Fatalf("query: %v", err)
	}
	return got
}

func TestSQL(t *testing.T) {
	db := openDB(t)
	all := []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10"}
	tests := []struct {
		raw  string
		want []string
	}{
		{"", all},
		// Strings, quoting and null.
		{"name=alpha", []string{"01", "05"}},
		{"NAME=ALPHA", nil}, // names are case-insensitive, values are not
		{"name=gte", []string{"07"}},
		{`name="a;b"`, []string{"06"}},
		{`name="say \"hi\""`, []string{"08"}},
		{`name="null"`, []string{"09"}},
		{"name=null", nil},
		{"name=", []string{"10"}},
		{"name=neq:alpha", []string{"02", "03", "04", "06", "07", "08", "09", "10"}},
		{`name=in:alpha,"a;b",nope`, []string{"01", "05", "06"}},
		{"name=nin:alpha,beta", []string{"03", "04", "06", "07", "08", "09", "10"}},
		{"name=gt:gamma", []string{"07", "08", "09"}},
		// Nullable column: neq and nin include NULL rows.
		{"description=null", []string{"02", "04", "08"}},
		{"description=neq:null", []string{"01", "03", "05", "06", "07", "09", "10"}},
		{"description=neq:x", []string{"02", "03", "04", "06", "07", "08", "09"}},
		{"description=nin:x,y", []string{"02", "04", "06", "07", "08", "09"}},
		{"description=nin:x", []string{"02", "03", "04", "06", "07", "08", "09"}},
		{"description=nin:x,null", []string{"03", "06", "07", "09"}},
		{"description=nin:null", []string{"01", "03", "05", "06", "07", "09", "10"}},
		{"description=in:x,null", []string{"01", "02", "04", "05", "08", "10"}},
		{"description=in:null", []string{"02", "04", "08"}},
		{"description=in:y", []string{"03"}},
		{"description=", []string{"06"}},
		{"description=null&description=neq:null", nil},
		// Integers and booleans.
		{"version=gte:2;lt:4", []string{"02", "03", "05", "07", "10"}},
		{"version=gte:2&version=lt:4", []string{"02", "03", "05", "07", "10"}},
		{"version=in:1,3", []string{"01", "03", "04", "07", "09"}},
		{"version=nin:1,3", []string{"02", "05", "06", "08", "10"}},
		{"version=lte:1", []string{"01", "04", "09"}},
		{"version=gt:4", []string{"06"}},
		{"version=neq:2", []string{"01", "03", "04", "06", "07", "08", "09"}},
		{"isActive=false", []string{"02", "04", "07", "09"}},
		{"isActive=neq:TRUE", []string{"02", "04", "07", "09"}},
		{"isActive=in:true,false", all},
		{"isActive=true&version=2", []string{"05", "10"}},
		// Times.
		{"createdAt=2023-07-13T14:35:49Z", []string{"04"}},
		{"createdAt=2023-07-13T16:35:49%2B02:00", []string{"04"}},
		{"createdAt=gte:2023-07-13T14:35:49Z", []string{"04", "05", "06", "07", "08", "09", "10"}},
		{"createdAt=gt:2023-07-13T14:35:49Z", []string{"05", "06", "07", "08", "09", "10"}},
		{"createdAt=gt:2023-07-13T14:35:49.5Z", []string{"05", "06", "07", "08", "09", "10"}},
		{"createdAt=lt:2023-07-12", []string{"01", "02"}},
		{"createdAt=lte:2023-07-12T08:30:00Z", []string{"01", "02", "03"}},
		{"createdAt=gte:2023-07-13;lt:2023-07-14", []string{"04", "05"}},
		{"createdAt=in:2023-07-10,2023-07-14", []string{"01", "06"}},
		// Sorting with tie-break, paging.
		{"$sort=-version", []string{"06", "08", "03", "07", "02", "05", "10", "01", "04", "09"}},
		{"$sort=version,-isActive", []string{"01", "04", "09", "05", "10", "02", "03", "07", "08", "06"}},
		{"$sort=name", []string{"10", "06", "01", "05", "02", "04", "03", "07", "09", "08"}},
		{"$sort=-name", []string{"08", "09", "07", "03", "04", "02", "01", "05", "06", "10"}},
		{"$sort=-id", []string{"10", "09", "08", "07", "06", "05", "04", "03", "02", "01"}},
		{"$sort=-createdAt", []string{"10", "09", "08", "07", "06", "05", "04", "03", "02", "01"}},
		{"$take=3", []string{"01", "02", "03"}},
		{"$take=0", nil},
		{"$skip=8", []string{"09", "10"}},
		{"$skip=10", nil},
		{"$skip=20&$take=1000", nil},
		{"$skip=2&$take=2&$sort=-version", []string{"03", "07"}},
		{"$skip=1&$take=2&$sort=-version&isActive=true", []string{"08", "03"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			q, err := Parse(mustQuery(t, tt.raw), testSchema)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := ids(t, db, q); !slices.Equal(got, tt.want) {
				t.Errorf("ids\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestSQLCount(t *testing.T) {
	db := openDB(t)
	q, err := Parse(url.Values{"description": {"neq:x"}, "$take": {"1"}, "$skip": {"1"}, "$count": {"true"}}, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.Model(&row{}).Scopes(q.Where).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 7 || !q.Count {
		t.Errorf("count = %d (Count %v), want 7 (true)", n, q.Count)
	}
}

func TestSQLDefaultSort(t *testing.T) {
	db := openDB(t)
	s := testSchema
	s.DefaultSort = []Sort{{Column: "version", Desc: true}}
	q, err := Parse(url.Values{"$take": {"4"}}, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"06", "08", "03", "07"}
	if got := ids(t, db, q); !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
}

func TestSQLHandBuilt(t *testing.T) {
	db := openDB(t)
	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"zero query takes nothing", Query{}, nil},
		{"no tie-break", Query{Take: 2, Sort: []Sort{{Column: "version", Desc: true}}}, []string{"06", "08"}},
		{"plain int values", Query{Take: 10, TieBreak: "id", Filters: []Filter{{Column: "version", Op: OpIn, Values: []any{1, 3}}}}, []string{"01", "03", "04", "07", "09"}},
		{"empty in matches nothing", Query{Take: 10, TieBreak: "id", Filters: []Filter{{Column: "version", Op: OpIn}}}, nil},
		{"empty nin matches everything", Query{Take: 3, TieBreak: "id", Filters: []Filter{{Column: "version", Op: OpNin}}}, []string{"01", "02", "03"}},
		{"negative paging counts as zero", Query{Skip: -5, Take: -1, TieBreak: "id"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(t, db, tt.q); !slices.Equal(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSQLHandBuiltErrors(t *testing.T) {
	db := openDB(t)
	bad := []Filter{
		{Param: "x", Column: "version", Op: "like", Values: []any{"%"}},
		{Param: "x", Column: "version", Op: OpEq},
		{Param: "x", Column: "version", Op: OpGt, Values: []any{1, 2}},
		{Param: "x", Op: OpEq, Values: []any{1}},
		{Param: "x", Column: "version", Op: OpEq, Values: []any{[]int{1, 2}}},
		{Param: "x", Column: "version", Op: OpIn, Values: []any{gorm.Expr("1) OR (1=1")}},
	}
	for _, flt := range bad {
		q := Query{Take: 10, Filters: []Filter{flt}}
		var got []string
		if err := db.Model(&row{}).Scopes(q.Where, q.Page).Pluck("id", &got).Error; err == nil {
			t.Errorf("filter %+v: no error, got %v", flt, got)
		}
	}
	// The error must not stick to the shared handle.
	if db.Error != nil {
		t.Fatalf("shared db carries error %v", db.Error)
	}
	bad0 := Query{Filters: []Filter{bad[0]}}
	_ = bad0.Where(db)
	if db.Error != nil {
		t.Fatalf("Where on the root handle set its error: %v", db.Error)
	}
	if got := ids(t, db, Query{Take: 1, TieBreak: "id"}); !slices.Equal(got, []string{"01"}) {
		t.Errorf("after errors: ids %v", got)
	}
}
