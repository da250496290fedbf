/* Names shared by every part of the scimwatch extension: storage keys, the
 * message types the service worker answers, and what the bar shows. */
globalThis.ScimwatchKeys = Object.freeze({
  options: "scimwatch:options", // chrome.storage.local (chrome.storage.sync before 0.2.0): {server, token}
  cache: "scimwatch:cache", // chrome.storage.local: the last good payloads and the last error
  dismissed: "scimwatch:dismissed", // chrome.storage.local: dismissed summary ids
  refresh: "scimwatch:refresh", // message: fetch the banners now
  save: "scimwatch:save", // message: check a server and token, then save them
  settings: "scimwatch:settings", // message: the options in force, and which ones policy sets
  minSeverity: "warning", // the bar on admin.atlassian.com leaves info out; the popup lists every key
});
