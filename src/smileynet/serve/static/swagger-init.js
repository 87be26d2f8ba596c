// Swagger UI on this server's own OpenAPI document, with "Try it out" ready (the page's CSP forbids inline scripts).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, tryItOutEnabled: true });
