package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"

	"github.com/labstack/echo/v4"
)

// decodedBinder binds a body the gate decoded already (decodeBulk) into
// the generated handler's request body, and decodes every other body as
// Echo's binder does for the generated handlers (the body only).
type decodedBinder struct{ echo.DefaultBinder }

// Bind implements echo.Binder.
func (b *decodedBinder) Bind(i any, c echo.Context) error {
	if v := c.Get(decodedBodyKey); v != nil {
		dst := reflect.ValueOf(i)
		if src := reflect.ValueOf(v); dst.Kind() == reflect.Pointer && src.Type().AssignableTo(dst.Type().Elem()) {
			dst.Elem().Set(src)
			return nil
		}
	}
	return b.BindBody(c, i)
}

// exactJSON decodes request bodies as Echo does, except that a number
// landing in an untyped value (properties, settings) stays a json.Number:
// decoded to float64, 12345678901234567890 would be stored as
// 12345678901234567000. Typed fields decode as before.
type exactJSON struct{ echo.DefaultJSONSerializer }

// Deserialize implements echo.JSONSerializer.
func (exactJSON) Deserialize(c echo.Context, i any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.UseNumber()
	err := dec.Decode(i)
	if ute, ok := err.(*json.UnmarshalTypeError); ok {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Unmarshal type error: expected=%v, got=%v, field=%v, offset=%v", ute.Type, ute.Value, ute.Field, ute.Offset)).SetInternal(err)
	} else if se, ok := err.(*json.SyntaxError); ok {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Syntax error: offset=%v, error=%v", se.Offset, se.Error())).SetInternal(err)
	}
	return err
}
