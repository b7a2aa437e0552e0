// Package limits holds request budgets that every replica shares: fixed
// windows of uses per bucket (a key's requests), decided in memory on each
// request and reconciled through the database every few hundred
// milliseconds (Counter.Sync), the way Unkey's limiter decides locally and
// propagates asynchronously.
//
// Each replica adds its uses since the last reconciliation to the shared
// row of the bucket's window and reads back everyone's total. Between
// reconciliations it decides against that total plus its own uses, and,
// while other replicas share the budget, spends at most a share of what
// was left at the last reconciliation (Spread): the budget is approached
// geometrically instead of being overrun by every replica at once, so the
// uses accepted across replicas stay within a few percent of the limit.
// Without a Ledger (SQLite: one process) decisions are purely local.
//
// The package is top level, not under auth: auth's failure limiter uses
// its counters too (Counter.Add, Counter.Remote, Counter.Within), and the
// server applies key limits after authentication.
package limits
