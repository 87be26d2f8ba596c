// An offline API reference: lists the operations of /openapi.json (FastAPI's Swagger UI needs a CDN).
"use strict";

function el(tag, text = "") {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  return node;
}

async function start() {
  const main = document.getElementById("endpoints");
  const spec = await (await fetch("/openapi.json")).json();
  const intro = el("p", spec.info.description || "");
  main.append(intro);
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const section = el("section");
      section.append(el("h2", `${method.toUpperCase()} ${path}`));
      if (op.description) section.append(el("p", op.description));
      const params = (op.parameters || []).map((p) => `${p.name} (${p.in})`);
      const bodies = Object.keys((op.requestBody || {}).content || {});
      if (params.length) section.append(el("p", `Parameters: ${params.join(", ")}`));
      if (bodies.length) section.append(el("p", `Body: ${bodies.join(" or ")}`));
      section.append(el("p", `Responses: ${Object.entries(op.responses || {}).map(([code, r]) => `${code} ${r.description || ""}`).join("; ")}`));
      main.append(section);
    }
  }
}

start();
