// Browser checks of the web console, run by crates/server/tests/api/console.rs against a real
// server: headless Debian Chromium driven by playwright-core (no browser download).
//
//   node tests/console.mjs access|jobs
//
// Environment: DALSTON_URL, DALSTON_ADMIN_KEY, DALSTON_CHROMIUM, DALSTON_SCREENSHOTS, and for
// `jobs` DALSTON_AUDIO (the jfk recording) and DALSTON_FAILED_JOB (a job the pipeline failed).
// Each check prints `ok <name>`; the first failure prints its reason and exits non-zero.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("DALSTON_URL");
const adminKey = env("DALSTON_ADMIN_KEY");
const screenshots = env("DALSTON_SCREENSHOTS");
const scenario = process.argv[2];
const TIMEOUT_MS = 300_000;

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Open pages, newest last: a failed check reports what the newest one shows. */
const openPages = [];

async function check(name, body) {
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    console.log(`FAILED ${name}: ${error.stack ?? error}`);
    const lastPage = openPages.at(-1);
    if (lastPage) {
      await lastPage.screenshot({ path: join(screenshots, "failure.png"), fullPage: true }).catch(() => {});
      console.log(`the page at ${lastPage.url()} showed:\n${await lastPage.locator("main").innerText().catch(() => "?")}`);
    }
    throw error;
  }
  console.log(`ok ${name} (${Date.now() - started} ms)`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** A page that records every request leaving the server (the console must work offline). */
async function openPage(browser, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.foreign = [];
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(base) && !url.startsWith("blob:") && !url.startsWith("data:")) page.foreign.push(url);
  });
  page.on("pageerror", (error) => console.log(`page error: ${error.message}`));
  page.on("dialog", (dialog) => dialog.accept());
  openPages.push(page);
  page.on("close", () => openPages.splice(openPages.indexOf(page), 1));
  return page;
}

async function signIn(page, key) {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/console\/#\/login$/);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.hash.startsWith("#/login"));
}

