// Wallboard: polls /wallboard/data every 2 s; per-skill table and SVG charts (no library).
// All text goes in with textContent; the page's CSP allows no inline script or style.
"use strict";

(function () {
  const root = document.getElementById("wallboard");
  if (!root) return;
  const refreshMs = Number(root.dataset.refreshMs) || 2000;
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  function seconds(value) {
    if (value == null) return "–";
    const s = Math.round(value);
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  function percent(value) {
    return value == null ? "–" : value.toFixed(1) + " %";
  }

  function cell(tr, value, className) {
    const td = document.createElement("td");
    td.textContent = value;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function row(skill) {
    const tr = document.createElement("tr");
    tr.dataset.skill = skill.skill;
    const name = cell(tr, skill.name, "skill");
    name.title = skill.skill + (skill.department ? " - " + skill.department : "");
    cell(tr, String(skill.waiting), "waiting" + (skill.waiting > 0 ? " busy" : ""));
    cell(tr, skill.waiting ? seconds(skill.longest_wait_seconds) : "–", "longest");
    const level = cell(tr, percent(skill.service_level_percent), "level " +
      skill.service_level_colour);
    const target = document.createElement("small");
    target.textContent = " " + t("(%(percent)s %% in %(seconds)s s)",
      { percent: skill.target.percent, seconds: skill.target.seconds });
    level.appendChild(target);
    cell(tr, percent(skill.window.abandon_rate_percent), "abandon");
    cell(tr, seconds(skill.window.asa_seconds), "asa");
    const ops = skill.operators;
    cell(tr, String(ops.available), "available");
    cell(tr, String(ops.busy), "ops-busy");
    cell(tr, String(ops.wrap_up), "wrap-up");
    cell(tr, String(ops.paused), "paused");
    const st = skill.staffing;
    const staffing = cell(tr, st.needed + " / " + st.staffed, "staffing" +
      (st.shortfall > 0 ? " short" : ""));
    staffing.title = t("Erlang C: %(calls)s calls/h, AHT %(aht)s (%(source)s); expected " +
      "service level with %(staffed)s staffed: %(level)s", { calls: st.calls_per_hour,
      aht: seconds(st.aht_seconds), source: st.aht_source, staffed: st.staffed,
      level: percent(st.expected_service_level_percent) });
    const today = skill.today;
    cell(tr, today.offered + " / " + today.answered + " / " + today.abandoned, "today");
    cell(tr, seconds(today.idle_wait_seconds), "idle-wait" + (today.idle_wait_seconds > 0 ? " busy" : ""));
    return tr;
  }

  function totalRow(all) {
    const tr = document.createElement("tr");
    tr.className = "total";
    cell(tr, t("All skills"), "skill");
    cell(tr, String(all.waiting), "waiting");
    cell(tr, all.waiting ? seconds(all.longest_wait_seconds) : "–", "longest");
    cell(tr, percent(all.window.service_level_percent), "level");
    cell(tr, percent(all.window.abandon_rate_percent), "abandon");
    cell(tr, seconds(all.window.asa_seconds), "asa");
    const ops = cell(tr, "", "operators");
    ops.colSpan = 5;
    const today = all.today;
    cell(tr, today.offered + " / " + today.answered + " / " + today.abandoned, "today");
    cell(tr, seconds(today.idle_wait_seconds), "idle-wait");
    return tr;
  }

  function svg(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
    return el;
  }

  function timeLabel(epoch) {
    const d = new Date(epoch * 1000);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function chart(skill) {
    const bars = skill.history;
    const width = 360, height = 150, left = 28, right = 30, top = 18, bottom = 20;
    const plotW = width - left - right, plotH = height - top - bottom;
    const most = Math.max(1, ...bars.map((b) => b.offered));
    const box = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
      class: "chart", "data-skill": skill.skill });
    const title = svg("title");
    title.textContent = t("%(skill)s: calls per interval and service level",
      { skill: skill.name });
    box.appendChild(title);
    const heading = svg("text", { x: left, y: 12, class: "chart-title" });
    heading.textContent = skill.name;
    box.appendChild(heading);
    box.appendChild(svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH,
      class: "axis" }));
    const maxLabel = svg("text", { x: left - 4, y: top + 8, class: "tick", "text-anchor": "end" });
    maxLabel.textContent = String(most);
    box.appendChild(maxLabel);
    const pct = svg("text", { x: left + plotW + 4, y: top + 8, class: "tick" });
    pct.textContent = "100%";
    box.appendChild(pct);
    const slot = plotW / Math.max(1, bars.length);
    const barW = Math.max(1, slot / 3 - 0.5);
    const points = [];
    bars.forEach((bar, i) => {
      const x0 = left + i * slot;
      [["offered", bar.offered], ["answered", bar.answered], ["abandoned", bar.abandoned]]
        .forEach(([kind, value], k) => {
          if (!value) return;
          const h = plotH * value / most;
          const rect = svg("rect", { x: (x0 + k * (barW + 0.5)).toFixed(1),
            y: (top + plotH - h).toFixed(1), width: barW.toFixed(1), height: h.toFixed(1),
            class: "bar " + kind });
          const tip = svg("title");
          tip.textContent = timeLabel(bar.start) + " " + KINDS[kind] + ": " + value;
          rect.appendChild(tip);
          box.appendChild(rect);
        });
      if (bar.service_level_percent != null) {
        points.push((x0 + slot / 2).toFixed(1) + "," +
          (top + plotH - plotH * bar.service_level_percent / 100).toFixed(1));
      }
      if (i % Math.max(1, Math.round(bars.length / 4)) === 0) {
        const label = svg("text", { x: x0.toFixed(1), y: height - 5, class: "tick" });
        label.textContent = timeLabel(bar.start);
        box.appendChild(label);
      }
    });
    const targetY = top + plotH - plotH * skill.target.percent / 100;
    box.appendChild(svg("line", { x1: left, y1: targetY.toFixed(1), x2: left + plotW,
      y2: targetY.toFixed(1), class: "target" }));
    if (points.length > 0) {
      box.appendChild(svg("polyline", { points: points.join(" "), class: "level-line" }));
    }
    return box;
  }

  const FLAG_WORDS = { overdue: t("overdue"), respond_overdue: t("not responded in time"),
    nearly_due: t("nearly due") };
  const KINDS = { offered: t("offered"), answered: t("answered"), abandoned: t("abandoned") };

  function caseAlerts(alerts) {
    if (!alerts) return;
    $("cases-overdue").textContent = String(alerts.overdue);
    $("cases-respond-overdue").textContent = String(alerts.respond_overdue);
    $("cases-nearly-due").textContent = String(alerts.nearly_due);
    $("cases-escalated").textContent = String(alerts.escalated);
    $("flagged").tBodies[0].replaceChildren(...alerts.cases.map((c) => {
      const tr = document.createElement("tr");
      tr.className = "flag-" + c.word;
      tr.dataset.case = c.number;
      const link = document.createElement("a");
      link.href = "/cases/" + encodeURIComponent(c.number);
      link.textContent = c.number;
      cell(tr, "").appendChild(link);
      cell(tr, c.department_name || c.department);
      cell(tr, c.category);
      cell(tr, FLAG_WORDS[c.word] || c.word, "flag");
      cell(tr, c.word === "respond_overdue" ? c.respond_by : c.resolve_by);
      cell(tr, c.escalated ? t("escalated") : "");
      return tr;
    }));
  }

  function surges(list) {
    if (!list) return;
    $("surges").hidden = list.length === 0;
    $("surge-list").textContent = list.map((s) => s.place_name + " · " + s.category_name +
      " " + t("%(count)s cases (usually %(usual)s)", {count: s.count, usual: s.usual})).join("; ");
  }

  function render(data) {
    caseAlerts(data.cases);
    surges(data.surges);
    const body = $("board").tBodies[0];
    body.replaceChildren(...data.skills.map(row));
    $("board").tFoot.replaceChildren(totalRow(data.total));
    $("charts").replaceChildren(...data.skills.map(chart));
    $("interval-minutes").textContent = String(Math.round(data.interval_seconds / 60));
    $("updated").textContent = t("updated %(time)s",
      { time: new Date(data.at * 1000).toLocaleTimeString(document.documentElement.lang) });
    $("updated").dataset.at = String(data.at);
  }

  async function refresh() {
    try {
      const response = await fetch("/wallboard/data", { credentials: "same-origin",
        headers: { "Accept": "application/json" } });
      if (!response.ok) {
        $("wallboard-error").textContent = response.status === 401
          ? t("Your session ended: log in again.")
          : t("Figures unavailable (%(status)s).", { status: response.status });
        return;
      }
      render(await response.json());
      $("wallboard-error").textContent = "";
    } catch (err) {
      $("wallboard-error").textContent = t("The server cannot be reached.");
    } finally {
      setTimeout(refresh, refreshMs);
    }
  }

  refresh();
})();
