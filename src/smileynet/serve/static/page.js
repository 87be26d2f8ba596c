// The SmileyNet page: upload an image to /v1/predict and draw the answer. Built with DOM calls
// and textContent only (no HTML from strings), and nothing fetched from outside this server.
"use strict";

const $ = (id) => document.getElementById(id);
let model = null;
let modelReady = null; // resolves once /v1/model has answered

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

// The emoji's colour glyph from the server, or its name where no glyph can be drawn.
function glyph(entry) {
  if (!model.glyphs) return el("span", { class: "glyph-name" }, entry.name);
  const img = el("img", { class: "glyph", src: `/v1/glyphs/${entry.index}.png`, alt: entry.name, title: entry.name });
  img.addEventListener("error", () => img.replaceWith(el("span", { class: "glyph-name" }, entry.name)));
  return img;
}

function bar(fraction) {
  const outer = el("div", { class: "bar", "aria-hidden": "true" });
  const fill = el("div", { class: "fill" });
  fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  outer.append(fill);
  return outer;
}

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function showTop(top) {
  const list = $("top");
  list.replaceChildren();
  for (const entry of top) {
    const item = el("li");
    item.append(glyph(entry), el("span", { class: "name" }, entry.name), bar(entry.probability),
                el("span", { class: "value" }, `${(entry.probability * 100).toFixed(1)} %`));
    list.append(item);
  }
}

function showSentiment(sentiment) {
  const list = $("sentiment");
  list.replaceChildren();
  for (const [variant, { score, label }] of Object.entries(sentiment)) {
    list.append(el("dt", {}, variant), el("dd", { class: label }, `${label} (${score >= 0 ? "+" : ""}${score.toFixed(3)})`));
  }
}

function showFingerprint(result) {
  const list = $("fingerprint");
  const groups = $("groups");
  list.replaceChildren();
  groups.replaceChildren();
  if (result.fingerprint) {
    $("fingerprint-note").textContent =
      "The image's emotion profile: its emoji probabilities weighted by each emoji's emotional fingerprint.";
    const { classes, values } = result.fingerprint;
    const top = Math.max(...values, 1e-9);
    classes.forEach((name, i) => {
      const item = el("li");
      item.append(el("span"), el("span", { class: "name" }, name), bar(values[i] / top),
                  el("span", { class: "value" }, values[i].toFixed(3)));
      list.append(item);
    });
    return;
  }
  $("fingerprint-note").textContent =
    "No emoji fingerprints loaded (start the server with --fingerprints emoji_fingerprints.csv, written by " +
    "smileynet transfer on an emotion dataset). Instead, the whole embedding by Unicode subgroup:";
  const bySubgroup = new Map();
  model.vocabulary.forEach((entry) => {
    const key = entry.subgroup || "other";
    if (!bySubgroup.has(key)) bySubgroup.set(key, []);
    bySubgroup.get(key).push(entry);
  });
  for (const [name, entries] of bySubgroup) {
    const section = el("section", { class: "group" });
    const chips = el("ul", { class: "chips" });
    for (const entry of entries) {
      const p = result.probabilities[entry.index];
      const chip = el("li", { title: `${entry.name}: ${(p * 100).toFixed(1)} %` });
      const level = el("div", { class: "level", "aria-hidden": "true" });
      const fill = el("div");
      fill.style.width = `${p * 100}%`;
      level.append(fill);
      chip.append(glyph(entry), level, el("span", {}, `${(p * 100).toFixed(0)} %`));
      chips.append(chip);
    }
    section.append(el("h3", {}, name), chips);
    groups.append(section);
  }
}

async function predict(file) {
  if (!file) return;
  await modelReady;
  if (!model) return;
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.alt = `the chosen image, ${file.name}`;
  preview.hidden = false;
  setStatus(`Reading ${file.name}…`);
  const form = new FormData();
  form.append("file", file);
  let response, body;
  try {
    response = await fetch("/v1/predict?top_k=5&embedding=true", { method: "POST", body: form });
    body = await response.json();
  } catch (err) {
    setStatus(`The server did not answer (${err}).`, true);
    return;
  }
  if (!response.ok) {
    setStatus(`Not accepted: ${body.detail || response.statusText}`, true);
    $("results").hidden = true;
    return;
  }
  showTop(body.top);
  showSentiment(body.sentiment);
  showFingerprint(body);
  $("results").hidden = false;
  setStatus(`Done: ${file.name}, ${body.image.width}×${body.image.height} pixels. Top emoji: ${body.top[0].name}.`);
}

function start() {
  modelReady = loadModel();
  const input = $("file");
  const zone = $("drop");
  input.addEventListener("change", () => predict(input.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  for (const name of ["dragover", "drop"]) { // a file dropped beside the zone must not replace the page
    document.addEventListener(name, (event) => event.preventDefault());
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) predict(file);
  });
}

async function loadModel() {
  try {
    model = await (await fetch("/v1/model")).json();
    const what = model.note ? ` (${model.note})` : "";
    $("model-info").textContent = `Model: ${model.arch}${what}, ${model.num_classes} emojis, ${model.image_size} px input.`;
  } catch (err) {
    setStatus(`Could not reach the model (${err}).`, true);
  }
}

start();
