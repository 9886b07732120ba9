// Admin pages: flows, configuration, users, bulletins, audit. Everything goes through the
// JSON API (api.js adds the CSRF header); text from the server is set with textContent only.
"use strict";
(function () {
  const {api, el} = window.ivr;
  const $ = (selector) => document.querySelector(selector);
  const LANGUAGES = { zh: t("Mandarin"), en: t("English"), ko: t("Korean") };

  function say(message, kind) {
    const status = $("#status");
    if (!status) return;
    status.textContent = message;
    status.className = "status-line " + (kind || "");
  }

  function failed(error) {
    say(error.message || String(error), "error");
  }

  // Select line `line` (1-based) of a textarea and scroll it into view.
  function goToLine(textarea, line) {
    const lines = textarea.value.split("\n");
    let start = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) start += lines[i].length + 1;
    const end = start + (lines[line - 1] || "").length;
    textarea.focus();
    textarea.setSelectionRange(start, end);
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
    textarea.scrollTop = Math.max(0, (line - 5) * lineHeight);
    const where = document.getElementById("cursor-line");
    if (where) where.textContent = t("Line %(n)s", { n: line });
  }

  // The line numbers beside the editor; lines with problems are marked (title: why).
  function drawGutter(textarea, problems) {
    const gutter = document.getElementById("gutter");
    if (!gutter) return;
    const why = {};
    for (const p of problems || []) {
      if (p.kind === "scenario") continue;  // a line of the scenarios file, not of this text
      why[p.line] = (why[p.line] ? why[p.line] + "\n" : "") + p.message;
    }
    const count = textarea.value.split("\n").length;
    const lines = [];
    for (let n = 1; n <= count; n++) {
      lines.push(el("span", {class: why[n] ? "bad" : null, title: why[n] || null,
                             dataset: {line: String(n)}}, String(n)));
    }
    gutter.replaceChildren(...lines);
    gutter.scrollTop = textarea.scrollTop;
  }

  function showFlowProblems(list, textarea, problems) {
    textarea.ivrProblems = problems;
    drawGutter(textarea, problems);
    list.replaceChildren();
    for (const p of problems) {
      if (p.kind === "scenario") {
        // A scenario that failed: where it went wrong is its node, in this text.
        list.append(el("li", {class: "problem scenario", dataset: {node: p.node || ""}},
          el("span", {class: "line"}, (p.file || "scenarios").split("/").pop() + ":" + p.line),
          " ", p.message));
        continue;
      }
      const jump = el("button", {type: "button", class: "line"}, "line " + p.line);
      jump.addEventListener("click", () => goToLine(textarea, p.line));
      list.append(el("li", {class: "problem", dataset: {line: String(p.line)}},
        jump, (p.node ? p.node + ": " : ""), p.message));
    }
  }

  // -- flows ------------------------------------------------------------------------------

  function flowsPage() {
    const text = $("#flow-text");
    const problems = $("#problems");
    const diffOut = $("#diff-output");
    const simOut = $("#sim-output");
    let live = null;

    function cursorLine() {
      const line = text.value.slice(0, text.selectionStart).split("\n").length;
      $("#cursor-line").textContent = t("Line %(n)s", { n: line });
    }
    text.addEventListener("keyup", cursorLine);
    text.addEventListener("click", cursorLine);
    // The last check's problems stay on their lines while typing, until the next check.
    text.addEventListener("input", () => drawGutter(text, text.ivrProblems));
    text.addEventListener("scroll", () => {
      $("#gutter").scrollTop = text.scrollTop;
    });

    async function loadLive(replaceText) {
      live = await api("GET", "/api/flows/current");
      $("#live-info").textContent = t("Live: flow %(name)s version %(version)s (#%(id)s, %(digest)s)",
        { name: live.name, version: live.version, id: live.version_id, digest: live.digest });
      if (replaceText) {
        text.value = live.text;
        showFlowProblems(problems, text, []);
      }
    }

    async function loadVersions() {
      const versions = await api("GET", "/api/flows/versions");
      const body = $("#versions tbody");
      body.replaceChildren();
      for (const v of versions) {
        const action = v.live ? el("strong", {}, "live") : el("button", {
          type: "button", class: "rollback", dataset: {id: String(v.id)}}, "Roll back to this");
        if (!v.live) {
          action.addEventListener("click", () => rollback(v.id));
        }
        body.append(el("tr", {dataset: {id: String(v.id)}, class: v.live ? "live" : ""},
          el("td", {}, "#" + v.id), el("td", {}, v.version), el("td", {}, v.published_at),
          el("td", {}, v.published_by), el("td", {}, v.note), el("td", {}, action)));
      }
    }

    // The picture: SVG from the server (Graphviz, escaped labels), parsed as XML and
    // adopted, never assigned as HTML.
    async function drawGraph(path) {
      const box = $("#flow-graph");
      try {
        const result = await api("POST", "/api/flows/draw", {text: text.value, path: path || []});
        const doc = new DOMParser().parseFromString(result.svg, "image/svg+xml");
        const svg = document.adoptNode(doc.documentElement);
        for (const node of svg.querySelectorAll("g.flow-node")) {
          const id = node.id.replace(/^node-/, "");
          node.dataset.node = id;
          node.addEventListener("click", () => {
            if (result.lines[id]) goToLine(text, result.lines[id]);
            box.dataset.selected = id;
          });
        }
        box.replaceChildren(svg);
        box.dataset.drawn = String(Date.now());
      } catch (error) {
        box.replaceChildren(el("p", {class: "muted"}, "Cannot draw: " + error.message));
      }
    }

    async function validate() {
      diffOut.classList.add("hidden");
      const result = await api("POST", "/api/flows/validate", {text: text.value});
      showFlowProblems(problems, text, result.problems);
      drawGraph();
      if (result.valid) say(t("The flow is valid."), "ok");
      else say(t("%(n)s problem(s): nothing was published.", { n: result.problems.length }),
        "error");
      return result.valid;
    }

    async function publish() {
      try {
        const result = await api("POST", "/api/flows/publish",
          {text: text.value, note: $("#publish-note").value});
        showFlowProblems(problems, text, []);
        say(t("Published version %(version)s (#%(id)s); new calls use it now.",
          { version: result.version, id: result.version_id }), "ok");
        $("#publish-note").value = "";
        await loadLive(false);
        await loadVersions();
      } catch (error) {
        if (error.status === 422) {
          showFlowProblems(problems, text, error.body.problems || []);
          say(error.message, "error");
        } else {
          failed(error);
        }
      }
    }

    async function rollback(versionId) {
      if (!window.confirm(t("Publish version #%(id)s again for new calls?", { id: versionId }))) {
        return;
      }
      try {
        const result = await api("POST", "/api/flows/rollback", {version_id: versionId});
        say(t("Rolled back: version #%(to)s is live again (#%(id)s).",
          { to: result.rolled_back_to, id: result.version_id }), "ok");
        await loadLive(true);
        await loadVersions();
      } catch (error) {
        if (error.status === 422) showFlowProblems(problems, text, error.body.problems || []);
        failed(error);
      }
    }

    async function diff() {
      const result = await api("POST", "/api/flows/diff", {text: text.value});
      diffOut.textContent = result.changed ? result.diff : t("No change from the live flow.");
      diffOut.classList.remove("hidden");
    }

    async function simulate(event) {
      event.preventDefault();
      const body = {text: text.value, digits: $("#sim-digits").value,
                    language: $("#sim-language").value, caller: $("#sim-caller").value};
      if ($("#sim-say").value) body.say = $("#sim-say").value;
      if ($("#sim-at").value) body.at = $("#sim-at").value;
      try {
        const result = await api("POST", "/api/flows/simulate", body);
        simOut.textContent = result.transcript;
        simOut.classList.remove("hidden");
        await drawGraph(result.path);
      } catch (error) {
        if (error.status === 422) showFlowProblems(problems, text, error.body.problems || []);
        failed(error);
      }
    }

    $("#validate").addEventListener("click", () => validate().catch(failed));
    $("#publish").addEventListener("click", () => publish());
    $("#diff").addEventListener("click", () => diff().catch(failed));
    $("#revert").addEventListener("click", () => {
      text.value = live ? live.text : text.value;
      showFlowProblems(problems, text, []);
      say(t("Back to the live flow."));
    });
    $("#simulate-form").addEventListener("submit", simulate);
    Promise.all([loadLive(true), loadVersions()]).then(() => {
      document.body.dataset.ready = "1";
      return drawGraph();
    }).catch(failed);
  }

  // -- configuration ----------------------------------------------------------------------

  function configPage() {
    const text = $("#config-text");
    const list = $("#config-problems");
    const diffOut = $("#config-diff-output");
    let current = null;
    let loaded = "";

    function showProblems(problems) {
      list.replaceChildren();
      for (const p of problems || []) {
        list.append(el("li", {class: "problem"}, p.file + ": " + p.key + ": " + p.message));
      }
    }

    function showDiff(result, same) {
      diffOut.textContent = result.changed ? result.diff : same;
      diffOut.classList.remove("hidden");
    }

    async function open(name) {
      const result = await api("GET", "/api/config/" + name);
      current = name;
      loaded = result.text;
      text.value = result.text;
      $("#config-file").textContent = result.file;
      $("#config-live").textContent = result.version_id === null ? "" :
        t("live version #%(id)s", {id: result.version_id});
      showProblems([]);
      diffOut.classList.add("hidden");
      say("");
      for (const tab of document.querySelectorAll(".config-tab")) {
        tab.setAttribute("aria-selected", String(tab.dataset.name === name));
      }
      await loadVersions();
    }

    async function loadVersions() {
      const versions = await api("GET", "/api/config/" + current + "/versions");
      const body = $("#config-versions tbody");
      body.replaceChildren();
      for (const v of versions) {
        const actions = el("td", {});
        if (v.live) {
          actions.append(el("strong", {}, t("live")));
        } else {
          const show = el("button", {type: "button", class: "diff"}, t("Diff"));
          show.addEventListener("click", () => versionDiff(v.id).catch(failed));
          const back = el("button", {type: "button", class: "rollback"}, t("Roll back to this"));
          back.addEventListener("click", () => rollback(v.id));
          actions.append(show, " ", back);
        }
        body.append(el("tr", {dataset: {id: String(v.id)}, class: v.live ? "live" : ""},
          el("td", {}, "#" + v.id), el("td", {}, v.published_at), el("td", {}, v.published_by),
          el("td", {}, v.note), actions));
      }
    }

    async function save() {
      try {
        const result = await api("PUT", "/api/config/" + current,
          {text: text.value, note: $("#config-note").value});
        loaded = text.value;
        showProblems([]);
        diffOut.classList.add("hidden");
        $("#config-note").value = "";
        $("#config-live").textContent = t("live version #%(id)s", {id: result.version_id});
        say(t("Saved %(file)s as version #%(id)s; every node uses it for new calls and logins.",
          {file: result.file, id: result.version_id}), "ok");
        await loadVersions();
      } catch (error) {
        showProblems(error.body && error.body.problems);
        failed(error);
      }
    }

    async function versionDiff(versionId) {
      const result = await api("POST", "/api/config/" + current + "/diff",
        {version_id: versionId});
      showDiff(result, t("Same as the live version."));
    }

    async function rollback(versionId) {
      if (!window.confirm(t("Publish version #%(id)s again for new calls?", {id: versionId}))) return;
      try {
        const result = await api("POST", "/api/config/" + current + "/rollback",
          {version_id: versionId});
        await open(current);
        say(t("Rolled back: version #%(to)s is live again (#%(id)s).",
          {to: result.rolled_back_to, id: result.version_id}), "ok");
      } catch (error) {
        showProblems(error.body && error.body.problems);
        failed(error);
      }
    }

    for (const tab of document.querySelectorAll(".config-tab")) {
      tab.addEventListener("click", () => open(tab.dataset.name).catch(failed));
    }
    $("#config-save").addEventListener("click", save);
    $("#config-diff").addEventListener("click", async () => {
      try {
        const result = await api("POST", "/api/config/" + current + "/diff", {text: text.value});
        showDiff(result, t("No change from the live file."));
      } catch (error) {
        failed(error);
      }
    });
    $("#config-revert").addEventListener("click", () => {
      text.value = loaded;
      showProblems([]);
      diffOut.classList.add("hidden");
    });
    const first = document.querySelector(".config-tab");
    if (first) open(first.dataset.name).then(() => {
      document.body.dataset.ready = "1";
    }).catch(failed);
  }

  // -- users ------------------------------------------------------------------------------

  function usersPage() {
    const root = $("#admin-users");
    const roles = root.dataset.roles.split(",");
    const operators = root.dataset.operators ? root.dataset.operators.split(",") : [];
    const secret = $("#new-password");

    function showPassword(username, password) {
      secret.textContent = t("Password for %(user)s (shown once): ", { user: username }) +
        password;
      secret.classList.remove("hidden");
    }

    function select(options, value, blank) {
      const node = el("select", {});
      if (blank) node.append(el("option", {value: ""}, "(none)"));
      for (const option of options) {
        node.append(el("option", {value: option, selected: option === value}, option));
      }
      return node;
    }

    async function load() {
      const users = await api("GET", "/api/users");
      const body = $("#users tbody");
      body.replaceChildren();
      for (const u of users) {
        const role = select(roles, u.role, false);
        const operator = select(operators, u.operator_id || "", true);
        const disabled = el("input", {type: "checkbox", checked: u.disabled});
        const save = el("button", {type: "button"}, t("Save"));
        const reset = el("button", {type: "button"}, t("New password"));
        save.addEventListener("click", async () => {
          try {
            await api("PATCH", "/api/users/" + encodeURIComponent(u.username), {
              role: role.value, operator_id: operator.value || null,
              disabled: disabled.checked});
            say(t("Saved %(user)s.", { user: u.username }), "ok");
            await load();
          } catch (error) { failed(error); }
        });
        reset.addEventListener("click", async () => {
          try {
            const result = await api("PATCH", "/api/users/" + encodeURIComponent(u.username),
              {reset_password: true});
            showPassword(u.username, result.password);
          } catch (error) { failed(error); }
        });
        body.append(el("tr", {dataset: {username: u.username}},
          el("td", {}, u.username), el("td", {}, role), el("td", {}, operator),
          el("td", {}, disabled), el("td", {}, u.created_at), el("td", {}, save, " ", reset)));
      }
    }

    $("#new-user").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      try {
        const created = await api("POST", "/api/users", {
          username: form.username.value, role: form.role.value,
          operator_id: form.operator_id.value || null,
          department: form.department.value || null});
        showPassword(created.username, created.password);
        form.reset();
        await load();
      } catch (error) { failed(error); }
    });
    load().then(() => { document.body.dataset.ready = "1"; }).catch(failed);
  }

  // -- bulletins --------------------------------------------------------------------------

  function bulletinsPage() {
    async function load() {
      const bulletins = await api("GET", "/api/bulletins");
      const body = $("#bulletins tbody");
      body.replaceChildren();
      const now = new Date();
      for (const b of bulletins) {
        const texts = el("div", {});
        for (const [lang, value] of Object.entries(b.texts)) {
          texts.append(el("div", {}, el("strong", {}, (LANGUAGES[lang] || lang) + ": "), value));
        }
        let state = "active";
        if (b.withdrawn_at) state = "withdrawn";
        else if (new Date(b.expires_at) <= now) state = "expired";
        const STATES = { active: t("active"), withdrawn: t("withdrawn"), expired: t("expired") };
        let action = "";
        if (state === "active") {
          action = el("button", {type: "button", class: "danger"}, t("Withdraw"));
          action.addEventListener("click", async () => {
            try {
              await api("POST", "/api/bulletins/" + b.id + "/withdraw");
              say(t("Bulletin #%(id)s withdrawn.", { id: b.id }), "ok");
              await load();
            } catch (error) { failed(error); }
          });
        }
        body.append(el("tr", {dataset: {id: String(b.id)}},
          el("td", {}, "#" + b.id), el("td", {}, texts), el("td", {}, b.starts_at),
          el("td", {}, b.expires_at), el("td", {}, b.created_by),
          el("td", {class: "state", dataset: {state: state}}, STATES[state]),
          el("td", {}, action)));
      }
    }

    $("#new-bulletin").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const texts = {};
      for (const area of form.querySelectorAll("textarea[data-language]")) {
        if (area.value.trim()) texts[area.dataset.language] = area.value.trim();
      }
      try {
        const created = await api("POST", "/api/bulletins",
          {texts: texts, expires_at: form.expires_at.value});
        say(t("Bulletin #%(id)s posted.", { id: created.id }), "ok");
        form.reset();
        await load();
      } catch (error) { failed(error); }
    });
    load().then(() => { document.body.dataset.ready = "1"; }).catch(failed);
  }

  // -- audit ------------------------------------------------------------------------------

  function auditPage() {
    api("GET", "/api/audit").then((entries) => {
      const body = $("#audit tbody");
      for (const e of entries) {
        body.append(el("tr", {}, el("td", {}, e.at), el("td", {}, e.actor),
          el("td", {}, e.action), el("td", {}, e.target),
          el("td", {}, el("code", {}, JSON.stringify(e.detail)))));
      }
      document.body.dataset.ready = "1";
    }).catch(failed);
  }

  const pages = {"admin-flows": flowsPage, "admin-config": configPage,
                 "admin-users": usersPage, "admin-bulletins": bulletinsPage,
                 "admin-audit": auditPage};
  for (const [id, start] of Object.entries(pages)) {
    if (document.getElementById(id)) start();
  }
})();
