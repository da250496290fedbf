/* scimwatch service worker: the only part of the extension that talks to the
 * scimwatch server. It reaches a self-hosted server through the server's CORS
 * rule for extension origins, so it needs no host permission for it. */
"use strict";

// Chrome runs this file alone as a service worker; Firefox runs the
// manifest's background.scripts, which load keys.js first.
if (!globalThis.ScimwatchKeys) importScripts("keys.js");
const K = globalThis.ScimwatchKeys;

const ALARM = "scimwatch:refresh";
const REFRESH_MINUTES = 15;
// The banners' palette (server/domain/palette.py): Atlassian's red for critical and expired.
const BADGE_COLOURS = {
  expired: "#c9372c",
  critical: "#c9372c",
  warning: "#a54800",
  info: "#0c66e4",
};
const UNKNOWN_COLOUR = "#626f86";
const TOOLTIP_NAMES = 3;
const ADMIN = "https://admin.atlassian.com/";
const RESULTS = ["created", "unchanged", "rotated", "corrected"];
const SEEN_DAYS_KEPT = 200; // directories whose last "unchanged" report day is remembered

/** An error whose message tells the admin what is wrong; problem names the kind. */
class ServerProblem extends Error {
  constructor(problem, message) {
    super(message);
    this.problem = problem;
  }
}

