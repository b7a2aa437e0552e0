package server

import (
	"net/http"

	"golang.org/x/text/language"
)

// titles are the localized problem titles, by language and status. English is
// the fallback for a missing language or status; Slovak is what Portos speaks.
var titles = map[language.Tag]map[int]string{
	language.English: {
		400: "Validation failed",
		401: "Unauthenticated",
		403: "Forbidden",
		404: "Resource not found",
		405: "Method not allowed",
		409: "Resource version mismatch",
		412: "Precondition failed",
		413: "Payload too large",
		415: "Unsupported media type",
		423: "Resource locked",
		428: "Precondition required",
		429: "Too many requests",
		500: "Internal server error",
		503: "Service unavailable",
	},
	language.Slovak: {
		400: "Validácia zlyhala",
		401: "Používateľ nie je overený",
		403: "Prístup zamietnutý",
		404: "Zdroj nebol nájdený",
		405: "Metóda nie je povolená",
		409: "Nezhoda verzie zdroja",
		412: "Podmienka nebola splnená",
		413: "Požiadavka je príliš veľká",
		415: "Nepodporovaný typ obsahu",
		423: "Zdroj je uzamknutý",
		428: "Požiadavka musí byť podmienená",
		429: "Príliš veľa požiadaviek",
		500: "Interná chyba servera",
		503: "Služba nie je dostupná",
	},
}

var titleMatcher = language.NewMatcher([]language.Tag{language.English, language.Slovak})

// title returns the problem title for status in the best language of an
// Accept-Language header.
func title(acceptLanguage string, status int) string {
	tag := language.English
	if acceptLanguage != "" {
		prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
		if err == nil {
			_, i, conf := titleMatcher.Match(prefs...)
			if conf != language.No && i == 1 {
				tag = language.Slovak
			}
		}
	}
	if t, ok := titles[tag][status]; ok {
		return t
	}
	if t, ok := titles[language.English][status]; ok {
		return t
	}
	return http.StatusText(status)
}
