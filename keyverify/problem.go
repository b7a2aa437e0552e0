package keyverify

import (
	"encoding/json"
	"net/http"
)

// problem is the RFC 7807 body of a refusal; code is keyplane's verdict
// (NOT_FOUND, FORBIDDEN, …) or the middleware's own reason
// (MISSING_CREDENTIALS, VERIFICATION_UNAVAILABLE, …).
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// refuse writes the problem of a refused request, with the challenges of a
// 401 and the Retry-After of a 429 or 503, and logs what keyplane could not
// answer.
func (v *Verifier) refuse(w http.ResponseWriter, r *http.Request, ref *refusal) {
	if ref.cause != nil {
		v.log.WarnContext(r.Context(), "keyverify: request refused", "code", ref.code, "err", ref.cause)
	}
	h := w.Header()
	switch ref.status {
	case http.StatusUnauthorized:
		h.Add("WWW-Authenticate", `ApiKey realm="`+v.realm+`", header="x-api-key"`)
		h.Add("WWW-Authenticate", `NWS4-HMAC-SHA256 realm="`+v.realm+`", charset="UTF-8"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(ref.status), Status: ref.status, Detail: ref.detail, Code: ref.code})
	h.Set("Content-Type", "application/problem+json")
	w.WriteHeader(ref.status)
	w.Write(body)
}