async function api(path, key, init = {}) {
  return fetch(`${base}${path}`, { ...init, headers: { Authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });
}

async function navLabels(page) {
  return page.locator("#nav a").allTextContents();
}

/** Sign-in, what scopes hide, API keys, webhooks' settings, the realtime page, sign-out. */
async function access(browser) {
  const page = await openPage(browser);
  await check("console is served at / and asks for a key", async () => {
    await page.goto(`${base}/`);
    await page.waitForURL(/\/console\/#\/login$/);
    await page.getByLabel("API key").waitFor();
    await shot(page, "login");
  });
  await check("a wrong key is refused with the server's reason", async () => {
    await page.getByLabel("API key").fill("dk_not_a_real_key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "not valid" }).waitFor();
    assert((await page.evaluate(() => sessionStorage.length)) === 0, "a refused key was kept");
  });
  await check("the admin key signs in and sees every section", async () => {
    await signIn(page, adminKey);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    const labels = await navLabels(page);
    for (const label of ["Dashboard", "Jobs", "New job", "Realtime", "API keys", "Webhooks"]) {
      assert(labels.includes(label), `nav lacks ${label}: ${labels}`);
    }
    const stored = await page.evaluate(() => ({ session: Object.values(sessionStorage), local: localStorage.length }));
    assert(stored.session.includes(adminKey) && stored.local === 0, `key storage: ${JSON.stringify(stored)}`);
  });

  let secret = "";
  await check("an API key is created with scopes and its secret shown once", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("heading", { name: "API keys" }).first().waitFor();
    await page.getByLabel("Name").fill("browser reader");
    for (const scope of ["jobs:write", "realtime"]) await page.locator(`#scope-${scope.replace(":", "\\:")}`).uncheck();
    await page.getByRole("button", { name: "Create key" }).click();
    secret = (await page.locator("#new-key-secret code").textContent()) ?? "";
    assert(/^dk_[A-Za-z0-9_-]{43}$/.test(secret), `secret shape: ${secret}`);
    await page.locator("#key-list").getByText("browser reader").waitFor();
    await shot(page, "keys");
    const me = await (await api("/auth/me", secret)).json();
    assert(JSON.stringify(me.scopes) === '["jobs:read"]', `scopes: ${JSON.stringify(me.scopes)}`);
    await page.reload();
    await page.locator("#key-list").getByText("browser reader").waitFor();
    assert((await page.locator("#new-key-secret").count()) === 0, "the secret is shown again after a reload");
    assert(!(await page.content()).includes(secret), "the secret is still in the page");
  });

  await check("a read-only key sees no write, key or webhook controls", async () => {
    const reader = await openPage(browser);
    await signIn(reader, secret);
    await reader.getByRole("heading", { name: "Dashboard" }).waitFor();
    const labels = await navLabels(reader);
    for (const hidden of ["New job", "API keys", "Webhooks", "Realtime"]) {
      assert(!labels.includes(hidden), `a jobs:read key sees ${hidden}: ${labels}`);
    }
    await reader.goto(`${base}/console/#/keys`);
    await reader.getByRole("heading", { name: "Dashboard" }).waitFor();
    await reader.goto(`${base}/console/#/jobs`);
    await reader.getByRole("heading", { name: "Jobs", exact: true }).waitFor();
    assert((await reader.getByRole("link", { name: "New job" }).count()) === 0, "New job offered to a reader");
    await shot(reader, "jobs-read-only");
    await reader.context().close();
  });

  await check("the key is revoked and stops working", async () => {
    await page.goto(`${base}/console/#/keys`);
    await page.getByRole("button", { name: "Revoke browser reader" }).click();
    await page.getByText("Revoked browser reader.").waitFor();
    const row = page.locator("#key-list tr", { hasText: "browser reader" });
    await row.getByText("revoked").waitFor();
    const status = (await api("/auth/me", secret)).status;
    assert(status === 401, `a revoked key answered ${status}`);
  });

  await check("a webhook is registered, edited and its secret rotated", async () => {
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByLabel("URL").fill("https://example.com/hooks/dalston");
    await page.getByLabel("Description").fill("first");
    await page.getByRole("button", { name: "Register" }).click();
    const first = (await page.locator("#webhook-secret code").textContent()) ?? "";
    assert(first.startsWith("whsec_"), `webhook secret: ${first}`);
    await shot(page, "webhooks");
    await page.getByRole("link", { name: "https://example.com/hooks/dalston" }).click();
    await page.getByRole("heading", { name: "Webhook", exact: true }).waitFor();
    await page.getByLabel("Description").fill("edited in the console");
    await page.getByLabel("transcription.cancelled").uncheck();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved.").waitFor();
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const rotated = (await page.locator("#webhook-secret code").textContent()) ?? "";
    assert(rotated.startsWith("whsec_") && rotated !== first, "the secret did not change");
    const { webhooks } = await (await api("/v1/webhooks", adminKey)).json();
    assert(webhooks[0].description === "edited in the console", `description: ${webhooks[0].description}`);
    assert(JSON.stringify(webhooks[0].events) === '["transcription.completed","transcription.failed"]', `events: ${webhooks[0].events}`);
    await shot(page, "webhook-detail");
  });

  await check("the realtime page says the server offers realtime transcription", async () => {
    await page.getByRole("link", { name: "Realtime" }).click();
    await page.getByText("This server offers realtime transcription over WebSocket").waitFor();
    await shot(page, "realtime");
  });

  await check("log out forgets the key", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/#\/login$/);
    assert((await page.evaluate(() => sessionStorage.length)) === 0, "the key is still stored");
    await page.goto(`${base}/console/#/jobs`);
    await page.waitForURL(/#\/login$/);
  });
  assert(page.foreign.length === 0, `requests left the server: ${page.foreign}`);
}

/** Dashboard, submit with progress, pipeline, transcript with a synchronised player, SRT,
 * a failed job's reason, webhook deliveries with a retry, and a phone-sized screen. */
async function jobs(browser) {
  const audio = env("DALSTON_AUDIO");
  const failedJob = env("DALSTON_FAILED_JOB");
  const page = await openPage(browser);
  await signIn(page, adminKey);
  const hookUrl = `http://127.0.0.1:9/closed-${Date.now()}`;

  await check("a webhook to a closed port is registered before the job", async () => {
    await page.goto(`${base}/console/#/webhooks`);
    await page.getByLabel("URL").fill(hookUrl);
    await page.getByRole("button", { name: "Register" }).click();
    await page.locator("#webhook-secret").waitFor();
  });

  let jobId = "";
  await check("the jfk recording is submitted with upload progress", async () => {
    await page.getByRole("link", { name: "New job" }).click();
    await page.getByLabel("Audio or video file").setInputFiles(audio);
    await page.getByLabel("Timestamps").selectOption("word");
    await page.getByLabel("Language").fill("en");
    await shot(page, "job-submit");
    // Navigation to the job is within the same document, so what the observer saw survives it.
    await page.evaluate(() => {
      const bar = document.querySelector("#upload-progress");
      window.progressSeen = [];
      new MutationObserver(() => window.progressSeen.push(bar.value)).observe(bar, { attributes: true });
    });
    await page.getByRole("button", { name: "Submit" }).click();
    await page.waitForURL(/#\/jobs\/job_/);
    jobId = new URL(page.url()).hash.split("/").pop();
    const seen = await page.evaluate(() => window.progressSeen);
    assert(seen.includes(100), `upload progress seen: ${seen}`);
  });

  await check("the job is watched to completion through its stages", async () => {
    await page.locator("#job-status").getByText("completed").waitFor({ timeout: TIMEOUT_MS });
    const rows = await page.locator("section[aria-labelledby=stages-heading] tbody tr").allInnerTexts();
    assert(rows.length >= 3, `stages: ${rows}`);
    for (const stage of ["prepare", "transcribe", "merge"]) {
      assert(rows.some((row) => row.startsWith(stage) && row.includes("completed")), `${stage} not completed: ${rows}`);
    }
  });

  await check("the transcript is shown word by word", async () => {
    const text = (await page.locator("#transcript").innerText()).toLowerCase().replace(/\s+/g, " ");
    assert(text.includes("ask not what your country can do for you"), `transcript: ${text}`);
    assert((await page.locator("#transcript .word").count()) > 15, "no word timings shown");
    await page.waitForFunction(() => document.querySelector("#player")?.readyState >= 1);
    await shot(page, "job-completed");
  });

  await check("playing moves the highlighted word, and a click on a word seeks to it", async () => {
    const country = page.locator("#transcript .word", { hasText: /country/i }).first();
    const countryStart = Number(await country.getAttribute("data-start"));
    await country.click();
    await page.waitForFunction(() => !document.querySelector("#player").paused);
    const afterSeek = await page.evaluate(() => document.querySelector("#player").currentTime);
    assert(afterSeek >= countryStart - 0.05, `the click did not seek: ${afterSeek} < ${countryStart}`);
    await page.locator("#transcript .word.current").waitFor();
    const first = Number(await page.locator("#transcript .word.current").getAttribute("data-start"));
    await page.waitForFunction(
      (start) => Number(document.querySelector("#transcript .word.current")?.getAttribute("data-start")) > start,
      first,
      { timeout: 10_000 },
    );
    const later = Number(await page.locator("#transcript .word.current").getAttribute("data-start"));
    assert(later > first, `the highlight did not move: ${first} → ${later}`);
    assert((await page.locator("#transcript .word.current").getAttribute("aria-current")) === "true", "no aria-current");
    await shot(page, "job-playing");
    await page.evaluate(() => document.querySelector("#player").pause());
  });

  await check("the SRT export downloads with the transcript's cues", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download SRT" }).click()]);
    assert(download.suggestedFilename() === `${jobId}.srt`, `file name ${download.suggestedFilename()}`);
    const srt = await readFile(await download.path(), "utf8");
    assert(/^1\r?\n00:00:0\d,\d{3} --> 00:00:\d\d,\d{3}\r?\n/.test(srt), `SRT starts: ${srt.slice(0, 80)}`);
    assert(/country/i.test(srt), `SRT text: ${srt}`);
  });

  await check("the failed job shows its reason, its failed stage and the retries", async () => {
    await page.goto(`${base}/console/#/jobs/${failedJob}`);
    const reason = await page.locator("#job-error").innerText();
    assert(/could not load model whisper-broken/.test(reason), `reason: ${reason}`);
    const transcribe = page.locator("section[aria-labelledby=stages-heading] tbody tr", { hasText: "transcribe" });
    const cells = await transcribe.locator("td").allInnerTexts();
    assert(cells[1] === "failed" && Number(cells[5]) >= 1 && /whisper-broken/.test(cells[6]), `transcribe row: ${cells}`);
    await shot(page, "job-failed");
  });

  await check("the jobs list filters by status and searches", async () => {
    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await page.locator("#job-results").getByText("jfk.wav").first().waitFor();
    await page.getByLabel("Status").selectOption("failed");
    await page.waitForFunction(() => document.querySelectorAll("#job-results tbody tr").length === 1);
    const failedRows = await page.locator("#job-results tbody tr").allInnerTexts();
    assert(failedRows.length === 1 && failedRows[0].includes("failed"), `failed filter: ${failedRows}`);
    await page.getByLabel("Status").selectOption({ label: "any status" });
    await page.waitForFunction(() => document.querySelectorAll("#job-results tbody tr").length >= 2);
    await page.getByLabel("Search this page").fill(jobId);
    await page.waitForFunction(() => document.querySelectorAll("#job-results tbody tr").length === 1);
    await page.getByLabel("Search this page").fill("");
    await shot(page, "jobs");
  });

  await check("the dashboard shows the queue per stage, engines with heartbeats and the error rate", async () => {
    await page.getByRole("link", { name: "Dashboard" }).click();
    const engines = page.locator("section[aria-labelledby=engines-heading] tbody tr");
    await engines.first().waitFor();
    const rows = await engines.allInnerTexts();
    assert(rows.some((row) => row.includes("transcribe") && row.includes("whisper-base")), `engines: ${rows}`);
    assert(rows.every((row) => / s ago/.test(row)), `heartbeats: ${rows}`);
    const stages = await page.locator("section[aria-labelledby=queue-heading] tbody tr").allInnerTexts();
    assert(["prepare", "transcribe", "merge"].every((stage) => stages.some((row) => row.startsWith(stage))), `queue: ${stages}`);
    const { jobs: listed } = await (await api("/v1/audio/transcriptions?limit=100", adminKey)).json();
    const failedCount = listed.filter((job) => job.status === "failed").length;
    const finished = failedCount + listed.filter((job) => job.status === "completed").length;
    const expected = `${((failedCount / finished) * 100).toFixed(1)} %`;
    const rate = await page.locator("#stat-error-rate").innerText();
    assert(failedCount >= 1 && rate.includes(expected) && rate.includes(`last ${finished} finished`), `error rate: ${rate}, expected ${expected}`);
    const realtime = await page.locator("#stat-realtime").innerText();
    assert(realtime.includes("0 / 4"), `realtime capacity: ${realtime}`);
    const before = await page.locator("#dashboard-updated").innerText();
    await page.waitForFunction((text) => document.querySelector("#dashboard-updated").innerText !== text, before, { timeout: 10_000 });
    await shot(page, "dashboard");
  });

  await check("the webhook's failed delivery is logged and retried", async () => {
    await page.goto(`${base}/console/#/webhooks`);
    await page.getByRole("link", { name: hookUrl }).click();
    const row = page.locator("#delivery-list tbody tr").first();
    for (let tries = 0; tries < 50 && !(await row.innerText().catch(() => "")).includes("failed"); tries += 1) {
      await page.waitForTimeout(200);
      await page.getByRole("button", { name: "Refresh" }).click();
    }
    const cells = await row.locator("td").allInnerTexts();
    assert(cells[0] === "transcription.completed" && cells[1] === jobId && cells[2] === "failed", `delivery: ${cells}`);
    await shot(page, "webhook-deliveries");
    await row.getByRole("button", { name: "Retry" }).click();
    await page.getByText("The delivery is queued again.").waitFor();
  });

  await check("job pages fit a phone's screen", async () => {
    const phone = await openPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await signIn(phone, adminKey);
    await phone.getByRole("heading", { name: "Dashboard" }).waitFor();
    await phone.locator("section[aria-labelledby=engines-heading] tbody tr").first().waitFor();
    await shot(phone, "phone-dashboard");
    await phone.goto(`${base}/console/#/jobs/${jobId}`);
    await phone.locator("#transcript .word").first().waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the job page is ${overflow} px wider than the phone`);
    await shot(phone, "phone-job");
    await phone.context().close();
  });

  await check("a finished job is re-run with its options, the re-run cancelled and the original deleted", async () => {
    await page.goto(`${base}/console/#/jobs/${jobId}`);
    await page.getByRole("button", { name: "Re-run" }).click();
    await page.waitForURL((url) => url.hash.startsWith("#/jobs/job_") && !url.hash.endsWith(jobId));
    const rerun = new URL(page.url()).hash.split("/").pop();
    const job = await (await api(`/v1/audio/transcriptions/${rerun}`, adminKey)).json();
    assert(job.parameters.language === "en" && job.display_name === "jfk.wav", `re-run: ${JSON.stringify(job.parameters)}`);
    await page.getByRole("button", { name: "Cancel job" }).click();
    await page.getByText("Cancellation requested.").waitFor();
    // The console's part ends with the request accepted: a running stage may take a while
    // (under load, minutes) to notice it, so "cancelling" counts as well as "cancelled".
    await page.locator("#job-status").getByText(/^cancell(ing|ed)$/).waitFor();
    const cancelled = await (await api(`/v1/audio/transcriptions/${rerun}`, adminKey)).json();
    assert(["cancelling", "cancelled"].includes(cancelled.status), `after cancel: ${cancelled.status}`);
    await shot(page, "job-cancelled");
    await page.goto(`${base}/console/#/jobs/${jobId}`);
    await page.getByRole("button", { name: "Delete job" }).click();
    await page.waitForURL(/#\/jobs$/);
    const status = (await api(`/v1/audio/transcriptions/${jobId}`, adminKey)).status;
    assert(status === 404, `deleted job answered ${status}`);
  });
  assert(page.foreign.length === 0, `requests left the server: ${page.foreign}`);
}

const browser = await chromium.launch({
  executablePath: env("DALSTON_CHROMIUM"),
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
try {
  if (scenario === "access") await access(browser);
  else if (scenario === "jobs") await jobs(browser);
  else throw new Error(`unknown scenario ${scenario}: access or jobs`);
} catch {
  process.exitCode = 1;
} finally {
  await browser.close();
}
