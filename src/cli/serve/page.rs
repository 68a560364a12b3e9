//! The page: one HTML file built into the binary (no CDN, works offline).
//! It draws every agent from `/api/stream`, with `textContent` only, so
//! nothing an agent says is ever read as markup; the one exception is an
//! agent's screen, which the server has already escaped
//! ([`super::screen`]). Takeover controls are in the page only when the
//! server allows takeover. However many tabs show it, one stream serves
//! them all (see `listen` in [`SCRIPT`]): a browser keeps only six
//! connections to a host.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub fn index(takeover: bool) -> Response {
    // Without takeover the controls are not in the page at all.
    let page = PAGE.replace("<!--takeover-->", if takeover { TAKEOVER } else { "" });
    (guarded("text/html; charset=utf-8"), page).into_response()
}

/// The page's script.
pub fn script() -> Response {
    (guarded("text/javascript; charset=utf-8"), SCRIPT).into_response()
}

/// The headers of the page and its script: no script but the server's
/// own file (an agent's text that became markup could run nothing), no
/// framing, no address sent elsewhere, nothing sniffed or kept.
fn guarded(content_type: &'static str) -> [(header::HeaderName, &'static str); 6] {
    [
        (header::CONTENT_TYPE, content_type),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ]
}

/// Send and restart, for a server run with `--allow-takeover`.
const TAKEOVER: &str = r#"<form id="takeover" class="takeover" autocomplete="off">
<input id="send-text" type="text" maxlength="4000" placeholder="type to the agent, Enter sends" aria-label="text to send">
<button id="send" type="submit">Send</button>
<button id="restart" type="button">Restart</button>
<span id="act-said" role="status"></span>
</form>
<dialog id="confirm" aria-labelledby="confirm-text">
<p id="confirm-text"></p>
<button id="confirm-yes" type="button">Yes</button>
<button id="confirm-no" type="button" autofocus>No</button>
</dialog>"#;

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleet</title>
<style>
body { font: 14px ui-monospace, Menlo, Consolas, monospace; margin: 0; background: #111; color: #ddd; }
header { padding: 8px 12px; background: #222; position: sticky; top: 0; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; z-index: 1; }
header #counts { flex: 1; }
button, input { font: inherit; background: #333; color: #eee; border: 1px solid #555; border-radius: 3px; padding: 3px 8px; }
button:hover { background: #444; } button[aria-selected="true"] { background: #555; border-color: #999; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 12px; white-space: nowrap; }
th { color: #999; font-weight: normal; }
tbody tr { cursor: pointer; } tbody tr:hover { background: #1c1c1c; }
tr.waiting { background: #3a3000; font-weight: bold; } tr.waiting:hover { background: #4a3d00; }
tr.selected { outline: 1px solid #888; outline-offset: -1px; }
tbody tr:focus-visible { outline: 2px solid #6af; outline-offset: -2px; }
.stale tbody { opacity: 0.45; }
.running { color: #6c6; } .drift { color: #dd6; } .exited, .unreachable, .crashloop { color: #e66; }
.missing { color: #888; } .unmanaged { color: #d6d; }
.waiting-word { color: #ee6; } .working-word { color: #6c6; } .idle-word { color: #aaa; }
#gone, #warnings { color: #e66; padding: 4px 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
#detail { border-top: 1px solid #333; margin-top: 8px; }
#detail[hidden] { display: none; }
#detail-head { padding: 8px 12px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
#screen-title { color: #aaa; margin-right: auto; }
#takeover { padding: 0 12px 8px; display: flex; gap: 8px; flex-wrap: wrap; }
#send-text { flex: 1; min-width: 12em; }
#confirm { background: #222; color: #ddd; border: 1px solid #666; max-width: min(40em, 90vw); }
#confirm p { white-space: pre-wrap; overflow-wrap: anywhere; }
#confirm::backdrop { background: rgba(0, 0, 0, 0.6); }
#act-said { color: #aaa; align-self: center; }
pre.view { margin: 0 12px 12px; padding: 8px; background: #000; overflow: auto; min-height: 4em; max-height: 70vh; }
#events-list td { white-space: normal; }
#hint { color: #888; padding: 8px 12px; }
@media (max-width: 700px) {
  .wide { display: none; }
  body { font-size: 13px; }
  th, td { padding: 4px 6px; }
  pre.view { margin: 0 4px 8px; font-size: 11px; }
}
</style>
</head>
<body>
<header><span id="counts" role="status" aria-live="polite">fleet: connecting…</span><button id="notify" type="button" hidden>Notify when waiting</button></header>
<div id="warnings" hidden></div>
<div class="scroll">
<table id="agents" class="stale" aria-label="agents">
<thead><tr><th>NAME</th><th>HOST</th><th class="wide">RUNTIME</th><th class="wide">MODEL</th><th>STATUS</th><th>ACTIVITY</th><th class="wide">UPTIME</th><th class="wide">RESTARTS</th></tr></thead>
<tbody id="rows"></tbody>
</table>
</div>
<div id="gone"></div>
<div id="hint">select an agent to see its screen, transcript, history and why it has its state</div>
<section id="detail" hidden>
<div id="detail-head">
<span id="screen-title"></span>
<span role="tablist">
<button id="tab-screen" type="button" role="tab" data-view="screen">Screen</button>
<button id="tab-transcript" type="button" role="tab" data-view="transcript">Transcript</button>
<button id="tab-events" type="button" role="tab" data-view="events">Events</button>
<button id="tab-explain" type="button" role="tab" data-view="explain">Explain</button>
</span>
</div>
<!--takeover-->
<pre id="screen" class="view" aria-label="the agent's screen"></pre>
<pre id="transcript" class="view" aria-label="the agent's transcript" hidden></pre>
<div id="events" class="view scroll" hidden><table id="events-list"><tbody></tbody></table></div>
<pre id="explain" class="view" hidden></pre>
</section>
<script src="/app.js"></script>
</body>
</html>
"#;

/// The page's script, served apart so that the policy allows no inline
/// script at all.
const SCRIPT: &str = r##""use strict";
const $ = id => document.getElementById(id);
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
  return td;
}
// Text that is set only when it changes: a live region is not read out
// again for every board, nor a selection in it lost.
function say(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
let selected = null;    // {name, host}
let view = "screen";
let last = { agents: [], unreachable: [], warnings: [] };
let waitingBefore = null; // names waiting at the previous update
// Whether this tab hears the server itself: then it, and no other tab,
// tells of an agent that starts waiting (see listen).
let streaming = false;
const key = a => a.name + "@" + a.host;
const query = () => new URLSearchParams(selected).toString();
// What an endpoint answered: JSON or text, or the server's reason;
// given up after 30 s, so that a look never waits for good.
async function ask(path, json) {
  const stop = new AbortController();
  const late = setTimeout(() => stop.abort(), 30000);
  try {
    const r = await fetch(path, { signal: stop.signal });
    if (!r.ok) throw new Error((await r.text()).trim() || r.status);
    return await (json ? r.json() : r.text());
  } catch (e) {
    throw e.name === "AbortError" ? new Error("no answer in 30 s") : e;
  } finally {
    clearTimeout(late);
  }
}
// How each view of the selected agent is asked for, and drawn.
const views = {
  // HTML the server escaped (colours as styles): no markup an agent wrote.
  screen: [() => ask("/api/screen?" + query(), true), s => { $("screen").innerHTML = s.html; }],
  transcript: [() => ask("/api/transcript?tail=500&" + query(), false), t => {
    const pre = $("transcript");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = t || "(nothing recorded yet)";
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }],
  events: [() => ask("/api/events?" + query(), true), list => {
    const body = $("events-list").tBodies[0];
    body.replaceChildren();
    for (const e of list.slice(-200).reverse()) {
      const tr = document.createElement("tr");
      cell(tr, e.time.replace("T", " ").replace(/\.\d+Z$/, "Z"));
      cell(tr, e.event + (e.exit_code != null ? " " + e.exit_code : ""), e.event);
      cell(tr, e.detail);
      body.appendChild(tr);
    }
    if (!list.length) cell(body.insertRow(), "no events yet");
  }],
  explain: [() => ask("/api/explain?" + query(), true), x => {
    const lines = [x.name + "  " + x.status + (x.exit_code != null ? " " + x.exit_code : "") +
      (x.activity ? ", " + x.activity : ""), "  status      " + (x.status_evidence || "-")];
    if (x.decided_by) {
      const d = x.decided_by;
      lines.push("  decided by  " + d.source + " at " + d.at + ": " + d.says + " (" + d.evidence + ")");
    }
    for (const s of x.signals || []) lines.push("  signal      " + s.source + " at " + s.at + ": " + s.says + " (" + s.evidence + ")");
    $("explain").textContent = lines.join("\n");
  }],
};
// Each look is numbered: an answer older than one already shown is
// dropped, so a slow answer never puts back an older screen. And one
// look at a time at each view of an agent: asked again meanwhile, it
// looks once more when the answer is in, rather than pile up requests.
let asked = 0, shown = 0;
const asking = new Map(); // "view name@host" → whether asked again meanwhile
// The selected agent's current view.
function look() {
  if (!selected) return;
  const was = key(selected), v = view, slot = v + " " + was;
  if (asking.has(slot)) {
    asking.set(slot, true);
    return;
  }
  asking.set(slot, false);
  const n = ++asked;
  const still = () => {
    if (!selected || key(selected) !== was || view !== v || n < shown) return false;
    shown = n;
    $("screen-title").textContent = was;
    return true;
  };
  const [fetchIt, drawIt] = views[v];
  fetchIt().then(got => { if (still()) drawIt(got); },
    e => { if (still()) $("screen-title").textContent = was + ": " + e.message; })
    .finally(() => {
      const again = asking.get(slot);
      asking.delete(slot);
      if (again && selected && key(selected) === was && view === v) look();
      else poll();
    });
}
// The screen moves on its own: looked at again 2 s after each answer,
// while it is the view shown and the page is seen.
let polling = null;
function poll() {
  clearTimeout(polling);
  polling = null;
  // The transcript grows while its agent works.
  const working = selected && view === "transcript" &&
    last.agents.some(a => key(a) === key(selected) && a.activity === "working");
  if (selected && (view === "screen" || working) && !document.hidden) polling = setTimeout(look, 2000);
}
document.addEventListener("visibilitychange", () => { if (document.hidden) poll(); else look(); });
function show(name) {
  view = name;
  for (const v of Object.keys(views)) {
    $(v).hidden = v !== name;
    $("tab-" + v).setAttribute("aria-selected", v === name ? "true" : "false");
  }
  poll();
  look();
}
function select(a) {
  selected = { name: a.name, host: a.host };
  $("detail").hidden = false;
  $("hint").hidden = true;
  $("screen-title").textContent = key(selected);
  for (const v of ["screen", "transcript", "explain"]) $(v).textContent = "";
  $("events-list").tBodies[0].replaceChildren();
  if ($("act-said")) $("act-said").textContent = "";
  draw(last);
  look();
}
// What the rows say of an agent that its views may show: its status,
// activity, exit code, restarts and launch, and whether its host
// answers. Not its uptime or idle seconds, which move at every board.
function seen(board, who) {
  const a = who && board.agents.find(a => key(a) === key(who));
  if (!a) return null;
  return JSON.stringify([a.status, a.activity, a.exit_code, a.restarts, a.started_at,
    board.unreachable.some(u => u.host === a.host)]);
}
// Each agent's row, kept from board to board and changed in place: a
// click, the focus or a hover is never lost to a row drawn anew.
const drawn = new Map(); // name@host → its row
function rowOf(a) {
  let tr = drawn.get(key(a));
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.name = a.name;
    tr.dataset.host = a.host;
    tr.tabIndex = 0;
    const first = document.createElement("td");
    const mark = document.createElement("span");
    mark.setAttribute("aria-hidden", "true");
    first.append(mark, document.createTextNode(""));
    tr.appendChild(first);
    for (let c = 1; c < 8; c++) tr.appendChild(document.createElement("td"));
    drawn.set(key(a), tr);
  }
  return tr;
}
function draw(board) {
  board = {
    agents: board.agents || [],
    unreachable: board.unreachable || [],
    // Plain text from the server (a broken fleet file, …); may be absent.
    warnings: Array.isArray(board.warnings) ? board.warnings.map(String) : [],
  };
  const before = seen(last, selected);
  last = board;
  const rows = $("rows");
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#rows tr");
  $("agents").classList.remove("stale");
  const agents = board.agents.slice().sort((a, b) =>
    (b.activity === "waiting") - (a.activity === "waiting") || a.name.localeCompare(b.name) || a.host.localeCompare(b.host));
  const n = { running: 0, working: 0, waiting: 0, exited: 0, unreachable: 0, crashloop: 0, drift: 0, missing: 0 };
  const keep = new Set();
  agents.forEach((a, i) => {
    if (a.status in n) n[a.status]++;
    if (a.status === "running" && (a.activity === "working" || a.activity === "waiting")) n[a.activity]++;
    const tr = rowOf(a);
    keep.add(tr);
    const on = !!selected && key(selected) === key(a);
    tr.classList.toggle("waiting", a.activity === "waiting");
    tr.classList.toggle("selected", on);
    tr.setAttribute("aria-selected", on ? "true" : "false");
    tr.dataset.status = a.status;
    tr.dataset.activity = a.activity || "";
    tr.onclick = () => select(a);
    tr.onkeydown = e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(a); } };
    const [first, ...cells] = tr.cells;
    say(first.firstChild, a.activity === "waiting" ? "! " : "");
    first.lastChild.nodeValue = a.name;
    const act = a.status === "unreachable" ? (a.reason || "").split(":")[0]
      : a.activity === "idle" ? "idle " + age(a.idle_seconds) : (a.activity || "-");
    [
      [a.host, ""],
      [a.runtime || "-", "wide"],
      [(a.model || "-") + (a.effort ? ":" + a.effort : ""), "wide"],
      [a.status === "exited" && a.exit_code != null ? "exited " + a.exit_code : a.status, a.status],
      [act, a.activity ? a.activity + "-word" : ""],
      [age(a.uptime_seconds), "wide"],
      [String(a.restarts), "wide"],
    ].forEach(([text, cls], c) => {
      say(cells[c], text);
      if (cells[c].className !== cls) cells[c].className = cls;
    });
    if (rows.children[i] !== tr) rows.insertBefore(tr, rows.children[i] || null);
  });
  for (const [k, tr] of drawn) if (!keep.has(tr)) { tr.remove(); drawn.delete(k); }
  // A row moved keeps the keyboard where it was.
  if (focused && focused.isConnected && document.activeElement !== focused) focused.focus();
  // As `fleet status-line` counts: the usual five always, the rarer
  // troubles when there are any.
  const parts = [n.running + " running", n.working + " working", n.waiting + " waiting",
    n.exited + " exited", n.unreachable + " unreachable"];
  for (const k of ["crashloop", "drift", "missing"]) if (n[k]) parts.push(n[k] + " " + k);
  say($("counts"), "fleet  " + parts.join(" · "));
  document.title = (n.waiting ? n.waiting + " waiting · " : "") +
    (n.crashloop ? n.crashloop + " crashloop · " : "") + "fleet";
  say($("warnings"), board.warnings.join("\n"));
  $("warnings").hidden = !board.warnings.length;
  say($("gone"), board.unreachable.map(u => "host " + u.host + " unreachable: " + u.reason).join("\n"));
  notify(agents);
  // What is shown of the selected agent may have changed with it.
  if (selected && seen(board, selected) !== before) look();
}
// A notification for each agent that starts waiting, once allowed; told
// by the tab that hears the server, so once however many tabs are open.
function notify(agents) {
  const waiting = new Set(agents.filter(a => a.activity === "waiting").map(key));
  if (streaming && waitingBefore && "Notification" in window && Notification.permission === "granted") {
    for (const k of waiting) if (!waitingBefore.has(k)) new Notification(k + " is waiting", { tag: k });
  }
  waitingBefore = waiting;
}
// The rows as drawn are old: the stream is down, coming back by itself.
function stale() {
  say($("counts"), "fleet: reconnecting… (the rows below are from before)");
  document.title = "reconnecting · fleet";
  $("agents").classList.add("stale");
}
if ("Notification" in window && Notification.permission === "default") {
  $("notify").hidden = false;
  $("notify").onclick = () => Notification.requestPermission().then(() => { $("notify").hidden = true; });
}
for (const v of Object.keys(views)) $("tab-" + v).onclick = () => show(v);
show("screen");
const form = $("takeover");
if (form) {
  // Asked in the page, not with confirm(): that would stop this tab, and
  // with it the stream every other tab draws from, until answered.
  const ask = (what, then) => {
    const dialog = $("confirm");
    $("confirm-text").textContent = what;
    $("confirm-yes").onclick = () => { dialog.close(); then(); };
    $("confirm-no").onclick = () => dialog.close();
    dialog.showModal();
  };
  const act = (path, body, what) => {
    if (!selected) return;
    const who = Object.assign({}, selected);
    ask(what, () => send(path, who, body));
  };
  const send = (path, who, body) => {
    $("act-said").textContent = "…";
    fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({}, who, body)) })
      .then(async r => {
        const t = await r.text();
        let said = t.trim();
        try { said = JSON.parse(t).said; } catch (_) {}
        $("act-said").textContent = (r.ok ? "" : "refused: ") + said;
        if (r.ok && body.text != null) $("send-text").value = "";
        look();
      }, e => { $("act-said").textContent = "failed: " + e.message; });
  };
  form.onsubmit = e => {
    e.preventDefault();
    const text = $("send-text").value;
    if (text.trim()) act("/api/send", { text }, "Type into " + key(selected) + " and press Enter?\n\n" + text);
  };
  $("restart").onclick = () => act("/api/restart", {}, "Restart " + key(selected) + "? Its session is relaunched.");
}
// One stream for all of this server's tabs. Over HTTP/1.1 a browser
// keeps at most six connections to a host, and a stream holds one for
// as long as it is open: six tabs each with its own would leave none
// for a seventh tab to load, or for a screen to be asked for. So one
// tab leads, elected by a Web Lock it holds while it lives: it listens,
// and passes each board, and the stream going down, on over a
// BroadcastChannel; the others draw what it passes on, and ask it for
// the latest board as they open. When it closes, the lock goes to
// another tab, which listens in its place. Where a page has neither (it
// is not a secure context: plain http to an address on the LAN), each
// tab listens for itself, as before.
const tabs = navigator.locks && "BroadcastChannel" in window ? new BroadcastChannel("fleet-" + location.host) : null;
let heard = null, down = false; // a listening tab's latest board, and whether its stream is down
function listen() {
  streaming = true;
  const source = new EventSource("/api/stream");
  source.addEventListener("agents", e => {
    heard = JSON.parse(e.data);
    down = false;
    if (tabs) tabs.postMessage({ board: heard });
    draw(heard);
  });
  source.onerror = () => {
    down = true;
    if (tabs) tabs.postMessage({ down });
    stale();
    // Closed for good (the server said no): try again a little later,
    // and say so if the token is what it refused.
    if (source.readyState === EventSource.CLOSED) {
      fetch("/api/agents").then(r => {
        if (r.status === 401) say($("counts"), "fleet: the token is no longer valid: open the URL fleet serve printed");
      }, () => {});
      setTimeout(listen, 3000);
    }
  };
}
if (tabs) {
  // When the listening tab last said anything to this one.
  let fromLeader = Date.now();
  tabs.onmessage = e => {
    const m = e.data || {};
    if (streaming) {
      if (m.hello && heard) tabs.postMessage({ board: heard, down });
      return;
    }
    if (m.board || m.down) fromLeader = Date.now();
    if (m.board) draw(m.board);
    if (m.down) stale();
  };
  // A tab that draws what another passes on asks it every 5 s; a leader
  // that stopped answering (a browser froze its tab) leaves the rows
  // marked as old rather than passing for live.
  setInterval(() => {
    if (streaming) return;
    if (Date.now() - fromLeader > 15000) stale();
    tabs.postMessage({ hello: true });
  }, 5000);
  navigator.locks.request("fleet-stream-" + location.host, () => {
    listen();
    return new Promise(() => {}); // held until the tab closes
  }).catch(() => { if (!streaming) listen(); });
  tabs.postMessage({ hello: true });
} else {
  listen();
}
"##;
