// Starts Swagger UI on keyplane's OpenAPI document. It is a file of its own,
// not an inline script, so that the page's Content-Security-Policy can forbid
// inline scripts.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout", // no top bar: this page shows one document
  deepLinking: true,
  displayRequestDuration: true,
  filter: true,
  validatorUrl: null, // the online validator is an outside request
});
