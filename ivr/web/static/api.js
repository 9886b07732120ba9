// Calls to the hotline's JSON API from any page: the session cookie goes along by itself,
// the CSRF token (from <meta name="csrf-token"> in base.html) goes in the X-CSRF-Token header.
"use strict";
(function () {
  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || t("The server answered %(status)s.", {status: status}));
      this.status = status;
      this.body = body || {};
    }
  }

  // api("POST", "/api/flows/validate", {text: "..."}) -> parsed JSON; throws ApiError.
  async function api(method, path, body) {
    const init = {method: method, headers: {"Accept": "application/json"},
                  credentials: "same-origin"};
    if (method !== "GET" && method !== "HEAD") {
      init.headers["X-CSRF-Token"] = csrf();
    }
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.indexOf("application/json") === 0) {
      data = await response.json();
    }
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    }
    if (!response.ok) {
      throw new ApiError(response.status, data);
    }
    return data;
  }

  // el("td", {class: "x"}, "text", child...) - text is always set with textContent.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // t("English message") -> the message in the user's language, from the page's JSON block
  // (base.html, ivr.web.i18n); t("%(n)s calls", {n: 3}) fills in values.
  const messages = (function () {
    const block = document.getElementById("i18n-messages");
    try {
      return block ? JSON.parse(block.textContent) : {};
    } catch (err) {
      return {};
    }
  })();
  function t(message, values) {
    const text = Object.prototype.hasOwnProperty.call(messages, message)
      ? messages[message] : message;
    if (!values) return text;
    return text.replace(/%\((\w+)\)s/g,
      (whole, key) => (key in values ? String(values[key]) : whole));
  }

  window.t = t;
  window.ivr = {api: api, csrf: csrf, el: el, ApiError: ApiError, t: t};
})();
