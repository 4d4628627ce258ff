// vigil's web page, live: the status table refreshes from /api/status every second (the
// buttons that do not apply in a state disabled, as the server says), and a
// process page follows its log through /api/tail. Every text goes in with textContent, so
// output is never read as HTML. Without JavaScript the page still works through its forms.
"use strict";

function setText(row, cls, text) {
  const cell = row.querySelector("." + cls);
  if (cell && cell.textContent !== text) cell.textContent = text;
}

async function refreshStatus() {
  const response = await fetch("/api/status", { credentials: "same-origin" });
  if (!response.ok) return;
  const processes = await response.json();
  for (const p of processes) {
    const row = document.querySelector(`tr[data-namespec="${CSS.escape(p.namespec)}"]`);
    if (!row) continue;
    const state = row.querySelector(".state");
    if (state && state.textContent !== p.state) {
      state.textContent = p.state;
      state.className = "state s-" + p.state;
    }
    setText(row, "desc", p.description);
    setText(row, "pid", p.pid ? String(p.pid) : "");
    setText(row, "uptime", p.uptime);
    setText(row, "cpu", p.cpu);
    setText(row, "rss", p.rss);
    setText(row, "restarts", String(p.restarts));
    const health = row.querySelector(".health");
    if (health && health.textContent !== (p.health || "")) {
      health.textContent = p.health || "";
      health.className = "health h-" + (p.health || "");
    }
    for (const button of row.querySelectorAll("button[name=action]")) {
      button.disabled = !p.actions.includes(button.value);
    }
    const badge = row.querySelector(".crashloop");
    if (badge) badge.hidden = !p.crashloop;
  }
}

async function followLog(pre) {
  let offset = 0;
  const stream = pre.dataset.stream;
  const url = (at) =>
    `/api/tail/${encodeURIComponent(pre.dataset.namespec)}?stream=${stream}&offset=${at}`;
  for (;;) {
    try {
      const response = await fetch(url(offset), { credentials: "same-origin" });
      if (response.ok) {
        const tail = await response.json();
        if (tail.data) {
          const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.textContent = (pre.textContent + tail.data).slice(-200000);
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        }
        offset = tail.offset;
      }
    } catch (_) {
      // The daemon is restarting: try again.
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

if (document.querySelector("#fleet")) {
  setInterval(() => refreshStatus().catch(() => {}), 1000);
}
for (const pre of document.querySelectorAll("pre.follow")) {
  followLog(pre);
}
