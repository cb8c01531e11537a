// The live dashboard: every config of this host, refreshed every few seconds from
// /api/status; a click on a config shows the end of its logs from /api/log/<component>/<config>.
// Text from the server is only ever set as textContent: nothing it sends is read as HTML.
"use strict";

const REFRESH_MS = 2000;
let selected = null; // {component, config} whose log is shown
let lastDocument = null;

function text(element, value) {
  element.textContent = value;
  return element;
}

function cell(row, value, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  text(td, value);
  row.appendChild(td);
  return td;
}

function rate(perSecond) {
  if (!perSecond) return "0";
  return perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond).toLocaleString("en");
}

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return (unit ? value.toFixed(1) : Math.round(value)) + " " + units[unit];
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(seconds);
  if (s < 1) return sign + s.toFixed(2) + " s";
  if (s < 60) return sign + s.toFixed(1) + " s";
  s = Math.floor(s);
  if (s < 3600) return sign + Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return sign + Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return sign + Math.floor(s / 86400) + " days " + Math.floor((s % 86400) / 3600) + " h";
}

function ago(when, now) {
  if (when === null || when === undefined) return "";
  const seconds = Math.max(0, now - when);
  return seconds < 1 ? "just now" : duration(seconds) + " ago";
}

function stateLabel(config) {
  const counts = config.instances_expected || config.instances_running
    ? " " + config.instances_running + "/" + config.instances_expected : "";
  const disabled = config.enabled || config.state === "disabled" ? "" : " (disabled)";
  return config.state + counts + disabled;
}

function row(config, now) {
  const tr = document.createElement("tr");
  const name = config.component + "/" + config.config;
  tr.dataset.config = name;
  tr.dataset.state = config.state;
  tr.tabIndex = 0;
  if (config.problems.length) tr.classList.add("problem");
  if (selected && selected.component === config.component && selected.config === config.config) {
    tr.classList.add("selected");
  }
  cell(tr, name, "name");
  const state = cell(tr, "");
  const badge = text(document.createElement("span"), stateLabel(config));
  badge.className = "state state-" + config.state.replace(/ /g, "-");
  if (config.reason) badge.title = config.reason;
  state.appendChild(badge);
  const working = config.instances_running > 0;
  cell(tr, working ? rate(config.received_rate) : "", "number");
  cell(tr, working ? rate(config.done_rate) : "", "number");
  cell(tr, working ? size(config.bytes_rate) + "/s" : "", "number");
  cell(tr, duration(config.lag_median), "number");
  cell(tr, duration(config.lag_max), "number");
  cell(tr, config.queue_depth === null ? "" : config.queue_depth.toLocaleString("en"), "number");
  cell(tr, config.retry ? config.retry.toLocaleString("en") : "", "number");
  const last = cell(tr, ago(config.last_done, now), "last");
  if (config.last_file) last.title = config.last_file;
  cell(tr, config.problems.join("\n"), "problems");
  const open = () => showLog(config.component, config.config);
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  return tr;
}

function totals(document_) {
  const t = document_.totals;
  const states = Object.entries(t.states).map(([state, n]) => n + " " + state).join(", ");
  let line = t.configs + " configs" + (states ? ": " + states : "");
  line += "; " + rate(t.done_rate) + " files/s (" + size(t.bytes_rate) + "/s)";
  if (t.queue_depth) line += "; " + t.queue_depth.toLocaleString("en") + " queued";
  if (t.retry) line += "; " + t.retry.toLocaleString("en") + " to retry";
  const verb = t.problems === 1 ? " needs" : " need";
  line += t.problems ? "; " + t.problems + verb + " a look" : "; all well";
  return line;
}

function render(document_) {
  lastDocument = document_;
  const now = document_.time;
  text(document.getElementById("host"), document_.host);
  text(document.getElementById("totals"), totals(document_));
  const when = new Date(now * 1000).toLocaleTimeString();
  text(document.getElementById("updated"), "updated " + when);
  const onlyProblems = document.getElementById("problems-only").checked;
  const body = document.querySelector("#configs tbody");
  const rows = document_.configs
    .filter((config) => !onlyProblems || config.problems.length)
    .map((config) => row(config, now));
  body.replaceChildren(...rows);
}

async function refresh() {
  try {
    const response = await fetch("/api/status", { cache: "no-store" });
    if (!response.ok) throw new Error(response.statusText);
    render(await response.json());
    document.getElementById("unreachable").hidden = true;
    if (selected) await loadLog();
  } catch (error) {
    document.getElementById("unreachable").hidden = false;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

async function loadLog() {
  const { component, config } = selected;
  const url = "/api/log/" + encodeURIComponent(component) + "/" + encodeURIComponent(config);
  const response = await fetch(url, { cache: "no-store" });
  const pre = document.getElementById("log-lines");
  if (!response.ok) {
    text(pre, "no log for this config");
    return;
  }
  const found = await response.json();
  const lines = [];
  for (const log of found.logs) {
    lines.push("==> " + log.file + " <==");
    lines.push(...log.lines);
  }
  if (!found.logs.length) lines.push("no log yet");
  const stuck = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.replaceChildren(...lines.map((line) => {
    const span = text(document.createElement("span"), line + "\n");
    if (line.includes("[ERROR]") || line.includes("[CRITICAL]")) span.className = "error";
    else if (line.includes("[WARNING]")) span.className = "warning";
    return span;
  }));
  if (stuck) pre.scrollTop = pre.scrollHeight;
}

async function showLog(component, config) {
  selected = { component, config };
  text(document.getElementById("log-config"), component + "/" + config);
  document.getElementById("log").hidden = false;
  if (lastDocument) render(lastDocument);
  await loadLog();
  const pre = document.getElementById("log-lines");
  pre.scrollTop = pre.scrollHeight;
}

document.getElementById("log-close").addEventListener("click", () => {
  selected = null;
  document.getElementById("log").hidden = true;
  if (lastDocument) render(lastDocument);
});
document.getElementById("problems-only").addEventListener("change", () => {
  if (lastDocument) render(lastDocument);
});
refresh();
