#!/usr/bin/env node
// headless-play.js -- play the demo player page in headless Chromium
// (Debian's chromium, driven by playwright-core) and judge the playback.
//
//   node demo/headless-play.js PAGE_URL SECONDS [SCREENSHOT.png]
//
// PAGE_URL is the player page with its query (src=..., n=...).  Plays
// SECONDS of wall time after every player has started, samples each
// player's currentTime every second, saves a screenshot, prints one JSON
// summary line and exits 0 when every player started, advanced by at
// least SECONDS - 2 (the first second of play may be at the start of the
// window), never stood still for 3 s, had no stall (hls.js
// bufferStalledError or a "waiting" event) and no fatal error; else 1.
// Exits 77 when the browser or MediaSource/H.264 is missing.
"use strict";
const path = require("path");
const { chromium } = require(path.join(__dirname, "node_modules", "playwright-core"));

const [pageUrl, secondsArg, shot] = process.argv.slice(2);
const seconds = parseFloat(secondsArg || "20");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const startTimeout = parseFloat(process.env.SR_START_TIMEOUT || "30") * 1000;

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
function log(s) { process.stderr.write("headless-play: " + s + "\n"); }

(async () => {
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ["--autoplay-policy=no-user-gesture-required", "--mute-audio",
             "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
  } catch (e) {
    log("cannot start " + chromiumPath + ": " + e.message.split("\n")[0]);
    process.exit(77);
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push("pageerror: " + e.message));
  await page.goto(pageUrl, { waitUntil: "load" });

  const caps = await page.evaluate(() => ({
    hls: !!window.Hls, mse: !!(window.Hls && Hls.isSupported()),
    h264: typeof MediaSource !== "undefined" &&
      MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"'),
  }));
  if (!caps.hls) {
    log("hls.js did not load in the page");
    await browser.close();
    process.exit(1);
  }
  if (!caps.mse || !caps.h264) {
    log("this chromium cannot play H.264 through MediaSource: " + JSON.stringify(caps));
    await browser.close();
    process.exit(77);
  }

  // wait until every player plays
  const t0 = Date.now();
  let players = [];
  for (;;) {
    players = await page.evaluate(() => window.srPlayers);
    if (players.length && players.every((p) => p.started && p.currentTime > 0)) break;
    if (players.some((p) => p.fatal.length) || Date.now() - t0 > startTimeout) {
      log("players did not start within " + startTimeout / 1000 + " s: " +
          JSON.stringify(players.map((p) => ({ id: p.id, started: p.started, fatal: p.fatal, errors: p.errors.slice(0, 3) }))));
      await page.screenshot({ path: shot || "/dev/null" }).catch(() => {});
      await browser.close();
      process.exit(1);
    }
    await sleep(200);
  }
  const startupMs = Date.now() - t0;
  log(players.length + " player(s) started in " + startupMs + " ms; playing " + seconds + " s");

  const first = players.map((p) => p.currentTime);
  const last = first.slice();
  const lastMove = first.map(() => Date.now());
  const frozen = first.map(() => 0);
  const tEnd = Date.now() + seconds * 1000;
  while (Date.now() < tEnd) {
    await sleep(1000);
    players = await page.evaluate(() => window.srPlayers);
    const now = Date.now();
    players.forEach((p, i) => {
      if (p.currentTime > last[i] + 0.05) {
        last[i] = p.currentTime;
        lastMove[i] = now;
      } else {
        frozen[i] = Math.max(frozen[i], now - lastMove[i]);
      }
    });
  }
  if (shot) await page.screenshot({ path: shot });
  players = await page.evaluate(() => window.srPlayers);
  await browser.close();

  const minAdvance = seconds - 2;
  const result = players.map((p, i) => {
    const advanced = p.currentTime - first[i];
    const problems = [];
    if (advanced < minAdvance) problems.push("advanced only " + advanced.toFixed(1) + " s");
    if (frozen[i] >= 3000) problems.push("stood still " + (frozen[i] / 1000).toFixed(1) + " s");
    if (p.stalls) problems.push(p.stalls + " stall(s)");
    if (p.waiting) problems.push(p.waiting + " waiting event(s)");
    if (p.fatal.length) problems.push("fatal: " + p.fatal.join("; "));
    return { id: p.id, advanced: +advanced.toFixed(2), currentTime: +p.currentTime.toFixed(2),
             frags: p.frags, playlists: p.playlists, stalls: p.stalls, waiting: p.waiting,
             maxFrozenMs: frozen[i], errors: p.errors, problems };
  });
  const bad = result.filter((r) => r.problems.length);
  const summary = {
    players: result.length, seconds, startupMs,
    minAdvanced: Math.min(...result.map((r) => r.advanced)),
    maxFrozenMs: Math.max(...result.map((r) => r.maxFrozenMs)),
    stalls: result.reduce((a, r) => a + r.stalls, 0),
    nonFatalErrors: result.reduce((a, r) => a + r.errors.length, 0),
    failed: bad.length,
    problems: bad.slice(0, 5).map((r) => ({ id: r.id, problems: r.problems, errors: r.errors.slice(0, 5) })),
    consoleErrors: consoleErrors.slice(0, 5),
  };
  process.stdout.write(JSON.stringify(summary) + "\n");
  process.exit(bad.length ? 1 : 0);
})().catch((e) => {
  log("error: " + (e && e.stack || e));
  process.exit(1);
});
