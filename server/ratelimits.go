package server

import (
	"context"
	"time"

	"github.com/keyplane/keyplane/auth"
	"github.com/keyplane/keyplane/gen"
	"github.com/keyplane/keyplane/limits"
)

// rateIn is a wire allowance as stored (limit, period in seconds).
func rateIn(in *gen.RateLimit) (limit, period *int64) {
	if in == nil {
		return nil, nil
	}
	return new(in.Limit), new(in.PeriodSeconds)
}

// rateOut is a stored allowance on the wire.
func rateOut(limit, period *int64) *gen.RateLimit {
	if limit == nil || period == nil {
		return nil
	}
	return &gen.RateLimit{Limit: *limit, PeriodSeconds: *period}
}

// coversRate: authority only goes down for allowances too. A caller that
// is itself a rate-limited key may give (a key, or an organization's keys)
// only an allowance within its own: no larger window budget, no higher
// rate, and not none (which would inherit something larger, or nothing).
// Other callers are not limited and may set any.
func (s *Server) coversRate(ctx context.Context, member string, limit, period *int64) error {
	p := auth.PrincipalFrom(ctx)
	if s.rates == nil || p.KeyID == "" {
		return nil
	}
	own, limited := s.rates.RateOf(allowanceOf(p.Key()))
	if !limited {
		return nil
	}
	ownPeriod := int64(own.Period / time.Second)
	if limit == nil || *limit > own.Limit || *limit*ownPeriod > own.Limit**period {
		return forbidden("%s: a key limited to %d requests per %d s cannot give more", member, own.Limit, ownPeriod)
	}
	return nil
}

// allowanceOf is the allowance key k was read with, as the limiter takes
// it (nil: none).
func allowanceOf(k *auth.KeyFacts) *limits.Rate {
	if k == nil || k.Allowance == nil {
		return nil
	}
	return new(limits.Rate(*k.Allowance))
}
