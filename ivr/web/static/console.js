// Operator console: state and buttons, screen pop over /console/ws, case form, transfer.
// Caller data is only ever written with textContent or form values, never as markup.
"use strict";

(function () {
  const root = document.getElementById("console");
  if (!root) return;
  const operatorId = root.dataset.operatorId;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const op = encodeURIComponent(operatorId);
  const urls = {
    state: "/console/state",
    socket: "/console/ws",
    transfer: "/console/transfer",
    consult: "/console/consult",
    consultComplete: "/console/consult/complete",
    consultReturn: "/console/consult/return",
    login: "/api/operators/" + op + "/login",
    logout: "/api/operators/" + op + "/logout",
    pause: "/api/operators/" + op + "/pause",
    unpause: "/api/operators/" + op + "/unpause",
    cases: "/api/cases",
    caseOf: (number) => "/api/cases/" + encodeURIComponent(number),
    suggestion: "/api/suggestion",
  };
  const STATE_LABELS = {
    logged_out: t("Logged out"),
    available: t("Available"),
    on_call: t("On a call"),
    wrap_up: t("Wrap-up"),
    paused: t("Paused"),
    unknown: t("Unknown (telephony link down)"),
  };
  const $ = (id) => document.getElementById(id);
  // Skill names in the user's language (the page's data block), the words of the pop.
  const names = JSON.parse(($("console-names") || {}).textContent || "{}");
  const nameOf = (id) => (names.skills && names.skills[id]) || id;
  const STATUS = names.statuses || {};
  const LANGUAGE_NAMES = { zh: t("Mandarin"), en: t("English"), ko: t("Korean") };
  const URGENCY = { normal: t("normal"), elderly: t("elderly caller"), emergency: t("emergency") };
  let shownCall = "";
  let savedCase = "";

  function text(id, value) {
    $(id).textContent = value == null ? "" : String(value);
  }

  async function send(method, url, body) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrf };
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      return { ok: false, status: 0, data: { message: t("The server cannot be reached.") } };
    }
    let data = {};
    try {
      data = await response.json();
    } catch (err) {
      data = {};
    }
    if (!response.ok && !data.message) {
      data.message = response.status === 401 ? t("Your session ended: log in again.")
        : t("The server answered %(status)s.", { status: response.status });
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function errorOf(result) {
    const data = result.data || {};
    if (typeof data.message === "string") return data.message;
    if (typeof data.error === "string") return data.error;
    return t("Failed (%(status)s).", { status: result.status });
  }

  // -- state -------------------------------------------------------------------------------

  function showState(state) {
    const el = $("state");
    el.dataset.state = state.state;
    el.textContent = STATE_LABELS[state.state] || state.state;
    // A pause reason by its label in the pause menu (the user's language).
    const option = Array.from($("pause-reason").options).find((o) => o.value === state.reason);
    const reason = option ? option.textContent : state.reason;
    text("state-reason", reason ? "(" + reason + ")" : "");
    const loggedIn = state.state !== "logged_out";
    $("login").disabled = loggedIn;
    $("logout").disabled = !loggedIn;
    $("pause").disabled = !loggedIn || state.state === "paused";
    $("unpause").disabled = !(state.state === "paused" || state.state === "wrap_up");
    if (state.pop && state.pop.call_id !== shownCall) showPop(state.pop);
    // The pop stays on screen for the case; only say the call is over.
    $("pop-ended").hidden = !(shownCall && !state.pop);
  }

  async function refreshState(fresh) {
    const result = await send("GET", urls.state + (fresh ? "?fresh=1" : ""));
    if (result.ok) {
      showState(result.data);
    } else {
      text("status-error", errorOf(result));
    }
  }

  async function act(url, body) {
    text("status-error", "");
    const result = await send("POST", url, body);
    if (!result.ok) text("status-error", errorOf(result));
    await refreshState(true);
  }

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const skills = Array.from(document.querySelectorAll('#login-form input[name="skill"]:checked'))
      .map((box) => box.value);
    if (skills.length === 0) {
      text("status-error", t("Choose at least one skill."));
      return;
    }
    act(urls.login, { skills: skills });
  });
  $("logout").addEventListener("click", () => act(urls.logout, {}));
  $("pause-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(urls.pause, { reason: $("pause-reason").value });
  });
  $("unpause").addEventListener("click", () => act(urls.unpause, {}));

  // -- screen pop --------------------------------------------------------------------------

  function showPop(pop) {
    shownCall = pop.call_id;
    $("pop-ended").hidden = true;
    $("pop").dataset.callId = pop.call_id;
    $("pop-empty").hidden = true;
    $("pop-details").hidden = false;
    text("pop-caller", pop.caller);
    text("pop-caller-name", pop.caller_name);
    text("pop-language", LANGUAGE_NAMES[pop.language] || pop.language);
    text("pop-queue", Array.from(new Set([pop.queue, pop.skill].filter(Boolean)))
      .map(nameOf).join(" / "));
    text("pop-category", pop.category && pop.intent
      ? t("%(category)s (intent: %(intent)s)", { category: nameOf(pop.category),
        intent: pop.intent })
      : nameOf(pop.category || pop.intent || ""));
    text("pop-urgency", URGENCY[pop.urgency] || pop.urgency);
    $("pop-urgency").className = pop.urgency && pop.urgency !== "normal" ? "urgent" : "";
    text("pop-transcript", pop.transcript || t("(keys only)"));
    text("pop-words", pop.speech_words || "-");
    const band = {accept: t("sure: routed by speech"),
                  confirm: t("not sure: caller asked to confirm"),
                  reject: t("not understood: caller used keys")}[pop.speech_band] || "-";
    const answered = {yes: t("caller confirmed"), no: t("caller said no: keys"),
                      no_answer: t("caller did not answer: keys")}[pop.speech_confirmed];
    text("pop-speech", answered ? `${band}; ${answered}` : band);
    listLines("pop-reasons", pop.route_reasons);
    // What app_queue did until this phone rang: who was skipped and why, who was rung first.
    listLines("pop-queue-outcome", pop.queue_outcome);
    const body = $("pop-cases").tBodies[0];
    body.replaceChildren();
    const cases = pop.previous_cases || [];
    for (const c of cases) {
      const tr = document.createElement("tr");
      for (const key of ["number", "category", "status", "created_at"]) {
        const td = document.createElement("td");
        const value = c[key] || "";
        td.textContent = key === "category" ? nameOf(value)
          : key === "status" ? (STATUS[value] || value) : value;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    $("pop-no-cases").hidden = cases.length > 0;
    // The same call is popped again when answered and on every reconnect: keep what the
    // operator has typed (and the case saved) for it.
    if ($("case-call-id").value !== pop.call_id) fillCase(pop);
  }

  function listLines(id, lines) {
    const list = $(id);
    list.replaceChildren();
    for (const line of lines || []) {
      const li = document.createElement("li");
      li.textContent = line;
      list.appendChild(li);
    }
  }

  function fillCase(pop) {
    $("case-call-id").value = pop.call_id;
    $("case-caller").value = pop.caller || "";
    $("case-category").value = pop.category || pop.skill || "";
    $("case-description").value = pop.transcript || "";
    departmentByHand = false;
    suggest();
    savedCase = "";
    text("case-number", "");
    text("case-error", "");
    $("case-save").disabled = false;
    $("case-dispatch").disabled = true;
  }

  // -- suggested department (智能派单): the server's rule, from category and words ----------

  let departmentByHand = false;  // the operator chose a department: keep their choice
  let suggestTimer = null;
  let suggestSeq = 0;

  async function suggest() {
    const seq = ++suggestSeq;
    const result = await send("POST", urls.suggestion, {
      category: $("case-category").value.trim(),
      text: $("case-description").value,
    });
    if (seq !== suggestSeq || !result.ok) return;  // a newer question is under way
    const found = result.data;
    const box = $("case-suggestion");
    if (!found.department) {
      text("case-suggestion-name", "");
      text("case-suggestion-reasons", t("No suggestion: choose the department"));
      box.dataset.department = "";
      return;
    }
    box.dataset.department = found.department;
    text("case-suggestion-name", found.name);
    text("case-suggestion-reasons", found.reasons.map((r) => r.text).join("; "));
    if (!departmentByHand) $("case-department").value = found.department;
  }

  function suggestSoon() {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, 400);
  }

  $("case-category").addEventListener("input", suggestSoon);
  $("case-description").addEventListener("input", suggestSoon);
  $("case-department").addEventListener("change", () => { departmentByHand = true; });

  let socket = null;
  let retry = 1000;
  let pinger = null;

  function setLink(up) {
    const el = $("link");
    el.dataset.up = up ? "1" : "0";
    el.textContent = up ? t("● live") : t("○ reconnecting");
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + urls.socket);
    socket.addEventListener("open", () => {
      retry = 1000;
      setLink(true);
      pinger = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send("ping");
      }, 25000);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if ((message.type === "pop" || message.type === "hello") && message.pop) {
        showPop(message.pop);
      }
    });
    socket.addEventListener("close", (event) => {
      clearInterval(pinger);
      if (event.code === 4401) {  // the session ended: no more caller data until logged in
        $("link").dataset.up = "0";
        $("link").textContent = t("○ session ended - log in again");
        return;
      }
      setLink(false);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    });
  }

  // -- case --------------------------------------------------------------------------------

  $("case-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    text("case-error", "");
    const body = {
      caller: $("case-caller").value.trim(),
      category: $("case-category").value.trim(),
      description: $("case-description").value,
    };
    if ($("case-call-id").value) body.call_id = $("case-call-id").value;
    $("case-save").disabled = true;
    const result = await send("POST", urls.cases, body);
    if (!result.ok) {
      $("case-save").disabled = false;
      text("case-error", errorOf(result));
      return;
    }
    const created = result.data.case || result.data;
    savedCase = created.number;
    text("case-number", savedCase);
    $("case-dispatch").disabled = false;
  });

  $("dispatch-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!savedCase) return;
    text("case-error", "");
    const select = $("case-department");
    const department = select.value;
    const label = select.options[select.selectedIndex].text;
    const result = await send("POST", urls.caseOf(savedCase) + "/actions",
      { action: "dispatch", department: department });
    if (!result.ok) {
      text("case-error", errorOf(result));
      return;
    }
    text("case-number", t("%(case)s - dispatched to %(department)s",
      { case: savedCase, department: label }));
    $("case-dispatch").disabled = true;
  });

  // -- transfer ----------------------------------------------------------------------------

  $("transfer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    text("transfer-error", "");
    text("transfer-result", "");
    const target = $("transfer-target").value.trim();
    const result = await send("POST", urls.transfer, { target: target });
    if (result.ok) {
      text("transfer-result", t("Transferred to %(number)s", { number: target }));
    } else {
      text("transfer-error", errorOf(result));
    }
    refreshState(true);
  });

  // A warm transfer: consult the department (the citizen on hold), then complete or return.
  $("consult").addEventListener("click", async () => {
    text("transfer-error", "");
    text("transfer-result", "");
    const target = $("transfer-target").value.trim();
    const result = await send("POST", urls.consult, { target: target });
    if (result.ok) {
      text("transfer-result", t("Talking to %(number)s; the caller is on hold", { number: target }));
      $("consult-actions").hidden = false;
    } else {
      text("transfer-error", errorOf(result));
    }
  });

  for (const [id, url, done] of [
    ["consult-complete", urls.consultComplete,
      (number) => t("Transferred to %(number)s", { number: number })],
    ["consult-return", urls.consultReturn,
      (number) => t("Back with the caller (%(number)s was not transferred)", { number: number })],
  ]) {
    $(id).addEventListener("click", async () => {
      text("transfer-error", "");
      const result = await send("POST", url);
      if (result.ok) {
        text("transfer-result", done(result.data.target));
        $("consult-actions").hidden = true;
      } else {
        text("transfer-error", errorOf(result));
      }
      refreshState(true);
    });
  }

  connect();
  refreshState(false);
  setInterval(() => refreshState(false), 5000);
})();
