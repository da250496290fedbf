/* scimwatch content script for admin.atlassian.com: draws the cached bar of
 * the org in the URL (every org when the URL names none) with the widget's
 * renderer, and keeps it there while the single-page app navigates and
 * re-renders. On a directory page it reads the key's expiry (page-reader.js)
 * and offers to track, record or correct it (offers.js). It never fetches:
 * the service worker does. */
(() => {
  "use strict";
  const K = globalThis.ScimwatchKeys;
  const renderer = globalThis.ScimwatchBanner;
  const offers = globalThis.ScimwatchOffers;
  let views = {};
  const dismissed = new Set();
  let shownHref = null;
  let host = null;

  /** Returns the org id in /o/{org_id}/..., or "" when the page has none. */
  const orgInUrl = () => {
    const match = /^\/o\/([^/]+)/.exec(location.pathname);
    try {
      return match ? decodeURIComponent(match[1]) : "";
    } catch (e) {
      return match[1];
    }
  };

  /** Follows Atlassian's own colour mode (html[data-color-mode]) when the page sets one. */
  const pageTheme = () => {
    const mode = document.documentElement.dataset.colorMode;
    return mode === "dark" || mode === "light" ? mode : "auto";
  };

  /** Dismissals in extension storage, so the page's own storage never holds them. */
  const dismissals = {
    has: (id) => dismissed.has(id),
    add: (id) => {
      dismissed.add(id);
      chrome.storage.local.set({ [K.dismissed]: [...dismissed].slice(-50) }).catch(() => {});
    },
  };

  /** Draws the bar for the current URL; the renderer leaves an unchanged bar alone. */
  const show = () => {
    shownHref = location.href;
    host = renderer.render(Object.prototype.hasOwnProperty.call(views, orgInUrl()) ? views[orgInUrl()] : null,
      { position: "top", dismissals, here: location.href, theme: pageTheme() });
  };

  /** Draws again after an in-page navigation or when the app removed the bar; reads the page again soon. */
  const follow = () => {
    if (location.href !== shownHref || (host && !host.isConnected)) show();
    offers.follow(dismissals);
  };

  /** Takes the views out of a cache entry. */
  const viewsOf = (cache) => (cache && cache.views && typeof cache.views === "object" ? cache.views : {});

  chrome.storage.local.get([K.cache, K.dismissed]).then((stored) => {
    views = viewsOf(stored[K.cache]);
    if (Array.isArray(stored[K.dismissed])) stored[K.dismissed].forEach((id) => dismissed.add(id));
    show();
    offers.follow(dismissals);
    new MutationObserver(follow).observe(document.documentElement, { childList: true, subtree: true });
    addEventListener("popstate", follow);
    addEventListener("hashchange", follow);
    // A pushState that changes no element is seen by the Navigation API where the browser has it.
    if (globalThis.navigation) globalThis.navigation.addEventListener("navigatesuccess", follow);
  }).catch((e) => console.warn("scimwatch: could not read the cached banners:", e));

  chrome.storage.onChanged.addListener((changes, area) => {
    if (area !== "local") return;
    const cache = changes[K.cache];
    // Our own dismissals were drawn already; another tab's are news.
    const ids = changes[K.dismissed] && changes[K.dismissed].newValue;
    const news = Array.isArray(ids) && ids.some((id) => !dismissed.has(id));
    if (cache) views = viewsOf(cache.newValue);
    if (news) ids.forEach((id) => dismissed.add(id));
    if (cache || news) show();
  });

  chrome.runtime.sendMessage({ type: K.refresh }).catch(() => {});
})();
