// Start Swagger UI on OpenZone's OpenAPI document (kept out of the page so the CSP needs no inline script).
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
