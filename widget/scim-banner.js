/* scimwatch banner (widget/README.md): a <script> tag embed, or the renderer
 * the browser extension's content script calls. No dependencies. */
(() => {
  "use strict";
  const G = globalThis;
  if (G.ScimwatchBanner) return; // loaded twice: the first copy does the work
  const HOST_ID = "scimwatch-banner";
  const LABELS = { expired: "Expired", critical: "Critical", warning: "Warning", info: "Info" };
  const CSS = `
:host{all:initial!important;display:block!important;visibility:visible!important;opacity:1!important;position:relative!important;z-index:2147483000!important}
:host([data-position=bottom]){position:sticky!important;bottom:0}
:host([data-position=bottom]) .k{max-height:50vh;overflow:auto}
.k{display:grid;gap:4px;padding:4px;font:14px/1.45 var(--scimwatch-font,system-ui,sans-serif);color:var(--scimwatch-text,#172b4d);overflow-wrap:anywhere}
section{padding:8px 12px;border-radius:var(--scimwatch-radius,6px);border-left:6px solid var(--a);background:var(--g)}
.info{--a:var(--scimwatch-info,#0055cc);--g:var(--scimwatch-info-bg,#e9f2ff)}
.warning{--a:var(--scimwatch-warning,#a54800);--g:var(--scimwatch-warning-bg,#fff7d6)}
.critical{--a:var(--scimwatch-critical,#c9372c);--g:var(--scimwatch-critical-bg,#ffeceb)}
.expired{--a:var(--scimwatch-expired,#5d1f1a);--g:var(--scimwatch-expired-bg,#ffd5d2)}
div{display:flex;align-items:flex-start;gap:8px}
b{padding:0 6px;border-radius:3px;background:var(--a);color:var(--scimwatch-label-text,#fff);font-size:12px;line-height:20px;text-transform:uppercase}
h2{flex:1;margin:0;font-size:15px}
button{margin:-4px -6px 0 0;width:32px;height:32px;border:0;border-radius:4px;background:none;color:inherit;font-size:24px;line-height:1;cursor:pointer}
button:hover{background:#0001}
:focus-visible{outline:2px solid var(--a)}
p,ol{margin:4px 0}
summary{cursor:pointer;font-weight:600}
a{display:inline-block;color:var(--a);font-weight:600;margin-right:16px}`;

  const text = (v) => (v == null ? "" : String(v));
  const canDismiss = (b) => b.dismissible !== false && b.severity !== "expired";

  /** Returns the href of an http(s) URL, else "". */
  const safeUrl = (v) => {
    try {
      const u = new URL(text(v));
      return /^https?:$/.test(u.protocol) ? u.href : "";
    } catch (e) {
      return "";
    }
  };

  /** Creates an element with a class and text content. */
  const el = (doc, tag, cls, content) => {
    const e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (content) e.textContent = content;
    return e;
  };

  /** Dismissed banner ids in localStorage, kept in memory when that throws. */
  const localDismissals = () => {
    const memory = [];
    const read = () => {
      try {
        const ids = JSON.parse(G.localStorage.getItem("scimwatch:dismissed"));
        return Array.isArray(ids) ? ids : [];
      } catch (e) {
        return [];
      }
    };
    return {
      has: (id) => memory.includes(id) || read().includes(id),
      add: (id) => {
        memory.push(id);
        try {
          G.localStorage.setItem("scimwatch:dismissed", JSON.stringify(read().concat(id).slice(-200)));
        } catch (e) { /* private mode or quota: memory keeps it for this page */ }
      },
    };
  };

  /** Builds one banner; every server string goes in as text. */
  const buildBanner = (doc, b, onDismiss) => {
    const severity = LABELS[b.severity] ? b.severity : "info";
    const box = el(doc, "section", severity);
    box.setAttribute("role", severity === "critical" || severity === "expired" ? "alert" : "status");
    const head = box.appendChild(el(doc, "div"));
    head.append(el(doc, "b", "", LABELS[severity]), el(doc, "h2", "", text(b.title)));
    if (canDismiss(b)) {
      const x = head.appendChild(el(doc, "button", "", "\u00d7"));
      x.type = "button";
      x.setAttribute("aria-label", "Dismiss: " + text(b.title));
      x.onclick = () => onDismiss(text(b.id));
    }
    const local = new Date(b.expires_at);
    [
      text(b.message),
      text(b.label),
      [
        severity !== "expired" && typeof b.days_left === "number" && b.days_left + (b.days_left === 1 ? " day left" : " days left"),
        b.expires_at && (severity === "expired" ? "Expired " : "Expires ") +
          text(b.expires_at).replace("T", " ").replace("Z", " UTC") +
          (isNaN(local) ? "" : " (" + local.toLocaleString() + " your time)"),
      ].filter(Boolean).join(" \u00b7 "),
    ].forEach((line) => line && box.append(el(doc, "p", "", line)));
    if (Array.isArray(b.steps) && b.steps.length) {
      const details = box.appendChild(el(doc, "details"));
      details.dataset.id = text(b.id);
      details.append(el(doc, "summary", "", "How to rotate the key"));
      const list = details.appendChild(el(doc, "ol"));
      b.steps.forEach((s) => list.append(el(doc, "li", "", text(s))));
    }
    const links = el(doc, "p");
    [[b.docs_url, "Atlassian docs"], [b.action_url, "Open in admin.atlassian.com"]].forEach(([url, label]) => {
      const a = el(doc, "a", "", label);
      a.href = safeUrl(url);
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      if (a.getAttribute("href")) links.append(a);
    });
    if (links.firstChild) box.append(links);
    return box;
  };

  /** Removes the banner host from the document. */
  const clear = (doc) => {
    try {
      const host = (doc || G.document).getElementById(HOST_ID);
      if (host) host.remove();
    } catch (e) { /* nothing to clear */ }
  };

  /** Renders banners into #scimwatch-banner; returns the host, or null when none shows. */
  const render = (banners, options) => {
    try {
      const o = options || {};
      const doc = o.document || G.document;
      const position = o.position === "bottom" ? "bottom" : "top";
      const dismissals = o.dismissals || localDismissals();
      const shown = (Array.isArray(banners) ? banners : []).filter(
        (b) => b && typeof b === "object" && !(canDismiss(b) && dismissals.has(text(b.id))));
      if (!shown.length) return clear(doc), null;
      const host = doc.getElementById(HOST_ID) || el(doc, "div");
      host.id = HOST_ID;
      host.dataset.position = position;
      if (doc.body[position === "top" ? "firstChild" : "lastChild"] !== host) {
        doc.body[position === "top" ? "prepend" : "append"](host);
      }
      const root = host.shadowRoot || host.attachShadow({ mode: "open" });
      const open = [...root.querySelectorAll("details[open]")].map((d) => d.dataset.id);
      const stack = el(doc, "div", "k");
      const onDismiss = (id) => {
        dismissals.add(id);
        const next = render(banners, { document: doc, position, dismissals });
        next?.shadowRoot.querySelector("button,a")?.focus();
      };
      shown.forEach((b) => stack.append(buildBanner(doc, b, onDismiss)));
      stack.querySelectorAll("details").forEach((d) => { d.open = open.includes(d.dataset.id); });
      root.replaceChildren(el(doc, "style", "", CSS), stack);
      return host;
    } catch (e) {
      console.warn("scimwatch: could not render banners:", e);
      return null;
    }
  };

  /** Returns the payload's banners of one org, or all of them when orgId is empty. */
  const forOrg = (payload, orgId) =>
    (payload && Array.isArray(payload.banners) ? payload.banners : []).filter((b) => b && (!orgId || b.org_id === orgId));

  G.ScimwatchBanner = Object.freeze({ render, clear, forOrg });

  // Embedded by a <script> tag: fetch, render, refresh. A content script has no currentScript.
  const script = G.document && G.document.currentScript;
  if (!script) return;
  const data = script.dataset;
  let last = "";
  /** Hides the banner and warns once per distinct problem, not on every refresh. */
  const fail = (problem) => {
    clear();
    if (problem !== last) console.warn("scimwatch: " + problem);
    last = problem;
  };
  const load = async () => {
    try {
      const server = (data.server || new URL(script.src).origin).replace(/\/+$/, "");
      const response = await fetch(server + "/api/v1/banners" + (data.org ? "?org_id=" + encodeURIComponent(data.org) : ""), {
        headers: data.token ? { Authorization: "Bearer " + data.token } : {},
        credentials: "omit",
      });
      if (!response.ok) return fail("banner request failed with HTTP " + response.status);
      const payload = await response.json();
      if (!Array.isArray(payload && payload.banners)) return fail("unexpected banner payload");
      const banners = forOrg(payload, data.org);
      if (!banners.length) return fail("no banners to show");
      const seen = JSON.stringify(banners);
      // Unchanged banners are not rebuilt, so screen readers do not re-announce them.
      if (seen !== last || !G.document.getElementById(HOST_ID)) render(banners, { position: data.position });
      last = seen;
    } catch (e) {
      fail("could not load banners: " + e);
    }
  };
  const start = () => {
    load();
    setInterval(load, Math.max(30, Number(data.refresh) || 300) * 1000);
  };
  if (G.document.readyState === "loading") G.document.addEventListener("DOMContentLoaded", start);
  else start();
})();
