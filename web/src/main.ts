import "./app.css";

import { mount } from "svelte";
import { registerSW } from "virtual:pwa-register";

import App from "./App.svelte";
import { locale } from "./lib/i18n/index.svelte";

document.documentElement.lang = locale.current;
mount(App, { target: document.getElementById("app")! });
// The offline shell: the service worker caches the app (never media or the API).
if ("serviceWorker" in navigator) registerSW({ immediate: true });
