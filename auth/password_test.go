package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyplane/keyplane/auth"
)

func TestPasswordHash(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "horse") {
		t.Fatalf("hash %q", h)
	}
	if err := auth.CheckPassword(h, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	if err := auth.CheckPassword(h, "correct horse battery stapler"); !errors.Is(err, auth.ErrPasswordMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	for _, bad := range []string{"", "$bcrypt$x", "$argon2id$v=19$m=1,t=1,p=1$!!$!!", "$argon2id$v=18$m=1,t=1,p=1$AA$AA"} {
		if err := auth.CheckPassword(bad, "x"); err == nil {
			t.Errorf("hash %q accepted", bad)
		}
	}
}
