package server

import (
	"context"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/store"
)

// Bounds of a usage request, in days.
const (
	defaultUsageDays = 30
	maxUsageDays     = 366
)

// GetApiKeyUsage serves GET /apikeys/{id}/usage: the key's requests per UTC
// day over a range of days, every day listed, as a chart needs them.
func (s *Server) GetApiKeyUsage(ctx context.Context, req gen.GetApiKeyUsageRequestObject) (gen.GetApiKeyUsageResponseObject, error) {
	to := time.Now().UTC().Truncate(24 * time.Hour)
	if req.Params.To != nil {
		to = req.Params.To.Time
	}
	from := to.AddDate(0, 0, 1-defaultUsageDays)
	if req.Params.From != nil {
		from = req.Params.From.Time
	}
	days := int(to.Sub(from)/(24*time.Hour)) + 1
	switch {
	case days < 1:
		return nil, invalid(gen.ProblemError{MemberName: "from", Message: "must not be after to", Code: new("range")})
	case days > maxUsageDays:
		return nil, invalid(gen.ProblemError{MemberName: "from", Message: "at most 366 days from to", Code: new("range")})
	}
	k, err := s.store.APIKeys.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	if err := allow(ctx, keyTarget(auth.Read, k.OrganizationID)); err != nil {
		return nil, err
	}
	counts, err := s.store.APIKeys.Usage(ctx, k.ID, from.Format(store.DayFormat), to.Format(store.DayFormat))
	if err != nil {
		return nil, err
	}
	byDay := make(map[string]int64, len(counts))
	for _, c := range counts {
		byDay[c.Day] = c.Requests
	}
	out := gen.ApiKeyUsage{Id: k.ID, LastUsedAt: utc(k.LastUsedAt), From: openapi_types.Date{Time: from}, To: openapi_types.Date{Time: to},
		Days: make([]gen.DayRequests, days)}
	for i := range days {
		day := from.AddDate(0, 0, i)
		n := byDay[day.Format(store.DayFormat)]
		out.Days[i] = gen.DayRequests{Date: openapi_types.Date{Time: day}, Requests: n}
		out.Total += n
	}
	return gen.GetApiKeyUsage200JSONResponse(out), nil
}
