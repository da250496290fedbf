/* Names shared by every part of the scimwatch extension: storage keys and
 * the message types the service worker answers. */
globalThis.ScimwatchKeys = Object.freeze({
  options: "scimwatch:options", // chrome.storage.sync: {server, token}
  cache: "scimwatch:cache", // chrome.storage.local: last good payload and last error
  dismissed: "scimwatch:dismissed", // chrome.storage.local: dismissed banner ids
  refresh: "scimwatch:refresh", // message: fetch the banners now
  save: "scimwatch:save", // message: check a server and token, then save them
});
