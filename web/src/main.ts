import "./app.css";

import { mount } from "svelte";

import App from "./App.svelte";
import { locale } from "./lib/i18n/index.svelte";

document.documentElement.lang = locale.current;
mount(App, { target: document.getElementById("app")! });
// The offline shell: the service worker caches the app (never media or the API). Registered
// directly rather than with workbox-window (2.7 kB gzipped off the feed route's budget): the
// worker activates new versions by itself (registerType autoUpdate), a page simply runs the
// version it loaded until its next navigation.
if ("serviceWorker" in navigator) {
  addEventListener("load", () => void navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {}));
}
