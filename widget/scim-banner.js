/* scimwatch banner (widget/README.md): one compact bar, embedded by a <script>
 * tag or drawn by the browser extension. No dependencies. */
(() => {
  "use strict";
  const G = globalThis;
  if (G.ScimwatchBanner) return; // loaded twice: the first copy does the work
  const HOST_ID = "scimwatch-banner";
  const SEVERITIES = ["expired", "critical", "warning", "info"];
  // server/domain/palette.py (a test compares): fill, text, icon, line; light, then dark.
  const PALETTE = {
    expired: "c9372c fff fff c9372c c9372c fff fff e2483d",
    critical: "ffeceb 172b4d c9372c c9372c 42221f dee4ea f87168 f87168",
    warning: "fff7d6 172b4d a54800 a54800 332e1b dee4ea f5cd47 f5cd47",
    info: "e9f2ff 172b4d 0c66e4 0c66e4 1c2b41 dee4ea 579dff 579dff",
  };
  // The list: background, text, muted, border, link; light, then dark.
  const SURFACE = "fff 172b4d 44546f dcdfe4 0c66e4 22272b dee4ea 9fadbc 38414a 579dff";
  const vars = (names, values, at) => {
    const v = values.split(" ");
    return names.split(" ").map((n, i) => `--${n}:#${v[at + i]}`).join(";");
  };
  const theme = (dark, host) => `:host${host}{${vars("p t m b a", SURFACE, dark * 5)}}` +
    SEVERITIES.map((s) => `:host${host} .${s}{${vars("f c i l", PALETTE[s], dark * 4)}}`).join("");
  let sheet;
  const CSS = `
:host{all:initial!important;display:block!important;visibility:visible!important;opacity:1!important;position:relative!important;z-index:2147483000!important}
:host([data-position=bottom]){position:sticky!important;bottom:0}
section{font:14px/20px var(--scimwatch-font,system-ui,sans-serif);color:var(--t);overflow-wrap:anywhere}
.bar{display:flex;flex-wrap:wrap;align-items:center;gap:4px 12px;padding:8px 16px;background:var(--f);color:var(--c);box-shadow:inset 0 -2px var(--l)}
.error{--f:var(--p);--c:var(--t);--i:var(--m);--l:var(--m)}
.i{flex:none;width:18px;height:18px;border-radius:50%;background:var(--i);color:var(--f);font:700 12px/18px sans-serif;text-align:center}
.expired>.i{border-radius:0;clip-path:polygon(30% 0,70% 0,100% 30%,100% 70%,70% 100%,30% 100%,0 70%,0 30%)}
.warning>.i{border-radius:0;clip-path:polygon(50% 0,100% 100%,0 100%);line-height:23px;font-size:10px}
.bar p{flex:1 1 240px;margin:0;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
b{margin-right:8px;font-size:12px;line-height:1;text-transform:uppercase;letter-spacing:.04em}
button{height:32px;padding:0 12px;border:1px solid;border-radius:4px;background:none;color:inherit;font:inherit;font-weight:600;cursor:pointer}
.x{width:32px;padding:0;border:0;font-size:22px}
button:hover,[aria-expanded=true]{background:#8883}
:focus-visible{outline:2px solid;outline-offset:1px}
ul{margin:0;padding:0 16px 4px;list-style:none;background:var(--p);max-height:70vh;overflow:auto;box-shadow:inset 0 -1px var(--b)}
:host([data-position=bottom]) ul{max-height:50vh}
ul>li{margin:12px 0;padding:0 12px;border-left:4px solid var(--l)}
h2{margin:0;font-size:15px}
h2 b{padding:1px 6px;border-radius:3px;background:var(--f);color:var(--c);box-shadow:inset 0 0 0 1px var(--l)}
li p,ol{margin:4px 0}
.m{color:var(--m)}
summary{cursor:pointer;font-weight:600}
a{display:inline-block;margin-right:16px;color:var(--a);font-weight:600}
@media(max-width:600px){button{height:28px}}
${theme(0, "")}:host([data-theme=dark]){color-scheme:dark}${theme(1, "([data-theme=dark])")}
@media(prefers-color-scheme:dark){${theme(1, "(:not([data-theme=light]))")}}`;

  const text = (v) => (v == null ? "" : String(v));
  const sev = (s) => (SEVERITIES.includes(s) ? s : "info");
  const label = (s) => s[0].toUpperCase() + s.slice(1);
  const name = (b) => text(b.directory_name || b.label || b.directory_id || b.title);
  let alerted = false; // one role="alert" per page load at most
  let doc; // the one being drawn into

  const safeUrl = (v) => {
    try {
      const u = new URL(text(v));
      return /^https?:$/.test(u.protocol) ? u.href : "";
    } catch (e) {
      return "";
    }
  };

  const el = (tag, cls, content, attributes) => {
    const e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (content) e.textContent = content;
    for (const k in attributes) e.setAttribute(k, attributes[k]);
    return e;
  };

  /** Dismissed summary ids in localStorage, and in memory for when that throws. */
  const localDismissals = () => {
    const memory = new Set();
    const stored = () => {
      try {
        return [].concat(JSON.parse(G.localStorage.getItem(HOST_ID)) || []);
      } catch (e) {
        return [];
      }
    };
    return {
      has: (id) => memory.has(id) || stored().includes(id),
      add: (id) => {
        memory.add(id);
        try {
          G.localStorage.setItem(HOST_ID, JSON.stringify(stored().concat(id).slice(-50)));
        } catch (e) { /* private mode or quota */ }
      },
    };
  };

  /** Builds one key of the list; server strings go in as text only. */
  const item = (b, here) => {
    const s = sev(b.severity);
    const li = el("li", s);
    li.appendChild(el("h2")).append(el("b", "", label(s)), text(b.title));
    const local = new Date(b.expires_at);
    const when = isNaN(local) ? "" : local.toLocaleString([], {
      weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
    li.append(
      el("p", "m", (s === "expired" ? "Expired: " : "Deadline: ") + text(b.expires_text) + (when && ` (${when} your time)`)),
      el("p", "", text(b.message)));
    if (Array.isArray(b.steps) && b.steps.length) {
      const details = li.appendChild(el("details", "", "", { "data-id": text(b.id) }));
      details.append(el("summary", "", `How to rotate the key (${b.steps.length} steps)`));
      const list = details.appendChild(el("ol"));
      b.steps.forEach((step) => list.append(el("li", "", text(step))));
    }
    const links = el("p");
    [[b.action_url, `Open ${b.page_url ? name(b) : text(b.org_name || b.org_id)} in Atlassian Administration`],
      [b.docs_url, "Atlassian's instructions"], [b.rotate_url, "I've rotated it"]].forEach(([url, words]) => {
      const href = safeUrl(url);
      // Never to the page the reader is on.
      if (!href || href.split("#")[0] === text(here).split("#")[0]) return;
      const a = links.appendChild(el("a", "", words, { href }));
      if (a.origin !== G.location.origin) Object.assign(a, { target: "_blank", rel: "noopener noreferrer" });
    });
    if (links.firstChild) li.append(links);
    return li;
  };

  /** Builds the bar: icon, label, one sentence. */
  const bar = (cls, icon, words, sentence, severe) => {
    const box = el("div", "bar " + cls);
    box.append(el("span", "i", icon, { "aria-hidden": "true" }),
      el("p", "", "", { role: severe && !alerted ? "alert" : "status" }));
    box.lastChild.append(el("b", "", words), sentence);
    alerted = alerted || severe;
    return box;
  };

  /** Draws into the one #scimwatch-banner host unless it shows this already. */
  const draw = (o, seen, build) => {
    doc = o.document || G.document;
    const host = doc.getElementById(HOST_ID) || el("div", "", "", { id: HOST_ID });
    const bottom = o.position === "bottom";
    host.dataset.position = bottom ? "bottom" : "top";
    host.dataset.theme = /^(light|dark)$/.test(o.theme) ? o.theme : "auto";
    if (doc.body[bottom ? "lastChild" : "firstChild"] !== host) doc.body[bottom ? "append" : "prepend"](host);
    // Not rebuilt, so screen readers do not announce it again.
    if (host.scimwatch === seen) return host;
    host.scimwatch = seen;
    const root = host.shadowRoot || host.attachShadow({ mode: "open" });
    root.replaceChildren(build(root));
    // A constructed stylesheet is not inline style, so a page whose CSP forbids 'unsafe-inline' still
    // draws the bar; where one cannot be adopted (an old browser, some content scripts), a <style>.
    try {
      sheet = sheet || new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.prepend(el("style", "", CSS));
    }
    return host;
  };

  const clear = (d) => {
    try {
      (d || G.document).getElementById(HOST_ID).remove();
    } catch (e) { /* nothing to clear */ }
  };

  /** Renders a banner payload as one bar; returns the host, or null. */
  const render = (payload, options) => {
    try {
      const o = options || {};
      const summary = payload && payload.summary;
      const banners = (payload && Array.isArray(payload.banners) ? payload.banners : []).filter(
        (b) => b && typeof b === "object");
      const s = sev(summary && summary.severity);
      // Nothing critical or expired may be hidden; a dismissal ends when the summary changes.
      const dismissible = s === "warning" || s === "info";
      const dismissals = o.dismissals || localDismissals();
      if (typeof summary !== "object" || !summary || !banners.length || (dismissible && dismissals.has(text(summary.id)))) {
        return clear(o.document), null;
      }
      return draw(o, JSON.stringify([summary, banners, o.here]), (root) => {
        const open = [...root.querySelectorAll("details[open]")].map((d) => d.dataset.id);
        const section = el("section", "", "", { "aria-label": "scimwatch: " + text(summary.title) });
        const box = section.appendChild(bar(s, s === "info" ? "i" : "!", label(s), text(summary.text), !dismissible));
        const list = section.appendChild(el("ul", "", "", { id: "scimwatch-keys" }));
        banners.forEach((b) => list.append(item(b, o.here)));
        list.querySelectorAll("details").forEach((d) => { d.open = open.includes(d.dataset.id); });
        const review = box.appendChild(el("button", "", `Review ${banners.length} key${banners.length === 1 ? "" : "s"}`,
          { type: "button", "aria-controls": list.id }));
        const show = (on) => {
          review.setAttribute("aria-expanded", on);
          list.hidden = !on;
        };
        show(!!root.querySelector("[aria-expanded=true]"));
        review.onclick = () => show(list.hidden);
        if (dismissible) {
          const d = doc;
          box.appendChild(el("button", "x", "\u00d7", { type: "button",
            "aria-label": `Dismiss until something changes: ${text(summary.title)} (${banners.map(name).join(", ")})` }))
            .onclick = () => {
              dismissals.add(text(summary.id));
              clear(d);
            };
        }
        return section;
      });
    } catch (e) {
      console.warn("scimwatch: could not render the banner:", e);
      return null;
    }
  };

  /** Renders a bar saying why the warnings could not load. */
  const renderError = (cause, options) => draw(options || {}, "!" + cause, () => {
    const section = el("section", "", "", { "aria-label": "scimwatch" });
    section.append(bar("error", "?", "scimwatch", `SCIM key warnings could not load: ${text(cause)}.`));
    return section;
  });

  G.ScimwatchBanner = Object.freeze({ render, renderError, clear });

  // Embedded by a <script> tag: fetch, render, refresh. A content script has no currentScript.
  const script = G.document && G.document.currentScript;
  if (!script) return;
  const data = script.dataset;
  const options = { position: data.position, theme: data.theme };
  let last = "";
  /** Warns once per problem; shows it only when asked to. */
  const fail = (cause) => {
    if (cause !== last) console.warn("scimwatch: " + cause);
    last = cause;
    if (data.showErrors === "true") renderError(cause, options);
    else clear();
  };
  const load = async () => {
    try {
      const server = (data.server || new URL(script.src).origin).replace(/\/+$/, "");
      const query = new URLSearchParams({ min_severity: SEVERITIES.includes(data.minSeverity) ? data.minSeverity : "warning" });
      if (data.org) query.set("org_id", data.org);
      const response = await fetch(server + "/api/v1/banners?" + query, {
        headers: data.token ? { Authorization: "Bearer " + data.token } : {},
        credentials: "omit",
      }).catch(() => fetch(server + "/healthz", { mode: "no-cors", credentials: "omit" }).then(
        // A refused origin fails like a stopped server; an opaque answer means it is up.
        () => ({ cause: "the server does not allow this page's origin (SCIMWATCH_BANNER_ORIGINS)" }),
        () => ({ cause: "cannot reach " + server })));
      if (response.cause) return fail(response.cause);
      if (response.status === 401 || response.status === 403) {
        return fail(`the server refused the token (HTTP ${response.status})`);
      }
      const payload = response.ok && (await response.json().catch(() => 0));
      if (!payload || !Array.isArray(payload.banners)) return fail(`unexpected answer from the server (HTTP ${response.status})`);
      last = "";
      render(payload, { ...options, here: G.location.href });
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