/** Returns the server URL without trailing slash, query or fragment; throws ServerProblem. */
function normaliseServer(value) {
  let url;
  try {
    url = new URL(String(value || "").trim());
  } catch (e) {
    throw new ServerProblem("invalid", "Enter the server's full address, for example https://scimwatch.example.com.");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ServerProblem("invalid", "The server address must start with https:// or http://.");
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

/** Fetches a banner payload from the server (query: "?org_id=..."); throws ServerProblem. */
async function fetchBanners(server, token, query = "") {
  let response;
  try {
    response = await fetch(server + "/api/v1/banners" + query, {
      headers: { Authorization: "Bearer " + token },
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw new ServerProblem("unreachable", `Cannot reach ${server}, or it does not answer as a scimwatch server.`);
  }
  if (response.status === 401) {
    throw new ServerProblem("bad_token", `${server} refused the token (HTTP 401): paste a scimwatch read or admin token.`);
  }
  if (response.status === 403) {
    throw new ServerProblem("bad_token", `The token may not read banners on ${server} (HTTP 403): use a read or admin token.`);
  }
  if (!response.ok) {
    throw new ServerProblem("not_scimwatch", `${server} is not a scimwatch server: its banner API answered HTTP ${response.status}.`);
  }
  let payload;
  try {
    payload = await response.json();
  } catch (e) {
    payload = null;
  }
  if (!payload || !Array.isArray(payload.banners)) {
    throw new ServerProblem("not_scimwatch", `${server} is not a scimwatch server: its banner API did not send banners.`);
  }
  return payload;
}

/**
 * Fetches what every part shows: the whole payload for the popup and the
 * badge, and the bar's view (from K.minSeverity up, with the server's summary)
 * for pages without an org and for each org that has banners.
 */
async function fetchViews(server, token) {
  const payload = await fetchBanners(server, token);
  const orgs = [...new Set(payload.banners.map((b) => String(b.org_id)))];
  const min = "min_severity=" + K.minSeverity;
  const views = await Promise.all(["", ...orgs].map(
    (org) => fetchBanners(server, token, "?" + (org ? "org_id=" + encodeURIComponent(org) + "&" : "") + min)));
  return { payload, views: Object.fromEntries(views.map((view, i) => [i ? orgs[i - 1] : "", view])) };
}

/**
 * Checks a server and token the way Save does; returns what to cache.
 * 1. The address parses as http(s).
 * 2. /healthz answers at all. Only the banner API allows extension origins,
 *    so this request is no-cors: an opaque answer still proves the server is up.
 * 3. The banner API accepts the token and sends a banner payload.
 * 4. Whether the token may also record observations (mayTrack).
 */
async function checkServer(serverValue, tokenValue) {
  const server = normaliseServer(serverValue);
  const token = String(tokenValue || "").trim();
  if (!token) throw new ServerProblem("bad_token", "Enter a scimwatch track or read token.");
  try {
    await fetch(server + "/healthz", { mode: "no-cors", credentials: "omit", cache: "no-store" });
  } catch (e) {
    throw new ServerProblem("unreachable", `Cannot reach ${server}: check the address and that the server is running.`);
  }
  try {
    const views = await fetchViews(server, token);
    return { server, token, ...views, tracking: await mayTrack(server, token) };
  } catch (e) {
    if (e.problem !== "unreachable") throw e;
    // /healthz answered, so the banner API exists only if it allows our origin.
    throw new ServerProblem("not_scimwatch",
      `${server} answers, but not as a scimwatch server: its banner API does not allow this extension.`);
  }
}

/** Posts an observation (a dry run writes nothing); returns fetch's promise of the response. */
function observationRequest(server, token, body, dryRun) {
  return fetch(server + "/api/v1/observations" + (dryRun ? "?dry_run=true" : ""), {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
}

/** Sends an observation (dry run: what it would do, nothing written); returns the answer or throws ServerProblem. */
async function postObservation(server, token, body, dryRun) {
  let response;
  try {
    response = await observationRequest(server, token, body, dryRun);
  } catch (e) {
    throw new ServerProblem("unreachable", `Cannot reach ${server}.`);
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch (e) { /* not JSON: said below */ }
  if (response.status === 403) {
    throw new ServerProblem("needs_track", "Tracking keys needs a scimwatch track token; this one only reads warnings.");
  }
  if (response.status === 401) throw new ServerProblem("bad_token", `${server} refused the token (HTTP 401).`);
  const said = answer && answer.error && typeof answer.error.message === "string" ? ": " + answer.error.message : "";
  if (!response.ok) throw new ServerProblem("refused", `${server} refused what this page shows (HTTP ${response.status})${said}.`);
  if (!answer || !RESULTS.includes(answer.result)) {
    throw new ServerProblem("not_scimwatch", `${server} did not answer as a scimwatch server.`);
  }
  return answer;
}

/**
 * Returns whether the token may record observations, without writing: the route checks the scope before the
 * body, so an empty dry run answers 403 to a read token and 400 to a track or admin token. Null: unknown.
 */
async function mayTrack(server, token) {
  try {
    const response = await observationRequest(server, token, {}, true);
    return response.status === 403 ? false : response.status === 400 ? true : null;
  } catch (e) {
    return null;
  }
}

/** Notes whether the token in use may track, for the popup and the options. */
async function noteTracking(server, allowed) {
  await chrome.storage.local.set({ [K.tracking]: { server, allowed } });
}

/** Returns the observation a directory page's reading makes, with the page it was read on; null if malformed. */
function observationOf(seen, pageAddress) {
  const fields = ["org_id", "directory_id", "directory_name", "expires_at"];
  if (!seen || fields.some((name) => typeof seen[name] !== "string" || !seen[name])) return null;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(seen.expires_at)) return null;
  let page;
  try {
    const url = new URL(pageAddress);
    page = url.origin + url.pathname; // no query or fragment: the directory's own page
  } catch (e) {
    return null;
  }
  // The server keeps page_url as the key's link, so it must be the org's own page that was read.
  if (!page.startsWith(ADMIN + "o/" + encodeURIComponent(seen.org_id) + "/")) return null;
  return { ...Object.fromEntries(fields.map((name) => [name, seen[name]])), page_url: page };
}

/** Reports an unchanged expiry at most once a day per directory, so last_seen_at says the page still shows it. */
async function reportSeen(server, token, body) {
  const today = new Date().toISOString().slice(0, 10);
  const directory = body.org_id + "/" + body.directory_id;
  const { [K.seenDays]: days = {} } = await chrome.storage.local.get(K.seenDays);
  if (days[directory] === today) return false;
  await postObservation(server, token, body, false);
  const kept = Object.entries({ ...days, [directory]: today }).slice(-SEEN_DAYS_KEPT);
  await chrome.storage.local.set({ [K.seenDays]: Object.fromEntries(kept) });
  return true;
}

/** Records what a directory page shows; the banners are fetched again so the bar follows. */
async function record(seen, pageAddress) {
  const options = await readOptions();
  const body = observationOf(seen, pageAddress);
  if (!options || !body) return { state: "failed", message: "The extension is not connected to a scimwatch server." };
  const server = normaliseServer(options.server);
  try {
    const answer = await postObservation(server, options.token, body, false);
    await noteTracking(server, true);
    await refresh();
    return { state: "recorded", result: answer.result, key: answer.key };
  } catch (e) {
    if (e.problem === "needs_track") await noteTracking(server, false);
    return { state: "failed", message: e.message };
  }
}

/**
 * Says what to offer on a directory page: created (not tracked), rotated (a later date), corrected (an earlier
 * one), needs_track, or nothing to offer. The page shows a day, so a key expiring later that same day is
 * unchanged. A later date is recorded at once when the admin chose so in the options.
 */
async function observe(seen, pageAddress) {
  const options = await readOptions();
  const body = observationOf(seen, pageAddress);
  if (!options || !body) return { state: "none" };
  const server = normaliseServer(options.server);
  try {
    const preview = await postObservation(server, options.token, body, true);
    await noteTracking(server, true);
    const key = preview.key;
    if (key && String(key.expires_at).slice(0, 10) === body.expires_at) {
      await reportSeen(server, options.token, { ...body, expires_at: key.expires_at });
      return { state: "unchanged", key };
    }
    const { [K.prefs]: prefs } = await chrome.storage.local.get(K.prefs);
    if (preview.result === "rotated" && prefs && prefs.auto_record === true) {
      return { ...(await record(seen, pageAddress)), auto: true, previous: key };
    }
    return { state: preview.result, key };
  } catch (e) {
    if (e.problem === "needs_track") {
      await noteTracking(server, false);
      return { state: "needs_track" };
    }
    return { state: "none", message: e.message }; // the badge and popup say what is wrong with the server
  }
}

/** Returns what enterprise policy sets (storage.managed_schema): {server?, token?}. */
async function readManaged() {
  try {
    const managed = await chrome.storage.managed.get(["server", "token"]);
    return {
      ...(typeof managed.server === "string" && managed.server.trim() ? { server: managed.server.trim() } : {}),
      ...(typeof managed.token === "string" && managed.token.trim() ? { token: managed.token.trim() } : {}),
    };
  } catch (e) {
    return {}; // no policy store (Firefox without policies, or none installed)
  }
}

/** Returns the options in force: policy first, then this browser's own; and which ones policy sets. */
async function readSettings() {
  const managed = await readManaged();
  const { [K.options]: own } = await chrome.storage.local.get(K.options);
  return {
    server: managed.server || (own && own.server) || "",
    token: managed.token || (own && own.token) || "",
    managed: { server: "server" in managed, token: "token" in managed },
  };
}

/** Returns the {server, token} to use, or null when the extension is not set up. */
async function readOptions() {
  const settings = await readSettings();
  return settings.server && settings.token ? settings : null;
}

/** Moves a token saved in chrome.storage.sync by an older version to this browser's local storage. */
async function migrateOptions() {
  const { [K.options]: synced } = await chrome.storage.sync.get(K.options);
  if (!synced) return;
  const { [K.options]: local } = await chrome.storage.local.get(K.options);
  if (!local) await chrome.storage.local.set({ [K.options]: synced });
  await chrome.storage.sync.remove(K.options);
}

/** Describes a payload for the badge's tooltip: the most urgent severity and how many keys, then the most urgent by name. */
function describe(payload) {
  const banners = payload.banners;
  const severity = String(banners[0].severity);
  const lines = [`${severity[0].toUpperCase()}${severity.slice(1)} · ` +
    (payload.summary ? payload.summary.title : `${banners.length} keys due`),
    ...banners.slice(0, TOOLTIP_NAMES).map((b) => String(b.title))];
  if (banners.length > TOOLTIP_NAMES) lines.push(`+${banners.length - TOOLTIP_NAMES} more`);
  return lines.join("\n");
}

/**
 * Shows how many keys are due on the toolbar button, coloured by the most
 * urgent severity; "?" with the cause when the last refresh failed, since no
 * news must never look like good news.
 */
async function showBadge(cache) {
  const payload = cache && cache.payload;
  const banners = payload ? payload.banners : [];
  let text = "";
  let title = "scimwatch: no SCIM API key is due";
  let colour = UNKNOWN_COLOUR;
  if (!cache) {
    title = "scimwatch: open the options to connect a server";
  } else if (cache.error) {
    text = "?";
    title = "scimwatch: " + cache.error + (banners.length ? "\nLast known: " + describe(payload) : "");
  } else if (banners.length) {
    text = String(banners.length);
    title = "scimwatch: " + describe(payload);
    colour = BADGE_COLOURS[banners[0].severity] || UNKNOWN_COLOUR; // the server orders banners most urgent first
  }
  await chrome.action.setBadgeBackgroundColor({ color: colour });
  if (chrome.action.setBadgeTextColor) await chrome.action.setBadgeTextColor({ color: "#ffffff" });
  await chrome.action.setBadgeText({ text });
  await chrome.action.setTitle({ title });
}

/** Stores a refresh result (payloads kept from the last good fetch) and updates the badge. */
async function storeCache(cache) {
  if (cache) await chrome.storage.local.set({ [K.cache]: cache });
  else await chrome.storage.local.remove(K.cache);
  await showBadge(cache);
  return cache;
}

/** Fetches the banners for the server in force; keeps the last good payloads on failure. */
async function fetchAndStore() {
  const options = await readOptions();
  if (!options) return storeCache(null);
  const { [K.cache]: old } = await chrome.storage.local.get(K.cache);
  const kept = old && old.server === options.server ? old : { server: options.server, payload: null, views: {}, fetched_at: null };
  try {
    const fetched = await fetchViews(normaliseServer(options.server), options.token);
    return storeCache({ server: options.server, ...fetched, fetched_at: new Date().toISOString(), error: null });
  } catch (e) {
    return storeCache({ ...kept, error: e.message, problem: e.problem || "error", failed_at: new Date().toISOString() });
  }
}

let running = null;
let queued = null;

/**
 * Refreshes the banners, one fetch at a time. A call made during a fetch may
 * follow a change the fetch missed, so it gets one more fetch after it; every
 * call made meanwhile shares that one.
 */
function refresh() {
  if (!running) {
    running = fetchAndStore().finally(() => { running = null; });
    return running;
  }
  const next = () => {
    queued = null;
    return refresh();
  };
  if (!queued) queued = running.then(next, next);
  return queued;
}

/** Checks the server and token; saves them only when the check passes. Policy settings win. */
async function save({ server, token }) {
  try {
    const { managed, ...settings } = await readSettings();
    const checked = await checkServer(managed.server ? settings.server : server, managed.token ? settings.token : token);
    await chrome.storage.local.set({ [K.options]: { server: checked.server, token: checked.token } });
    await noteTracking(checked.server, checked.tracking);
    await storeCache({ server: checked.server, payload: checked.payload, views: checked.views,
      fetched_at: new Date().toISOString(), error: null });
    const due = checked.payload.banners.length;
    return {
      ok: true,
      message: `Saved. Connected to ${checked.server}: ` +
        (due ? `${due} key${due === 1 ? "" : "s"} due.` : "no key is due.") +
        " Open admin.atlassian.com to see the warnings." +
        (checked.tracking === false ? " This token only reads warnings: tracking keys from their directory pages" +
          " needs a track token." : checked.tracking ? " It can also track keys from their directory pages." : ""),
    };
  } catch (e) {
    return { ok: false, problem: e.problem || "error", message: e.message + " Nothing was saved." };
  }
}

/** Makes sure the periodic refresh alarm exists without resetting its schedule. */
async function ensureAlarm() {
  if (!(await chrome.alarms.get(ALARM))) {
    await chrome.alarms.create(ALARM, { periodInMinutes: REFRESH_MINUTES });
  }
}

async function start() {
  ensureAlarm();
  await migrateOptions().catch((e) => console.warn("scimwatch: could not move the options to local storage:", e));
  refresh();
}

chrome.runtime.onInstalled.addListener(async ({ reason }) => {
  await start();
  // A first install opens the options, which say where a token comes from; policy may have set it up already.
  if (reason === "install" && !(await readOptions())) chrome.runtime.openOptionsPage();
});
chrome.runtime.onStartup.addListener(start);
chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === ALARM) refresh();
});
chrome.storage.onChanged.addListener((changes, area) => {
  if ((area === "local" && changes[K.options]) || area === "managed") refresh();
});
chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message) return false;
  if (message.type === K.refresh) {
    refresh().then(() => sendResponse({ ok: true }), () => sendResponse({ ok: false }));
    return true;
  }
  const page = String(sender.url);
  // A directory page tells what it shows; the worker alone holds the token and talks to the server.
  if ((message.type === K.observe || message.type === K.record) && sender.tab && page.startsWith(ADMIN)) {
    // sender.url stays the address the tab loaded; after the app's pushState the page knows where it is now.
    const now = typeof message.page === "string" && message.page.startsWith(ADMIN) ? message.page : page;
    (message.type === K.observe ? observe : record)(message.seen, now).then(sendResponse);
    return true;
  }
  if (message.type === K.openOptions) {
    chrome.runtime.openOptionsPage().then(() => sendResponse({ ok: true }), () => sendResponse({ ok: false }));
    return true;
  }
  // Only the extension's own pages may read or change the server and token: never a content script.
  if (message.type === K.settings && page.startsWith(chrome.runtime.getURL(""))) {
    readSettings().then(sendResponse);
    return true;
  }
  if (message.type === K.save && page.startsWith(chrome.runtime.getURL("options.html"))) {
    save(message).then(sendResponse);
    return true;
  }
  return false;
});
