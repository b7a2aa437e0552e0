// Command echobase is the baseline of bench/http.sh: a bare Echo v4 server
// answering one JSON hello, so that keyplane's numbers read as a fraction of
// what the framework itself does on the same machine.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	flag.Parse()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/hello", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	log.Fatal(e.Start(*addr))
}
