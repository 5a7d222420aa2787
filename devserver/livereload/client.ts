/**
 * The browser side of live reload, served at LIVERELOAD_SCRIPT_PATH. Server-sent events (EventSource
 * reconnects by itself after a server restart, per the HTML standard's "reestablish the connection").
 * Each server instance sends its id in a 'hello' event; a different id after a reconnect means the server
 * restarted (files may have changed meanwhile), so the page reloads once.
 */
export const LIVERELOAD_EVENTS_PATH = '/__devmount/livereload';
export const LIVERELOAD_SCRIPT_PATH = '/__devmount/livereload.js';

export const LIVERELOAD_CLIENT = `(() => {
  if (window.__devmountLiveReload) return;
  window.__devmountLiveReload = true;
  let serverId = null;
  const es = new EventSource(${JSON.stringify(LIVERELOAD_EVENTS_PATH)});
  es.addEventListener('hello', (e) => {
    if (serverId !== null && serverId !== e.data) location.reload();
    serverId = e.data;
  });
  es.addEventListener('reload', () => location.reload());
  es.addEventListener('css', (e) => {
    const changed = JSON.parse(e.data);
    const links = Array.from(document.querySelectorAll('link[rel~="stylesheet"][href]'));
    let swapped = 0;
    for (const link of links) {
      const url = new URL(link.href, location.href);
      if (url.origin !== location.origin) continue;
      if (!changed.some((p) => decodeURIComponent(url.pathname) === p)) continue;
      url.searchParams.set('__devmount', String(Date.now()));
      // Swap in a clone and drop the old link once the new one loaded: no flash of unstyled content.
      const next = link.cloneNode();
      next.href = url.href;
      next.addEventListener('load', () => link.remove(), { once: true });
      next.addEventListener('error', () => link.remove(), { once: true });
      link.after(next);
      swapped++;
    }
    // A stylesheet not linked from this page (an @import, a CSS module) cannot be swapped: reload.
    if (swapped === 0) location.reload();
  });
})();
`;
