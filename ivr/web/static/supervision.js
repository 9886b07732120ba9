// Live supervision: polls /supervision/data every 2 s; per-operator rows with listen, whisper
// and barge-in buttons (POST /supervision/spy). All text goes in with textContent.
"use strict";

(function () {
  const root = document.getElementById("supervision");
  if (!root) return;
  const refreshMs = Number(root.dataset.refreshMs) || 2000;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const $ = (id) => document.getElementById(id);
  const STATE_LABELS = {
    logged_out: t("Logged out"),
    available: t("Available"),
    on_call: t("On a call"),
    wrap_up: t("Wrap-up"),
    paused: t("Paused"),
    unknown: t("Unknown (telephony link down)"),
  };
  const MODES = [
    ["listen", t("Listen")],
    ["whisper", t("Whisper")],
    ["barge", t("Barge in")],
  ];

  function seconds(value) {
    if (value == null) return "–";
    const s = Math.max(0, Math.round(value));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  function cell(tr, value, className) {
    const td = document.createElement("td");
    td.textContent = value;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  async function spy(operator, mode) {
    $("supervision-error").textContent = "";
    $("supervision-result").textContent = "";
    let response;
    try {
      response = await fetch("/supervision/spy", {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "Content-Type": "application/json",
                   "X-CSRF-Token": csrf },
        body: JSON.stringify({ operator: operator, mode: mode, phone: $("phone").value }),
      });
    } catch (err) {
      $("supervision-error").textContent = t("The server cannot be reached.");
      return;
    }
    let data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    if (response.ok) {
      $("supervision-result").textContent = t("Ringing %(phone)s: answer to join %(operator)s's call",
        { phone: data.ringing, operator: operator });
    } else {
      $("supervision-error").textContent = data.message ||
        t("Failed (%(status)s).", { status: response.status });
    }
  }

  function row(op, now) {
    const tr = document.createElement("tr");
    tr.dataset.operator = op.operator_id;
    cell(tr, op.name + " (" + op.operator_id + ")", "operator");
    const state = cell(tr, STATE_LABELS[op.state] || op.state, "state");
    state.dataset.state = op.state;
    if (op.reason) state.title = op.reason;
    cell(tr, op.since == null ? "–" : seconds(now - op.since), "since");
    cell(tr, op.caller || "–", "caller");
    cell(tr, String(op.calls_today), "calls-today");
    cell(tr, seconds(op.aht_seconds), "aht");
    const actions = cell(tr, "", "actions");
    for (const [mode, label] of MODES) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "spy-" + mode;
      button.textContent = label;
      button.disabled = !op.caller;
      button.addEventListener("click", () => spy(op.operator_id, mode));
      actions.appendChild(button);
    }
    return tr;
  }

  async function poll() {
    try {
      const response = await fetch("/supervision/data", { credentials: "same-origin",
        headers: { "Accept": "application/json" } });
      if (response.ok) {
        const data = await response.json();
        const body = $("operators").querySelector("tbody");
        body.replaceChildren(...data.operators.map((op) => row(op, data.at)));
        $("updated").textContent = t("updated %(time)s",
          { time: new Date(data.at * 1000).toLocaleTimeString() });
      }
    } catch (err) {
      $("updated").textContent = t("The server cannot be reached.");
    }
    setTimeout(poll, refreshMs);
  }

  poll();
})();
