/* scimwatch offers on an admin.atlassian.com directory page: reads what the page shows (page-reader.js),
 * asks the service worker what scimwatch has, and offers in one compact strip to track the key, record a new
 * expiry or correct an earlier one. Text from the page and the server goes in as textContent only. */
globalThis.ScimwatchOffers = (() => {
  "use strict";
  const K = globalThis.ScimwatchKeys;
  const reader = globalThis.ScimwatchPageReader;
  const HOST_ID = "scimwatch-offer";
  const READ_DELAY_MS = 400; // the app draws in bursts: read once it has settled
  const READ_WAIT_MS = 2000; // but a page that never settles (a clock, an animation) is still read this often
  const CSS = `
:host{all:initial!important;display:block!important;position:relative!important;z-index:2147483000!important;
--f:#e9f2ff;--c:#172b4d;--l:#0c66e4;--b:#0c66e4;--bt:#fff}
:host([data-theme=dark]){--f:#1c2b41;--c:#dee4ea;--l:#579dff;--b:#579dff;--bt:#1d2125}
@media(prefers-color-scheme:dark){:host(:not([data-theme=light])){--f:#1c2b41;--c:#dee4ea;--l:#579dff;--b:#579dff;--bt:#1d2125}}
div{display:flex;flex-wrap:wrap;align-items:center;gap:4px 12px;padding:8px 16px;background:var(--f);color:var(--c);
box-shadow:inset 0 -2px var(--l);font:14px/20px system-ui,sans-serif;overflow-wrap:anywhere}
p{flex:1 1 200px;margin:0}
b{margin-right:8px;font-size:12px;line-height:1;text-transform:uppercase;letter-spacing:.04em}
button{min-height:32px;padding:4px 12px;border:1px solid;border-radius:4px;background:none;color:inherit;font:inherit;
font-weight:600;line-height:18px;cursor:pointer}
.go{background:var(--b);border-color:var(--b);color:var(--bt)}
.x{width:32px;padding:0;border:0;font-size:22px}
button:hover{filter:brightness(1.1)}button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:2px solid;outline-offset:1px}
@media(max-width:600px){p{flex-basis:calc(100% - 44px)}button{min-height:28px;padding:3px 10px;order:2}.x{order:1}}`;

  let timer = null;
  let waitingSince = 0;
  let reading = "null"; // the last reading asked about, as JSON
  let seen = null;
  let shown = null; // {view, host}: kept when the app removes the host
  let dismissals = null;
  let sheet = null;

  /** Formats "2027-03-01" (or a full ISO time) as the browser writes a day: "Mar 1, 2027", "1 Mar 2027". */
  const day = (iso) => {
    const date = new Date(String(iso).slice(0, 10) + "T00:00:00Z");
    return isNaN(date) ? String(iso) : date.toLocaleDateString(navigator.language,
      { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  };

  const element = (tag, text, attributes) => {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  };

  /** What each state says: [label, sentence, action words, what the action does]. */
  const VIEWS = {
    created: (s) => ["Not tracked", "",
      `Track this key in scimwatch (expires ${day(s.expires_at)})`, () => draw("confirm")],
    confirm: (s) => ["Track", `Save “${s.directory_name}” to scimwatch, expiring ${day(s.expires_at)}?`, "Save",
      () => send()],
    rotated: (s, a) => ["New expiry", `The page shows ${day(s.expires_at)}; scimwatch has ${day(a.key.expires_at)}.`,
      "Record the new expiry", () => send()],
    corrected: (s, a) => ["Dates differ", `The page shows ${day(s.expires_at)}; scimwatch has ${day(a.key.expires_at)}.`,
      `Correct it to ${day(s.expires_at)}`, () => send()],
    needs_track: (s) => ["Read only", `Expires ${day(s.expires_at)}. Tracking it needs a scimwatch track token.`,
      "Open options", () => chrome.runtime.sendMessage({ type: K.openOptions }).catch(() => {})],
    recorded: (s, a) => ["Saved", {
      created: `Tracked: scimwatch will warn before ${day(s.expires_at)}.`,
      rotated: a.auto ? `Recorded the new expiry this page shows, ${day(s.expires_at)}` +
        (a.previous ? ` (was ${day(a.previous.expires_at)}).` : ".") :
        `Recorded the new expiry, ${day(s.expires_at)}: reminders start over.`,
      corrected: `Corrected: scimwatch now has ${day(s.expires_at)}.`,
      unchanged: `scimwatch already has ${day(s.expires_at)}.`,
    }[a.result] || "Saved."],
    failed: (s, a) => ["Not saved", `scimwatch could not save this: ${a.message}`, "Try again", () => send()],
  };

  /** The dismissal id of an offer: it stays hidden for this directory and date until something changes. */
  const dismissalId = (view) => `offer:${view}:${seen.org_id}:${seen.directory_id}:${seen.expires_at}`;

  const remove = () => {
    if (shown) shown.host.remove();
    shown = null;
  };

  /** Puts the host right under the bar, or first in the page when there is no bar. */
  const place = (host) => {
    const bar = document.getElementById("scimwatch-banner");
    if (bar && bar.parentNode === document.body) {
      if (bar.nextSibling !== host) bar.after(host);
    } else if (document.body.firstChild !== host) {
      document.body.prepend(host);
    }
  };

  /** Draws one state of the strip: a label, a sentence, its action and a way to close it. */
  const draw = (view, answer) => {
    const parts = VIEWS[view] && seen ? VIEWS[view](seen, answer || (shown && shown.answer) || {}) : null;
    if (!parts || (dismissals.has(dismissalId(view)) && view !== "recorded")) return remove();
    const host = (shown && shown.host) || element("div", "", { id: HOST_ID });
    const mode = document.documentElement.dataset.colorMode;
    host.dataset.theme = mode === "dark" || mode === "light" ? mode : "auto";
    host.dataset.state = view;
    const root = host.shadowRoot || host.attachShadow({ mode: "open" });
    const box = element("div", "", { role: "status", "aria-label": "scimwatch" });
    const [label, sentence, words, act] = parts;
    box.append(element("p"));
    box.firstChild.append(element("b", label), sentence);
    if (words) {
      const button = box.appendChild(element("button", words, { type: "button", class: "go" }));
      button.onclick = act;
    }
    if (view === "confirm") box.appendChild(element("button", "Cancel", { type: "button" })).onclick = () => draw("created");
    const close = box.appendChild(element("button", "\u00d7", { type: "button", class: "x",
      "aria-label": view === "recorded" ? "Close" : "Not now: hide this for this directory and date" }));
    close.onclick = () => {
      if (view !== "recorded") dismissals.add(dismissalId(view === "confirm" ? "created" : view));
      remove();
    };
    root.replaceChildren(box);
    // As the bar does: a constructed sheet, which a page's CSP does not block; a <style> where none can be adopted.
    try {
      sheet = sheet || new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.prepend(element("style", CSS));
    }
    place(host);
    shown = { view, host, answer: answer || (shown && shown.answer) };
  };

  /** Records what the page shows, after the admin said so (or the options allow it). */
  const send = () => {
    const button = shown && shown.host.shadowRoot.querySelector(".go");
    if (button) {
      button.disabled = true;
      button.textContent = "Saving\u2026";
    }
    const asked = reading;
    chrome.runtime.sendMessage({ type: K.record, seen, page: location.href }).then((answer) => {
      if (asked === reading && answer) draw(answer.state, answer);
    }).catch((e) => draw("failed", { message: e.message }));
  };

  /** Reads the page; asks the worker about a new reading; a page that shows no key takes the strip away. */
  const read = () => {
    timer = null;
    const now = reader.read(document, { language: navigator.language });
    const json = JSON.stringify(now);
    if (json === reading) return;
    reading = json;
    seen = now;
    if (!now) return remove();
    chrome.runtime.sendMessage({ type: K.observe, seen: now, page: location.href }).then((answer) => {
      if (json !== reading) return; // the page changed meanwhile
      if (!answer || !VIEWS[answer.state]) return remove();
      draw(answer.state, answer);
    }).catch(() => remove());
  };

  /** Reads the page again once it settles; puts the strip back when the app removed it. */
  const follow = (bar) => {
    dismissals = bar;
    if (shown && !shown.host.isConnected) place(shown.host);
    if (timer && Date.now() - waitingSince >= READ_WAIT_MS) return; // due now: let it fire
    if (!timer) waitingSince = Date.now();
    clearTimeout(timer);
    timer = setTimeout(read, READ_DELAY_MS);
  };

  return Object.freeze({ follow });
})();
