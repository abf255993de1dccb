package tokens_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/tokens"
)

func ExampleKeyset_Verify() {
	ks, err := tokens.New(config.Tokens{
		Issuer: "portcullis", Audience: "apps", AccessTTL: 10 * time.Minute, Leeway: 5 * time.Second,
		Keys: []config.Key{{ID: "k1", Alg: tokens.AlgHS256, Secret: "an-example-secret-of-at-least-32-bytes"}},
	})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tok, _, _ := ks.Issue("alice", "sid-1", now)

	c, err := ks.Verify(tok, now.Add(time.Minute))
	fmt.Println(c.Subject, c.SessionID, err)

	c, err = ks.Verify(tok, now.Add(time.Hour))
	fmt.Println(c.SessionID, errors.Is(err, tokens.ErrExpired))

	_, err = ks.Verify(tok+"x", now)
	fmt.Println(errors.Is(err, tokens.ErrInvalid))
	// Output:
	// alice sid-1 <nil>
	// sid-1 true
	// true
}
