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
const BADGE_COLOURS = {
  expired: "#5d1f1a",
  critical: "#c9372c",
  warning: "#a54800",
  info: "#0055cc",
};
const UNKNOWN_COLOUR = "#626f86";

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

/** Fetches the banner payload from the server; throws ServerProblem. */
async function fetchBanners(server, token) {
  let response;
  try {
    response = await fetch(server + "/api/v1/banners", {
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
 * Checks a server and token the way Save does; returns the banner payload.
 * 1. The address parses as http(s).
 * 2. /healthz answers at all. Only the banner API allows extension origins,
 *    so this request is no-cors: an opaque answer still proves the server is up.
 * 3. The banner API accepts the token and sends a banner payload.
 */
async function checkServer(serverValue, tokenValue) {
  const server = normaliseServer(serverValue);
  const token = String(tokenValue || "").trim();
  if (!token) throw new ServerProblem("bad_token", "Enter a scimwatch read token.");
  try {
    await fetch(server + "/healthz", { mode: "no-cors", credentials: "omit", cache: "no-store" });
  } catch (e) {
    throw new ServerProblem("unreachable", `Cannot reach ${server}: check the address and that the server is running.`);
  }
  try {
    return { server, token, payload: await fetchBanners(server, token) };
  } catch (e) {
    if (e.problem !== "unreachable") throw e;
    // /healthz answered, so the banner API exists only if it allows our origin.
    throw new ServerProblem("not_scimwatch",
      `${server} answers, but not as a scimwatch server: its banner API does not allow this extension.`);
  }
}

/** Returns the saved {server, token}, or null when the extension is not set up. */
async function readOptions() {
  const { [K.options]: options } = await chrome.storage.sync.get(K.options);
  return options && options.server && options.token ? options : null;
}

/** Shows the most urgent banner's days left on the toolbar button, coloured by severity. */
async function showBadge(cache) {
  const banners = cache && cache.payload ? cache.payload.banners : [];
  const first = banners[0]; // the server orders banners most urgent first
  let text = "";
  let title = "scimwatch: no SCIM API key is due";
  let colour = UNKNOWN_COLOUR;
  if (first) {
    text = first.severity === "expired" ? "!" : `${first.days_left}d`;
    title = "scimwatch: " + first.title;
    colour = BADGE_COLOURS[first.severity] || UNKNOWN_COLOUR;
  } else if (!cache) {
    title = "scimwatch: open the options to connect a server";
  } else if (!cache.payload && cache.error) {
    text = "?";
    title = "scimwatch: " + cache.error;
  }
  await chrome.action.setBadgeBackgroundColor({ color: colour });
  if (chrome.action.setBadgeTextColor) await chrome.action.setBadgeTextColor({ color: "#ffffff" });
  await chrome.action.setBadgeText({ text });
  await chrome.action.setTitle({ title });
}

/** Stores a refresh result (payload kept from the last good fetch) and updates the badge. */
async function storeCache(cache) {
  if (cache) await chrome.storage.local.set({ [K.cache]: cache });
  else await chrome.storage.local.remove(K.cache);
  await showBadge(cache);
  return cache;
}

/** Fetches the banners for the saved server; keeps the last good payload on failure. */
async function fetchAndStore() {
  const options = await readOptions();
  if (!options) return storeCache(null);
  const { [K.cache]: old } = await chrome.storage.local.get(K.cache);
  const kept = old && old.server === options.server ? old : { server: options.server, payload: null, fetched_at: null };
  try {
    const payload = await fetchBanners(options.server, options.token);
    return storeCache({ server: options.server, payload, fetched_at: new Date().toISOString(), error: null });
  } catch (e) {
    return storeCache({ ...kept, error: e.message, failed_at: new Date().toISOString() });
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

/** Checks the server and token; saves them only when the check passes. */
async function save({ server, token }) {
  try {
    const checked = await checkServer(server, token);
    await chrome.storage.sync.set({ [K.options]: { server: checked.server, token: checked.token } });
    await storeCache({ server: checked.server, payload: checked.payload, fetched_at: new Date().toISOString(), error: null });
    const due = checked.payload.banners.length;
    return {
      ok: true,
      message: `Saved. Connected to ${checked.server}: ` +
        (due ? `${due} key${due === 1 ? "" : "s"} due.` : "no key is due."),
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

function start() {
  ensureAlarm();
  refresh();
}

chrome.runtime.onInstalled.addListener(start);
chrome.runtime.onStartup.addListener(start);
chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === ALARM) refresh();
});
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "sync" && changes[K.options]) refresh();
});
chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message) return false;
  if (message.type === K.refresh) {
    refresh().then(() => sendResponse({ ok: true }), () => sendResponse({ ok: false }));
    return true;
  }
  // Only the options page may change the server: never a content script.
  if (message.type === K.save && String(sender.url).startsWith(chrome.runtime.getURL("options.html"))) {
    save(message).then(sendResponse);
    return true;
  }
  return false;
});
