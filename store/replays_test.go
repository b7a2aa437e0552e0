package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyplane/keyplane/store"
	"github.com/keyplane/keyplane/store/storetest"
)

// TestReplaysRememberOnce: of concurrent requests with one signature
// exactly one is new, however the group commit groups them, and distinct
// signatures are all new.
func TestReplaysRememberOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		expires := time.Now().Add(5 * time.Minute)
		const n = 64
		fresh := make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ok, err := st.Replays.Remember(t.Context(), "same-signature", expires)
				if err != nil {
					t.Error(err)
				}
				fresh[i] = ok
			})
		}
		wg.Wait()
		count := 0
		for _, ok := range fresh {
			if ok {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("%d of %d equal signatures were new, want 1", count, n)
		}
		for i := range n {
			wg.Go(func() {
				ok, err := st.Replays.Remember(t.Context(), fmt.Sprintf("signature-%d", i), expires)
				if err != nil || !ok {
					t.Errorf("signature %d: new %v, err %v", i, ok, err)
				}
			})
		}
		wg.Wait()
		if again, err := st.Replays.Remember(t.Context(), "signature-7", expires); err != nil || again {
			t.Fatalf("a remembered signature again: new %v, err %v", again, err)
		}
	})
}
