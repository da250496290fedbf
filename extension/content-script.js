/* scimwatch content script for admin.atlassian.com: shows the cached banners
 * of the org in the URL (all orgs when the URL names none) with the widget's
 * renderer, and keeps them there while the single-page app navigates and
 * re-renders. It never fetches: the service worker does. */
(() => {
  "use strict";
  const K = globalThis.ScimwatchKeys;
  const renderer = globalThis.ScimwatchBanner;
  let payload = null;
  const dismissed = new Set();
  let shownHref = null;
  let shownBanners = null;
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

  /** Dismissals in extension storage, so the page's own storage never holds them. */
  const dismissals = {
    has: (id) => dismissed.has(id),
    add: (id) => {
      dismissed.add(id);
      chrome.storage.local.set({ [K.dismissed]: [...dismissed].slice(-200) }).catch(() => {});
    },
  };

  /** Renders the banners for the current URL into the single #scimwatch-banner host. */
  const show = () => {
    shownHref = location.href;
    const banners = renderer.forOrg(payload, orgInUrl());
    // Every refresh rewrites the cache; rebuilding unchanged alerts would make screen readers repeat them.
    const seen = JSON.stringify(banners) + "|" + dismissed.size;
    if (seen === shownBanners && (!host || host.isConnected)) return;
    shownBanners = seen;
    host = renderer.render(banners, { position: "top", dismissals });
  };

  /** Renders again after an in-page navigation or when the app removed the host. */
  const follow = () => {
    if (location.href !== shownHref || (host && !host.isConnected)) show();
  };

  chrome.storage.local.get([K.cache, K.dismissed]).then((stored) => {
    const cache = stored[K.cache];
    payload = cache && cache.payload ? cache.payload : null;
    if (Array.isArray(stored[K.dismissed])) stored[K.dismissed].forEach((id) => dismissed.add(id));
    show();
    new MutationObserver(follow).observe(document.documentElement, { childList: true, subtree: true });
    addEventListener("popstate", follow);
    addEventListener("hashchange", follow);
    // A pushState that changes no element is seen by the Navigation API where the browser has it.
    if (globalThis.navigation) globalThis.navigation.addEventListener("navigatesuccess", follow);
  }).catch((e) => console.warn("scimwatch: could not read the cached banners:", e));

  chrome.storage.onChanged.addListener((changes, area) => {
    if (area !== "local") return;
    const cache = changes[K.cache];
    // Our own dismissals were rendered already; another tab's are news.
    const ids = changes[K.dismissed] && changes[K.dismissed].newValue;
    const news = Array.isArray(ids) && ids.some((id) => !dismissed.has(id));
    if (cache) payload = cache.newValue && cache.newValue.payload ? cache.newValue.payload : null;
    if (news) ids.forEach((id) => dismissed.add(id));
    if (cache || news) show();
  });

  chrome.runtime.sendMessage({ type: K.refresh }).catch(() => {});
})();
