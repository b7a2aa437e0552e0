// Package nws4 implements NWS4-HMAC-SHA256, ninedigit's request-signing scheme
// used by Portos API keys: a client signer (Sign, Transport, RequestEditor) and a
// server verifier (ParseAuthorization, Verifier). It follows the reference C#
// library bit for bit, quirks included, as documented in the keyplane spec
// nws4.md: query pieces split on every "=" keeping the first two fields, the
// path encoded twice, header lines and SignedHeaders sorted differently, the
// Authorization parameters form-encoded twice, and the signing key
// HMAC-SHA256("NWS4"+secret, date) with the secret used as text.
//
// # Client
//
// Wrap any transport:
//
//	client := &http.Client{Transport: &nws4.Transport{Credentials: creds}}
//
// or, with the generated keyplane client, sign through a request editor:
//
//	c, err := gen.NewClientWithResponses(url,
//		gen.WithRequestEditorFn(nws4.RequestEditor(creds)))
//
// Transport is preferable when redirects are followed, since it signs each hop.
//
// # Timestamps
//
// Timestamps have millisecond resolution, so two identical requests signed in
// the same millisecond carry the same signature, and a server that rejects
// replays refuses the second. Within one Transport, or one function returned by
// RequestEditor, timestamps therefore strictly increase: a request that would
// reuse the previous millisecond (or precede it, if the clock went backwards)
// is signed one millisecond later, so no two requests share a signature. If
// the clock steps back, timestamps run ahead of it until it catches up.
// Separate Transports or processes sharing one credential get no such
// guarantee and must not sign identical requests within the same millisecond:
// share one Transport per credential, or give each process its own key. Other
// client implementations should do the same. Sign, which takes the time
// explicitly, leaves this to its caller.
//
// # Server
//
//	a, err := nws4.ParseAuthorization(strings.Join(r.Header.Values("Authorization"), ","))
//	if errors.Is(err, nws4.ErrNotNWS4) { /* try another scheme */ }
//	secret := lookUp(a.Credential)
//	body, _ := io.ReadAll(r.Body)
//	err = verifier.Verify(r, a, body, secret)
//
// Every failure should be answered with 401 and the header
// WWW-Authenticate: Challenge.
//
// # Hardening
//
// By default Verifier is stricter than the reference server, yet accepts every
// reference client: host, x-nd-date and x-nd-content-sha256 must be signed and
// x-nd-date must equal the Timestamp. Verifier.Lenient restores the reference's
// acceptance rules. Signatures are always compared in constant time.
//
// # Replays
//
// This package has no replay protection: a captured request stays valid for
// the whole time window (±150 s by default). The caller must record each
// accepted Authorization.Signature in a store shared by all servers, keep it
// for the window, and reject a signature it has already seen.
//
// The chunked variant (content encoding nws-chunked) is not implemented;
// Verify reports it as ErrChunkedUnsupported.
package nws4
