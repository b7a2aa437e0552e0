package auth

// Right names one thing a principal may do. Rights are camelCase strings, as in
// Portos; roles (a later capability) group them.
type Right string

// The rights keyplane checks. Admin implies every other right.
const (
	Admin        Right = "admin"
	APIKeyRead   Right = "apiKeyRead"
	APIKeyCreate Right = "apiKeyCreate"
	APIKeyUpdate Right = "apiKeyUpdate"
	APIKeyDelete Right = "apiKeyDelete"
)
