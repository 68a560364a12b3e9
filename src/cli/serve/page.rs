//! The page: one HTML file built into the binary (no CDN, works offline).
//! It draws every agent from `/api/stream`, with `textContent` only, so
//! nothing an agent says is ever read as markup.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        PAGE,
    )
        .into_response()
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleet</title>
<style>
body { font: 14px ui-monospace, monospace; margin: 0; background: #111; color: #ddd; }
header { padding: 8px 12px; background: #222; position: sticky; top: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 12px; white-space: nowrap; }
tr.waiting { background: #3a3000; font-weight: bold; }
.running { color: #6c6; } .drift { color: #dd6; } .exited, .unreachable, .crashloop { color: #e66; }
.missing { color: #888; } .unmanaged { color: #d6d; }
.waiting-word { color: #ee6; } .working-word { color: #6c6; }
#gone { color: #e66; padding: 4px 12px; }
tr { cursor: pointer; } tr.selected { outline: 1px solid #888; }
#screen-title { padding: 8px 12px 0; color: #aaa; }
#screen { margin: 8px 12px; padding: 8px; background: #000; overflow-x: auto; min-height: 4em; }
@media (max-width: 700px) { .wide { display: none; } }
</style>
</head>
<body>
<header id="counts">fleet: connecting…</header>
<table>
<thead><tr><th>NAME</th><th>HOST</th><th class="wide">RUNTIME</th><th class="wide">MODEL</th><th>STATUS</th><th>ACTIVITY</th><th class="wide">UPTIME</th><th class="wide">RESTARTS</th></tr></thead>
<tbody id="rows"></tbody>
</table>
<div id="gone"></div>
<div id="screen-title">select an agent to see its screen</div>
<pre id="screen"></pre>
<script>
"use strict";
function age(s) {
  if (s == null) return "-";
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h" + Math.floor(s % 3600 / 60) + "m";
  return Math.floor(s / 86400) + "d" + Math.floor(s % 86400 / 3600) + "h";
}
function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}
let selected = null;
let last = { agents: [], unreachable: [] };
// The selected agent's screen: HTML the server escaped (colours as
// styles); nothing in it is markup an agent wrote.
function look() {
  if (!selected) return;
  const q = new URLSearchParams(selected);
  fetch("/api/screen?" + q).then(r => r.ok ? r.json() : r.text().then(t => ({ error: t })))
    .then(s => {
      document.getElementById("screen-title").textContent =
        selected.name + "@" + selected.host + (s.error ? ": " + s.error : "");
      if (s.html != null) document.getElementById("screen").innerHTML = s.html;
    });
}
function draw(board) {
  last = board;
  const rows = document.getElementById("rows");
  rows.replaceChildren();
  const agents = board.agents.slice().sort((a, b) =>
    (b.activity === "waiting") - (a.activity === "waiting") || a.name.localeCompare(b.name));
  let n = { running: 0, working: 0, waiting: 0, exited: 0, unreachable: 0 };
  for (const a of agents) {
    if (a.status in n) n[a.status]++;
    if (a.status === "running" && (a.activity === "working" || a.activity === "waiting")) n[a.activity]++;
    const tr = document.createElement("tr");
    tr.dataset.name = a.name;
    tr.dataset.host = a.host;
    if (a.activity === "waiting") tr.className = "waiting";
    if (selected && selected.name === a.name && selected.host === a.host) tr.classList.add("selected");
    tr.onclick = () => { selected = { name: a.name, host: a.host }; draw(last); look(); };
    cell(tr, (a.activity === "waiting" ? "! " : "") + a.name);
    cell(tr, a.host);
    cell(tr, a.runtime || "-", "wide");
    cell(tr, (a.model || "-") + (a.effort ? ":" + a.effort : ""), "wide");
    cell(tr, a.status === "exited" && a.exit_code != null ? "exited " + a.exit_code : a.status, a.status);
    const act = a.status === "unreachable" ? (a.reason || "").split(":")[0]
      : a.activity === "idle" ? "idle " + age(a.idle_seconds) : (a.activity || "-");
    cell(tr, act, a.activity ? a.activity + "-word" : "");
    cell(tr, age(a.uptime_seconds), "wide");
    cell(tr, String(a.restarts), "wide");
    rows.appendChild(tr);
  }
  const parts = [n.running + " running", n.working + " working", n.waiting + " waiting",
    n.exited + " exited", n.unreachable + " unreachable"];
  document.getElementById("counts").textContent = "fleet  " + parts.join(" · ");
  document.title = (n.waiting ? n.waiting + " waiting · " : "") + "fleet";
  document.getElementById("gone").textContent =
    board.unreachable.map(u => "host " + u.host + " unreachable: " + u.reason).join("\n");
}
function listen() {
  const source = new EventSource("/api/stream");
  source.addEventListener("agents", e => { draw(JSON.parse(e.data)); look(); });
  source.onerror = () => {
    document.getElementById("counts").textContent = "fleet: reconnecting…";
  };
}
listen();
</script>
</body>
</html>
"#;
