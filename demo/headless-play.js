#!/usr/bin/env node
// headless-play.js -- play the demo player page in headless Chromium
// (Debian's chromium, driven by playwright-core) and judge the playback.
//
//   node demo/headless-play.js PAGE_URL SECONDS [SCREENSHOT.png]
//
// PAGE_URL is the player page with its query (src=..., n=...).  Plays
// SECONDS of wall time after every player has started, samples each
// player's currentTime every second, prints one JSON summary line and
// exits 0 when every player passed, else 1; 77 when the browser or
// MediaSource/H.264 is missing.
//
// The first window is strict: it lasts SR_STRICT seconds (default: all),
// or less with SR_MIN_PLAYED, until every player has played that many
// seconds of media (a loaded machine plays slower than real time).  In it
// every player plays at least SR_MIN_PLAYED s (default SR_STRICT - 2), never stands still 3 s, has no
// stall (hls.js bufferStalledError, or a "waiting" episode of 250 ms or
// more before playback resumes: a shorter one, a decoder starved for a
// frame on a loaded machine, is reported as a blip) and no fatal
// error.  The screenshot is taken at the end of that window.  The rest
// is the carry-on window (SECONDS - SR_STRICT long) (e.g. the stream moves to another media server
// meanwhile): no fatal error, standing still at most SR_MAX_FREEZE s
// (default 10), advancing by the rest minus that, and playing at the end.
// SR_KEEP_AFTER=k keeps only the first k players for the carry-on window.
// SR_STARTED_FILE / SR_STRICT_FILE are written when every player has
// started / when the strict window ends, for a test to synchronise on.
// SR_CONSOLE_LOG keeps the page's console (hls.js logs with &debug=1).
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
  const consoleLog = process.env.SR_CONSOLE_LOG ?
    require("fs").createWriteStream(process.env.SR_CONSOLE_LOG) : null;
  page.on("console", (m) => {
    if (consoleLog) consoleLog.write(new Date().toISOString() + " " + m.type() + " " + m.text() + "\n");
    if (m.type() === "error") consoleErrors.push(m.text());
  });
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
    if (players.length && players.every((p) => p.started && p.played > 0)) break;
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

  if (process.env.SR_STARTED_FILE) require("fs").writeFileSync(process.env.SR_STARTED_FILE, String(Date.now()));

  // window 1 (strict): the first SR_STRICT seconds; window 2 (carry on):
  // the rest, e.g. while the stream moves to another media server
  const strict = Math.min(seconds, parseFloat(process.env.SR_STRICT || String(seconds)));
  const maxFreeze = parseFloat(process.env.SR_MAX_FREEZE || "10");
  const minPlayed = parseFloat(process.env.SR_MIN_PLAYED || String(strict - 2));
  // the strict window ends when every player has played minPlayed s (at
  // most strict s: a loaded machine may play slower than real time)
  const afterSeconds = seconds - strict;
  let tStrictEnd = 0;
  const tStart = Date.now();
  const first = players.map((p) => p.played);
  const last = first.slice();
  const lastMove = first.map(() => tStart);
  const frozen = [first.map(() => 0), first.map(() => 0)];
  let atStrict = null;
  const endFrozen = first.map(() => 0);
  for (;;) {
    await sleep(1000);
    players = await page.evaluate(() => window.srPlayers);
    const now = Date.now();
    const w = atStrict ? 1 : 0;
    players.forEach((p, i) => {
      if (p.played > last[i] + 0.05) {
        last[i] = p.played;
        lastMove[i] = now;
      } else {
        frozen[w][i] = Math.max(frozen[w][i], now - lastMove[i]);
      }
    });
    if (!atStrict && (now - tStart >= strict * 1000 ||
        (process.env.SR_MIN_PLAYED && players.every((p, i) => p.played - first[i] >= minPlayed)))) {
      tStrictEnd = now;
      atStrict = players.map((p) => ({ ...p, errors: p.errors.slice(), fatal: p.fatal.slice() }));
      if (shot) await page.screenshot({ path: shot });
      const keep = parseInt(process.env.SR_KEEP_AFTER || "0", 10);
      if (strict < seconds && keep > 0 && keep < players.length) {
        await page.evaluate((k) => window.srKeep(k), keep);
        log("kept " + keep + " player(s) for the carry-on window");
      }
      if (strict < seconds) {
        log("strict window over; carry-on window of " + (seconds - strict) + " s");
        if (process.env.SR_STRICT_FILE) require("fs").writeFileSync(process.env.SR_STRICT_FILE, String(now));
        lastMove.fill(now);
      }
    }
    if (atStrict && now - tStrictEnd >= afterSeconds * 1000) {
      players.forEach((p, i) => { endFrozen[i] = now - lastMove[i]; });
      break;
    }
  }
  if (shot && strict < seconds) await page.screenshot({ path: shot.replace(/\.png$/, "") + "-end.png" });
  players = await page.evaluate(() => window.srPlayers);
  await browser.close();

  const kept = players.length;
  const result = atStrict.map((s, i) => {
    const p = i < kept ? players[i] : null;
    const problems = [];
    const adv1 = s.played - first[i];
    if (adv1 < minPlayed) problems.push("played only " + adv1.toFixed(1) + " s in " + strict + " s");
    if (frozen[0][i] >= 3000) problems.push("stood still " + (frozen[0][i] / 1000).toFixed(1) + " s");
    if (s.stalls) problems.push(s.stalls + " stall(s)");
    const waits = s.waiting + (s.waitingNowMs >= 250 ? 1 : 0);
    if (waits) problems.push(waits + " waiting episode(s) of 250 ms or more (longest " +
                             Math.max(s.longestWaitMs, s.waitingNowMs) + " ms)");
    if (s.fatal.length) problems.push("fatal: " + s.fatal.join("; "));
    let adv2 = 0;
    if (strict < seconds && p) {
      const rest = afterSeconds;
      adv2 = p.played - s.played;
      if (adv2 < rest - maxFreeze) problems.push("after the strict window advanced only " + adv2.toFixed(1) + " s in " + rest + " s");
      if (frozen[1][i] > maxFreeze * 1000) problems.push("after the strict window stood still " + (frozen[1][i] / 1000).toFixed(1) + " s");
      if (p.fatal.length > s.fatal.length) problems.push("fatal: " + p.fatal.join("; "));
      if (endFrozen[i] > 3000) problems.push("not playing at the end (still for " + (endFrozen[i] / 1000).toFixed(1) + " s)");
    }
    return { id: s.id, kept: !!p, advanced: +adv1.toFixed(2), advancedAfter: +adv2.toFixed(2),
             frozenMs: frozen[0][i], frozenAfterMs: p ? frozen[1][i] : 0,
             stalls: s.stalls, stallsAfter: p ? p.stalls - s.stalls : 0, restarts: p ? p.restarts : 0,
             waitBlips: s.blips, longestWaitMs: s.longestWaitMs,
             errors: s.errors, errorsAfter: p ? p.errors.slice(s.errors.length) : [], problems };
  });
  const bad = result.filter((r) => r.problems.length);
  const sum = (f) => result.reduce((a, r) => a + f(r), 0);
  const summary = {
    players: result.length, strictSeconds: +((tStrictEnd - tStart) / 1000).toFixed(1),
    afterSeconds: strict < seconds ? afterSeconds : 0, startupMs,
    minAdvanced: Math.min(...result.map((r) => r.advanced)),
    maxFrozenMs: Math.max(...result.map((r) => r.frozenMs)),
    stalls: sum((r) => r.stalls), nonFatalErrors: sum((r) => r.errors.length),
    waitBlips: sum((r) => r.waitBlips), longestWaitMs: Math.max(...result.map((r) => r.longestWaitMs)),
    after: strict < seconds ? {
      players: kept,
      minAdvanced: Math.min(...result.filter((r) => r.kept).map((r) => r.advancedAfter)),
      maxFrozenMs: Math.max(...result.map((r) => r.frozenAfterMs)),
      stalls: sum((r) => r.stallsAfter), restarts: sum((r) => r.restarts), nonFatalErrors: sum((r) => r.errorsAfter.length),
      errorKinds: [...new Set(result.flatMap((r) => r.errorsAfter.map((e) => e.split(" ")[0])))],
    } : undefined,
    failed: bad.length,
    problems: bad.slice(0, 5).map((r) => ({ id: r.id, problems: r.problems, errors: r.errors.concat(r.errorsAfter).slice(0, 5) })),
    consoleErrors: consoleErrors.slice(0, 5),
  };
  process.stdout.write(JSON.stringify(summary) + "\n");
  process.exit(bad.length ? 1 : 0);
})().catch((e) => {
  log("error: " + (e && e.stack || e));
  process.exit(1);
});
