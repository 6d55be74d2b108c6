// The trial page: what the desktop annotation window does (study_app/gui/main_window.py,
// trial_page.py), in a browser, over the HTTP API (docs: the web front end's contract).
//
// The server owns the session (which trial is current, breaks, undo rules, scores); the
// page shows its State, turns what the annotator did into an answer and sends it. Every
// answer enters a queue in localStorage before it is sent and leaves it only on the
// server's 200 ("saved" is shown then, never before); until then it is re-sent, on load,
// on `online` and with backoff, under its one uuid, so a retry never counts twice.
// Timed phases run fixation, image and mask in whole frames on requestAnimationFrame and
// report the frame times they measured.

import { AnswerQueue, api, measureFrameMs, Refused, utcNow, uuid4 } from "./common.js";
import { isTyping, Labels, Picker } from "./picker.js";

const $ = (id) => document.getElementById(id);
/** The flag reasons (protocol/responses.py FLAG_REASONS), keys 1, 2, 3 in the flag bar. */
const FLAG_REASONS = ["broken", "offensive", "ambiguous"];
/** How long "Time's up" stays (Enter goes on sooner, after the key guard). */
const TIMES_UP_MS = 1500;
/** The countdown turns red in its last seconds: the guesses so far are all that will be kept. */
const COUNTDOWN_URGENT_S = 5;
/** A "Loading…" screen only for an image that takes longer than this to arrive. */
const LOADING_SCREEN_MS = 200;
const ZOOM_STEP = 1.25;
const MAX_ZOOM = 8;
/** One pan key moves a zoomed image by this share of the view. */
const PAN_STEP = 0.25;
/** Keys a browser keeps for itself whatever the page does (no keydown, or no preventDefault):
 * the help says so next to a command bound to one, and its button still works. */
const BROWSER_KEEPS = new Set([
  "F6", "F11", "F12", "Ctrl+N", "Ctrl+T", "Ctrl+W", "Ctrl+Q", "Ctrl+Tab", "Ctrl+Shift+Tab",
  "Ctrl+Shift+N", "Ctrl+Shift+T", "Ctrl+Shift+W", "Ctrl+Shift+Q", "Alt+F4", "Alt+Left", "Alt+Right",
]);
/** Events one request may carry (the server refuses more). */
const MAX_EVENTS = 200;
/** What a non-answer's feedback says in place of the classes given. */
const NO_CLASS = {
  not_sure: "you answered 'not sure'",
  none_of_these: "you answered 'none of these classes'",
  timeout: "no class chosen before the time ran out",
  skip: "skipped",
};
/** Names of browser keys as protocol/keys.py writes them. */
const KEY_NAMES = {
  Enter: "Return", Escape: "Esc", ArrowLeft: "Left", ArrowRight: "Right", ArrowUp: "Up", ArrowDown: "Down",
  PageUp: "PgUp", PageDown: "PgDown", " ": "Space", Backspace: "Backspace", Delete: "Delete",
  Insert: "Insert", Home: "Home", End: "End", Tab: "Tab",
};

let config = null;
let labels = null;
let picker = null;
let queue = null;
let keys = {};
const keyCommands = new Map();
let keyGuardMs = 300;
let frameMs = null;
const frameMeasured = measureFrameMs().then((ms) => {
  frameMs = ms;
  return ms;
});

let state = null; // the server's last State
let latest = null; // the newest State an acknowledgement brought
let T = null; // the trial on screen
let generation = 0; // bumped by every change of screen: a late async step of an older one does nothing
const left = new Map(); // position -> {saved, then}: a trial left for a pause or an undo, until shown again
let awaiting = null; // {answer, trial}: the answer just given, until the server acknowledges it
let waitingForDrain = false;
let screen = "loading";
let messageAction = null;
let messageShownAt = null;
let lastAnsweredFeedback = false; // the phase just answered had feedback (a break may then give its score)
let commands = Promise.resolve(); // commands run in order: Enter's class is in before Ctrl+Return submits
const eventBuffer = [];

// -- small helpers -------------------------------------------------------------------
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function capitalize(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function duration(ms) {
  let seconds = Math.floor(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  seconds %= 60;
  const two = (n) => String(n).padStart(2, "0");
  return hours ? `${hours} h ${two(minutes)} min ${two(seconds)} s` : `${minutes} min ${two(seconds)} s`;
}

function elapsed(trial = T) {
  return !trial || trial.onset === null ? 0 : Math.max(0, performance.now() - trial.onset);
}

/** At most MAX_EVENTS (the server's limit per request): the first and the last ones, and
 * how many were left out between them (a long search session must not make an answer unsendable). */
function bounded(events) {
  if (events.length <= MAX_EVENTS) return events;
  const head = events.slice(0, MAX_EVENTS / 2);
  const tail = events.slice(events.length - (MAX_EVENTS / 2 - 1));
  const dropped = { kind: "events_dropped", t_ms: tail[0].t_ms, detail: { count: events.length - head.length - tail.length } };
  return [...head, dropped, ...tail];
}

/** The key combination of a keydown as protocol/keys.py writes it ("Ctrl+Return", "Shift+F7"). */
function keyString(event) {
  let key = event.key;
  if (KEY_NAMES[key]) key = KEY_NAMES[key];
  else if (/^F\d{1,2}$/.test(key)) key = event.key;
  else if (key.length === 1) {
    // Ctrl+Z on a keyboard whose Z writes another letter: the key's place names it
    key = (event.ctrlKey || event.altKey) && /^Key[A-Z]$/.test(event.code) && !/^[A-Za-z]$/.test(key) ? event.code[3] : key.toUpperCase();
  } else return null;
  const mods = [];
  if (event.ctrlKey) mods.push("Ctrl");
  if (event.shiftKey && key.length > 1) mods.push("Shift"); // Shift+'=' writes '+': the character says it
  if (event.altKey) mods.push("Alt");
  if (event.metaKey) mods.push("Meta");
  return [...mods, key].join("+");
}

function normaliseKey(text) {
  return text.replace(/\bEnter$/, "Return");
}

function seenKey() {
  return `study_app:${config.study.name}:${state.annotator}:seen`;
}

/** Break and phase-start screens already shown in this tab (a reload does not show them again). */
function seen(what) {
  try {
    return JSON.parse(sessionStorage.getItem(seenKey()) || "[]").includes(what);
  } catch (error) {
    return false;
  }
}

function markSeen(what) {
  try {
    const marks = JSON.parse(sessionStorage.getItem(seenKey()) || "[]");
    marks.push(what);
    sessionStorage.setItem(seenKey(), JSON.stringify(marks.slice(-50)));
  } catch (error) {
    // without sessionStorage a reload shows the screen once more: harmless
  }
}

// -- events --------------------------------------------------------------------------
/** A note into the trial's own events (sent with its answer). */
function log(kind, detail = {}) {
  if (T) T.events.push({ kind, t_ms: elapsed(), detail });
}

/** A note outside any trial (breaks, pauses' screens, attention away from them): POST /api/events,
 * kept and sent with the next note if the server cannot take it now. Never an error on screen. */
function note(kind, detail = {}) {
  eventBuffer.push({ kind, t_ms: performance.now(), detail });
  eventBuffer.splice(0, Math.max(0, eventBuffer.length - MAX_EVENTS));
  const batch = eventBuffer.splice(0, eventBuffer.length);
  api("POST", "/api/events", { events: batch }).catch((error) => {
    if (!(error instanceof Refused)) eventBuffer.unshift(...batch);
  });
}

/** Attention leaving or coming back: the trial's events while a trial is answered, else a session note. */
function attention(kind, detail = {}) {
  if (screen === "trial" && T && T.accepting) log(kind, detail);
  else if (config && state) note(kind, detail);
}

// -- screens -------------------------------------------------------------------------
function setScreen(name) {
  screen = name;
  document.body.dataset.screen = name;
  $("trial").hidden = name !== "trial";
  $("message").hidden = name !== "message";
  if (name !== "trial") document.body.dataset.ready = "0";
}

function status(text) {
  const flagged = T && T.flag[0] ? `   [flagged: ${T.flag[0]}]` : "";
  $("status").textContent = text + flagged;
}

function setSaved(kind, text) {
  $("saved").dataset.saved = kind;
  $("saved").textContent = text;
}

/** A screen with a heading, lines and a Continue button; Enter or Space continues once the
 * screen has been painted for the study's key guard (a key meant for the screen before
 * must not skip it); `momentMs`: it goes on by itself after that long. */
function showMessage(heading, lines, then, { button = "Continue (Enter)", kind = "message", momentMs = null, image = null, examplesOf = null, headingClass = "" } = {}) {
  generation += 1;
  const gen = generation;
  messageAction = then;
  $("message-heading").textContent = heading;
  $("message-heading").className = headingClass;
  $("message-body").replaceChildren(...lines.filter(Boolean).map((line) => (typeof line === "string" ? el("p", "", line) : line)));
  $("message-image").hidden = !image;
  if (image) $("message-image").src = image;
  $("message-examples").replaceChildren();
  if (examplesOf && picker) picker.examples.show(examplesOf, $("message-examples"));
  $("message-button").textContent = button;
  $("message-button").hidden = then === null;
  document.body.dataset.message = kind;
  document.body.dataset.accepting = "0";
  messageShownAt = null;
  $("status").textContent = "";
  setScreen("message");
  $("message").focus();
  requestAnimationFrame(() => {
    if (gen !== generation) return;
    messageShownAt = performance.now();
    setTimeout(() => {
      if (gen === generation) document.body.dataset.accepting = "1";
    }, keyGuardMs);
  });
  if (momentMs !== null) setTimeout(() => gen === generation && continueMessage(false), momentMs);
}

function continueMessage(byKey) {
  if (screen !== "message" || !messageAction) return;
  if (byKey && (messageShownAt === null || performance.now() - messageShownAt < keyGuardMs)) return;
  const action = messageAction;
  messageAction = null;
  action();
}

function renderProgress() {
  $("progress-bar").style.width = `${state.total ? (100 * state.position) / state.total : 0}%`;
}

// -- the flow ------------------------------------------------------------------------
/** Show whatever the server's State says comes next: the end, a break, a phase's start, the trial. */
function advance(next) {
  generation += 1;
  state = next;
  latest = next;
  if (T) stopTrial(T);
  renderProgress();
  if (next.complete) {
    setScreen("loading");
    location.replace("/end");
    return;
  }
  const pause = next.break;
  if (pause && !seen(`break:${next.position}`)) {
    const lines = [`You have finished ${next.position} of ${next.total} images.`, `Time in this sitting: ${duration(performance.now())}.`];
    if (lastAnsweredFeedback && typeof pause.correct === "number" && pause.answered) {
      lines.push(`In the last block: ${pause.correct} of ${pause.answered} correct.`);
    }
    lines.push("Take a short rest. Continue when you are ready.");
    note("break_start", { position: next.position });
    showMessage("Break", lines, () => {
      markSeen(`break:${next.position}`);
      note("break_end", { position: next.position });
      advance(next);
    }, { kind: "break" });
    return;
  }
  const trial = next.trial;
  if (!trial) {
    showMessage("Nothing to show", ["The server sent no image to show. Reload the page to try again."], () => location.reload());
    return;
  }
  const phase = trial.phase;
  if (phase.starts && !seen(`intro:${phase.name}`)) {
    const lines = [
      `${phase.size} images.`,
      phase.feedback ? "After each answer you will see whether it was right." : "There is no feedback in this part.",
    ];
    if (phase.presentation) {
      lines.push(`Each image is shown only briefly (${phase.presentation.image_ms} ms); look at the cross in the middle.`);
    }
    if (phase.time_limit_s) lines.push(`You have ${phase.time_limit_s} s for each image.`);
    showMessage(capitalize(phase.name), lines, () => {
      markSeen(`intro:${phase.name}`);
      advance(next);
    }, { kind: "intro" });
    return;
  }
  showTrial(trial);
}

/** Images by URL, fetched and decoded before they are shown (never half-loaded), the last
 * few kept. Fetched with fetch() rather than by an <img> so that the status is seen: a 429
 * (the participant's rate limit), a 5xx or a lost connection is waited out and asked again
 * (`onWait` says so), and only the server's "no such image" (another 4xx) makes an image
 * broken, which skips its trial: a busy server must never turn a trial into a skip. */
const images = {
  cache: new Map(),
  load(url, onWait = () => {}) {
    if (!this.cache.has(url)) {
      const ready = fetchImage(url, onWait);
      ready.then(
        () => {},
        () => this.cache.delete(url)
      );
      this.cache.set(url, ready);
      while (this.cache.size > 6) {
        const [oldest, image] = this.cache.entries().next().value;
        this.cache.delete(oldest);
        image.then((img) => URL.revokeObjectURL(img.src), () => {});
      }
    }
    return this.cache.get(url);
  },
};

async function fetchImage(url, onWait) {
  let backoffMs = 250;
  for (;;) {
    let response = null;
    try {
      response = await fetch(url, { credentials: "same-origin" });
    } catch (error) {
      response = null; // no connection: wait and ask again
    }
    if (response && response.ok) {
      const img = new Image();
      img.alt = "the image to classify";
      img.src = URL.createObjectURL(await response.blob());
      await img.decode();
      return img;
    }
    if (response && response.status !== 429 && response.status < 500) {
      throw new Refused(response.status, `the server has no such image (HTTP ${response.status})`);
    }
    const after = response ? Number(response.headers.get("Retry-After")) : NaN;
    const waitMs = Number.isFinite(after) && after > 0 ? after * 1000 : backoffMs;
    backoffMs = Math.min(backoffMs * 2, 15000);
    onWait(response ? `the server is busy (HTTP ${response.status})` : "no connection to the study server", waitMs);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}

async function showTrial(trial) {
  const gen = generation;
  // still wanted: nothing else came on screen meanwhile (the "Loading…" screen is this one's own)
  const wanted = () => gen === generation || (screen === "message" && document.body.dataset.message === "loading");
  const slow = setTimeout(() => {
    if (gen === generation) showMessage("Loading…", ["The next image is being prepared."], null, { kind: "loading" });
  }, LOADING_SCREEN_MS);
  let img;
  try {
    img = await images.load(trial.image, (why, ms) => {
      if (wanted()) status(`The image is on its way (${why}); asking again in ${Math.ceil(ms / 1000)} s.`);
    });
    if (trial.phase.presentation && frameMs === null) await frameMeasured;
    if (trial.mask) {
      if ($("mask").getAttribute("src") !== trial.mask) $("mask").src = trial.mask;
      await $("mask").decode().catch(() => {}); // decoded before the first timed trial's sequence
    }
  } catch (error) {
    clearTimeout(slow);
    if (wanted()) brokenImage(trial);
    return;
  }
  clearTimeout(slow);
  if (!wanted()) return;
  if (trial.next_image) images.load(trial.next_image).catch(() => {});
  generation += 1;
  startTrial(trial, img);
}

function startTrial(trial, img) {
  const phase = trial.phase;
  T = {
    position: trial.position,
    phase,
    trial,
    img,
    onset: null,
    carried: null,
    shownAt: "",
    presentedMs: null,
    timing: null,
    exposures: 0,
    events: [],
    flag: [null, ""],
    slots: new Array(Math.max(1, phase.answers)).fill(null),
    multi: phase.mode !== "ranked",
    slotIndex: -1,
    accepting: true,
    confirming: null,
    running: false,
    deadline: null,
    ticker: null,
    zoom: 1,
    pan: [0, 0],
    revising: trial.revising,
  };
  $("heading").textContent = capitalize(phase.name);
  const overall = state.total !== phase.size ? `  ·  ${state.position + 1} of ${state.total} in all` : "";
  $("counter").textContent = `· image ${phase.index + 1} of ${phase.size}${overall}`;
  $("answer-title").textContent = T.multi
    ? `Your answer: select up to ${phase.answers} classes that apply`
    : phase.answers === 1
      ? "Your answer"
      : `Your answer: up to ${phase.answers} guesses, most likely first`;
  $("stage").replaceChildren(img);
  applyZoom();
  renderSlots();
  resetFlagBar();
  $("undo-button").hidden = !phase.undo;
  $("undo-button").disabled = !state.can_undo;
  status("");
  picker.reset();
  setScreen("trial");
  document.body.dataset.position = String(T.position);
  document.body.dataset.ready = "0";
  const kept = left.get(T.position);
  left.delete(T.position);
  let how = "show";
  if (kept) how = restore(kept.saved, kept.then);
  else if (T.revising) showRevision(T.revising);
  else if (state.resumed && !seen("resumed")) {
    markSeen("resumed");
    status("Welcome back: you go on where you stopped.");
  }
  if (how === "show") showImage(T);
}

/** Put back what a trial had when it was left (a pause, an undo of the answer before it).
 * `then` (the server's after_pause): "respond", straight to the response screen without the
 * image; "repeat", a fresh timed exposure; "continue", as it was, the time away not counted. */
function restore(saved, then) {
  T.events = [...saved.events];
  T.flag = saved.flag;
  T.exposures = saved.exposures;
  for (const id of saved.labels) placeLabel(id);
  renderSlots();
  if (saved.labels.length) log("restored", { labels: saved.labels.join(" ") }); // event details hold plain values only
  const kept = saved.labels.length ? ` with the ${saved.labels.length} class(es) you had chosen` : "";
  if (then === "repeat" && saved.seen) status(`The image is shown once more${kept} (noted with your answer).`);
  if (then === "repeat" || !saved.seen) return "show";
  T.shownAt = saved.shownAt;
  T.presentedMs = saved.presentedMs;
  T.timing = saved.timing;
  T.carried = saved.elapsed;
  if (then === "respond") {
    T.onset = performance.now() - T.carried;
    startDeadline(T);
    responseScreen(T);
    status(`Back at your answer${kept}; the image is not shown again.`);
    return "respond";
  }
  status(`Back at this image${kept}.`);
  return "show";
}

function showRevision(revising) {
  for (const id of revising.labels || []) placeLabel(id);
  renderSlots();
  const given = (revising.labels || []).map((id) => labels.name(id)).join(", ") || (revising.outcome || "").replace(/_/g, " ");
  status(`Revising your last answer (it was: ${given}). Submit to replace it; ${keys.undo} again or Esc keeps it.`);
}

function setView(mode) {
  $("view").dataset.mode = mode;
}

function showImage(trial) {
  if (trial.phase.presentation) {
    runPresentation(trial);
    return;
  }
  picker.setEnabled(true);
  setView("image");
  requestAnimationFrame((t) => {
    if (T !== trial) return;
    imageOnScreen(trial, t);
    document.body.dataset.ready = "1";
  });
}

/** The image's first frame: the response time starts (a trial brought back counts on from where it was). */
function imageOnScreen(trial, t) {
  if (trial.onset !== null || !trial.accepting) return;
  trial.onset = t - (trial.carried || 0);
  if (trial.carried === null) trial.shownAt = utcNow();
  startDeadline(trial);
}

/** Fixation, image and mask for whole numbers of frames, switched in requestAnimationFrame
 * callbacks; each switch's callback time is kept, and their differences are the measured
 * durations. A switch falls due when the phase has had its frames less half a frame, so a
 * late frame shortens what follows it rather than lengthening every later part. */
function runPresentation(trial) {
  const p = trial.phase.presentation;
  const fm = frameMs || 1000 / 60;
  const frames = {
    fixation: Math.max(1, Math.round(p.fixation_ms / fm)),
    image: Math.max(1, Math.round(p.image_ms / fm)),
    mask: Math.max(1, Math.round(p.mask_ms / fm)),
  };
  const plan = ["fixation", "image", "mask"];
  const marks = [];
  let last = null;
  let dropped = 0;
  let step = -1;
  picker.setEnabled(false);
  setView("blank");
  trial.running = true;
  const frame = (t) => {
    if (T !== trial || !trial.running) return;
    if (last !== null && t - last > 1.5 * fm) dropped += Math.round((t - last) / fm) - 1;
    last = t;
    if (step < 0 || t - marks[step] >= (frames[plan[step]] - 0.5) * fm) {
      step += 1;
      marks.push(t);
      if (step === plan.length) {
        trial.running = false;
        trial.timing = {
          refresh_hz: Math.round(10000 / fm) / 10,
          frames,
          measured_ms: { fixation: marks[1] - marks[0], image: marks[2] - marks[1], mask: marks[3] - marks[2] },
          dropped_frames: dropped,
        };
        responseScreen(trial);
        return;
      }
      setView(plan[step]);
      if (plan[step] === "image") {
        trial.exposures += 1;
        if (trial.exposures > 1) log("exposure", { number: trial.exposures });
        trial.carried = null;
        trial.onset = null;
        imageOnScreen(trial, t);
      } else if (plan[step] === "mask") {
        trial.presentedMs = marks[2] - marks[1];
      }
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

function responseScreen(trial) {
  setView("blank");
  picker.setEnabled(true);
  picker.focusSearch();
  document.body.dataset.ready = "1";
}

function startDeadline(trial) {
  const limit = trial.phase.time_limit_s;
  if (!limit) return;
  trial.deadline = setTimeout(() => {
    if (T === trial) submitOutcome("timeout");
  }, Math.max(0, limit * 1000 - elapsed(trial)));
  if (trial.phase.countdown) {
    const tick = () => {
      const rest = Math.max(0, limit - elapsed(trial) / 1000);
      $("countdown").textContent = `time left: ${rest.toFixed(1)} s`;
      $("countdown").classList.toggle("urgent", rest <= COUNTDOWN_URGENT_S);
    };
    trial.ticker = setInterval(tick, 100);
    tick();
  }
}

function stopTrial(trial) {
  trial.running = false;
  trial.accepting = false;
  clearTimeout(trial.deadline);
  clearInterval(trial.ticker);
  $("countdown").textContent = "";
  $("countdown").classList.remove("urgent");
}

/** Leave the trial for a while: what it has, for restore(). An image cut short by a pause
 * counts as shown for as long as it was on screen. */
function suspend(trial) {
  const time = trial.onset !== null ? elapsed(trial) : null;
  let presented = trial.presentedMs;
  if (presented === null && time !== null && trial.phase.presentation) presented = time;
  stopTrial(trial);
  return {
    labels: filled(trial),
    events: [...trial.events],
    flag: trial.flag,
    elapsed: time,
    seen: time !== null,
    shownAt: trial.shownAt,
    presentedMs: presented,
    timing: trial.timing,
    exposures: trial.exposures,
  };
}

// -- the answer slots ----------------------------------------------------------------
function filled(trial = T) {
  return trial.slots.filter((id) => id !== null);
}

/** Put a class in the first free slot, quietly (a restored or revised answer). */
function placeLabel(id) {
  const free = T.slots.indexOf(null);
  if (free >= 0 && !T.slots.includes(id)) T.slots[free] = id;
}

function renderSlots() {
  $("slots").replaceChildren(
    ...T.slots.map((id, index) => {
      const row = el("li", id === null ? "slot empty" : "slot", `${T.multi ? "•" : `${index + 1}.`} ${id === null ? "—" : labels.name(id)}`);
      if (id !== null) row.dataset.id = id;
      if (index === T.slotIndex) row.classList.add("current");
      return row;
    })
  );
}

function slotsChanged(message) {
  T.confirming = null; // a changed answer asks afresh
  T.slots = [...filled(), ...new Array(T.slots.length - filled().length).fill(null)];
  renderSlots();
  status(message);
}

function addLabel(id) {
  if (!T || !T.accepting) return;
  const name = labels.name(id);
  if (T.slots.includes(id)) {
    status(`${name} is already in your answer`);
    return;
  }
  if (T.slots.length === 1 && T.slots[0] !== null) {
    const replaced = T.slots[0];
    T.slots[0] = id;
    slotsChanged(`${name} replaces ${labels.name(replaced)}`);
  } else if (!T.slots.includes(null)) {
    status("All slots are full: remove one first (F7, or F4 then Delete)");
    return;
  } else {
    T.slots[T.slots.indexOf(null)] = id;
    slotsChanged(`added ${name}`);
  }
  log("add_label", { label_id: id });
}

function removeAt(index) {
  if (!T || T.slots[index] === null || T.slots[index] === undefined) return;
  const name = labels.name(T.slots[index]);
  T.slots[index] = null;
  slotsChanged(`removed ${name}`);
}

function removeLast() {
  const count = filled().length;
  if (count) removeAt(count - 1);
}

function clearAnswer() {
  T.slots.fill(null);
  slotsChanged("answer cleared");
}

function focusSlots() {
  $("slots").focus();
  if (T.slotIndex < 0) T.slotIndex = 0;
  renderSlots();
}

function slotsKey(event) {
  if (!T || event.ctrlKey || event.metaKey) return;
  const step = { ArrowUp: -1, ArrowDown: 1 }[event.key];
  if (step !== undefined && event.altKey) {
    const other = T.slotIndex + step;
    if (!T.multi && T.slots[T.slotIndex] && T.slots[other]) {
      [T.slots[T.slotIndex], T.slots[other]] = [T.slots[other], T.slots[T.slotIndex]];
      T.slotIndex = other;
      slotsChanged("reordered");
    }
  } else if (step !== undefined) {
    T.slotIndex = Math.max(0, Math.min(T.slots.length - 1, T.slotIndex + step));
    renderSlots();
  } else if ((event.key === "Delete" || event.key === "Backspace") && !event.altKey) {
    removeAt(T.slotIndex);
  } else return;
  event.preventDefault();
}

// -- flagging ------------------------------------------------------------------------
let flagBefore = [null, ""];

function checkedReason() {
  const checked = document.querySelector("input[name=flag]:checked");
  return checked ? checked.value : null;
}

function setReason(reason) {
  for (const input of document.querySelectorAll("input[name=flag]")) input.checked = input.value === reason;
  $("flag-hint").textContent = "";
}

function resetFlagBar() {
  setReason(null);
  $("flag-note").value = "";
  $("flag-bar").hidden = true;
}

function openFlag() {
  flagBefore = [checkedReason(), $("flag-note").value];
  $("flag-hint").textContent = "";
  $("flag-bar").hidden = false;
  $("flag-note").focus();
}

function setFlag(reason, text) {
  T.flag = [reason, text];
  log("flag", { reason, note: text });
  status(reason ? "image flagged" : "flag removed");
  picker.focusSearch();
}

/** The flag bar's note: 1/2/3 (Alt+1/2/3 after a note) pick the reason, Enter keeps the flag
 * (not without a reason: none is chosen for the annotator), Esc cancels the edit,
 * Ctrl+Delete removes the flag. */
function flagKey(event) {
  const number = Number(event.key);
  if (number >= 1 && number <= FLAG_REASONS.length && (event.altKey || !$("flag-note").value) && !event.ctrlKey) {
    setReason(FLAG_REASONS[number - 1]);
  } else if (event.key === "Delete" && event.ctrlKey) {
    resetFlagBar();
    setFlag(null, "");
  } else if (event.key === "Escape") {
    const [reason, text] = flagBefore;
    setReason(reason);
    $("flag-note").value = text;
    $("flag-bar").hidden = true;
    status("flag unchanged");
    picker.focusSearch();
  } else if (event.key === "Enter" && !event.ctrlKey) {
    const reason = checkedReason();
    if (!reason) {
      const choices = FLAG_REASONS.map((r, i) => `${i + 1} ${r}`).join(", ");
      $("flag-hint").textContent = `Choose a reason first: ${choices} (Alt+number after a note); Esc cancels`;
    } else {
      $("flag-bar").hidden = true;
      setFlag(reason, $("flag-note").value.trim());
    }
  } else return;
  event.preventDefault();
  event.stopPropagation();
}

// -- answering -----------------------------------------------------------------------
function submit() {
  if (!T || !T.accepting || T.onset === null) return;
  if (!filled().length) {
    status(`Choose at least one class first (or ${keys.not_sure} 'not sure', ${keys.none_of_these} 'none of these')`);
    return;
  }
  send("answer", filled());
}

/** An answer without a class: "not sure", "none of these", or the deadline's "timeout".
 * Over classes in the slots the first F5/F6 only asks (a stray key must not drop guesses),
 * and so it does where the answer cannot be taken back; a timeout keeps the slots' classes. */
function submitOutcome(outcome) {
  if (!T || !T.accepting || T.onset === null) return;
  if (outcome !== "timeout" && T.confirming !== outcome) {
    const count = filled().length;
    const what = `'${outcome.replace(/_/g, " ")}'`;
    if (count) {
      T.confirming = outcome;
      status(`Your answer holds ${count} class${count > 1 ? "es" : ""}. Press ${keys[outcome]} again to answer ${what} instead (dropping them), or ${keys.submit} to submit them.`);
      return;
    }
    if (!T.phase.undo) {
      T.confirming = outcome;
      status(`Press ${keys[outcome]} again to answer ${what} (it cannot be undone here).`);
      return;
    }
  }
  T.confirming = null;
  send(outcome, outcome === "timeout" ? filled() : []);
}

function send(outcome, chosen) {
  const trial = T;
  trial.accepting = false;
  stopTrial(trial);
  const answer = {
    uuid: uuid4(),
    position: trial.position,
    outcome,
    labels: chosen,
    rt_ms: elapsed(trial),
    shown_at: trial.shownAt,
    answered_at: utcNow(),
    presented_ms: trial.presentedMs,
    flag: trial.flag[0],
    flag_note: trial.flag[1],
    events: bounded(trial.events),
    timing: trial.timing,
  };
  deliver(answer, trial);
}

/** Queue the answer (localStorage first), then send the queue. */
function deliver(answer, trial) {
  queue.add(answer);
  awaiting = { answer, trial };
  document.body.dataset.ready = "0";
  setSaved("saving", "saving your answer…");
  flushQueue();
}

const queueHandlers = {
  acked(answer, response) {
    latest = response.state;
    if (awaiting && awaiting.answer.uuid === answer.uuid) {
      const given = awaiting;
      awaiting = null;
      answered(given, response);
    }
  },
  refused(answer, error) {
    if (error.body && error.body.state) latest = error.body.state;
    const given = awaiting && awaiting.answer.uuid === answer.uuid ? awaiting : null;
    if (given) awaiting = null;
    if (error.status === 401) {
      setSaved("error", "not saved: session unknown");
      showMessage("Your session is not recognised", [
        `${error.message}.`,
        "Your answers not yet saved are kept in this browser. Open the study link again to go on.",
      ], null, { kind: "error" });
    } else if (error.body && error.body.state) {
      setSaved("error", "answer not taken");
      showMessage("This answer was not taken", [`${error.message}.`, "You go on where the study stands now."], () => advance(latest), { kind: "error" });
    } else if (given && given.trial === T) {
      // refused as it is (a bad body): the answer stays on screen to be changed and sent again
      setSaved("error", "not saved");
      T.accepting = true;
      status(`Your answer could NOT be saved (${error.message}). It is kept here; press ${keys.submit} to try again.`);
      document.body.dataset.ready = "1";
    } else {
      setSaved("error", "not saved");
      showMessage("An answer was not taken", [`${error.message}.`], () => advance(latest), { kind: "error" });
    }
  },
  waiting(error, ms) {
    setSaved("retry", `not saved yet (${error.message}): trying again in ${Math.ceil(ms / 1000)} s; kept in this browser`);
  },
  drained() {
    if (waitingForDrain) {
      waitingForDrain = false;
      advance(latest);
    }
  },
};

function flushQueue() {
  return queue.flush(queueHandlers);
}

/** The server has the answer: feedback (training), "time's up", or straight on. */
function answered(given, response) {
  setSaved("saved", "last answer saved ✓");
  left.delete(given.answer.position);
  lastAnsweredFeedback = Boolean(given.trial && given.trial.phase.feedback);
  const next = response.state;
  if (response.feedback) showFeedback(response.feedback, given, next);
  else if (given.answer.outcome === "timeout") timesUp(given, next);
  else advance(next);
}

function showFeedback(feedback, given, next) {
  const truth = feedback.truth.map((t) => t.id);
  const first = feedback.given.length > 0 && truth.includes(feedback.given[0]);
  let heading;
  let headingClass = "bad";
  if (feedback.outcome === "timeout") heading = `Time's up: ${feedback.correct ? "correct" : "not correct"}`;
  else if (feedback.correct && (first || feedback.given.length === 1)) [heading, headingClass] = ["Correct", "good"];
  else if (feedback.correct) [heading, headingClass] = ["Correct (not your first guess)", "good"];
  else heading = "Not correct";
  const truthBox = el("div", "truth");
  truthBox.append(el("b", "", truth.length === 1 ? "The correct class is:" : "Correct classes:"));
  for (const t of feedback.truth) truthBox.append(labels.get(t.id) ? labels.describe(t.id) : el("div", "", t.name));
  const givenBox = el("div", "given");
  givenBox.append(el("b", "", feedback.scored ? "Your answer:" : "Your guesses when time ran out (kept, not scored):"));
  feedback.given.forEach((id, rank) => givenBox.append(el("div", truth.includes(id) ? "right" : "", `${rank + 1}. ${labels.name(id)}${truth.includes(id) ? " ✓" : ""}`)));
  if (!feedback.given.length) givenBox.append(el("div", "", NO_CLASS[feedback.outcome] || "no class"));
  const percent = feedback.phase_answered ? Math.round((100 * feedback.phase_correct) / feedback.phase_answered) : 0;
  const score = `${capitalize(given.trial.phase.name)} so far: ${feedback.phase_correct} of ${feedback.phase_answered} correct (${percent}%)`;
  showMessage(heading, [truthBox, givenBox, score], () => advance(next), {
    kind: "feedback",
    image: given.trial.img ? given.trial.img.src : null,
    examplesOf: truth[0],
    headingClass,
  });
}

function timesUp(given, next) {
  const names = given.answer.labels.map((id) => labels.name(id)).join(", ");
  const kept = names ? `Your choice so far was kept: ${names}.` : "No class had been chosen.";
  showMessage("Time's up", [kept], () => advance(next), { kind: "timesup", momentMs: TIMES_UP_MS });
}

function brokenImage(trial) {
  showMessage("This image cannot be shown", ["It is skipped and flagged as broken for the researcher."], () => {
    const now = utcNow();
    const answer = {
      uuid: uuid4(),
      position: trial.position,
      outcome: "skip",
      labels: [],
      rt_ms: 0,
      shown_at: now,
      answered_at: now,
      presented_ms: null,
      flag: "broken",
      flag_note: "image could not be loaded",
      events: [],
      timing: null,
    };
    setScreen("loading");
    deliver(answer, { phase: trial.phase, trial });
  }, { kind: "broken" });
}

// -- undo, pause ---------------------------------------------------------------------
function undoOffReason(phase) {
  if (phase.feedback) return "its feedback shows the right answer";
  if (phase.presentation) return "it would show the timed image again";
  return "the study turns it off";
}

async function undoKey() {
  if (!T) return;
  if (T.revising) {
    cancelRevision();
    return;
  }
  if (!T.phase.undo) {
    status(`Undo is off in this part (${undoOffReason(T.phase)}).`);
    return;
  }
  if (!state.can_undo || !T.accepting) {
    status("There is no answer to take back here (only the last one, within this part, not after a break).");
    return;
  }
  const trial = T;
  const saved = suspend(trial);
  left.set(trial.position, { saved, then: "continue" });
  try {
    const result = await api("POST", "/api/undo");
    advance(result.state);
  } catch (error) {
    left.set(trial.position, { saved, then: "continue" });
    advance(error.body && error.body.state ? error.body.state : state);
    status(`Could not take the answer back (${error.message}).`);
  }
}

async function cancelRevision() {
  if (!T || !T.revising) return;
  try {
    const result = await api("POST", "/api/cancel-revision");
    advance(result.state);
  } catch (error) {
    status(`Could not cancel the revision (${error.message}); submit it or try again.`);
  }
}

async function pause() {
  if (!T || !T.accepting) return;
  const trial = T;
  const saved = suspend(trial);
  showMessage("Paused", ["The image is hidden."], null, { kind: "pause" });
  let then;
  let problem = "";
  try {
    then = (await api("POST", "/api/pause", { seen: saved.seen, t_ms: saved.elapsed || 0 })).then;
  } catch (error) {
    // the server did not note the pause: go on by the protocol's rule, and say so
    then = saved.seen && trial.phase.presentation ? trial.phase.presentation.after_pause : "continue";
    problem = `(The pause could not be noted just now: ${error.message}.)`;
  }
  left.set(trial.position, { saved, then });
  const after = {
    respond: "When you continue, you answer without seeing the image again.",
    repeat: "When you continue, the image is shown once more (this is noted with your answer).",
    continue: "When you continue, this image comes back.",
  }[then];
  const kept = saved.labels.length ? "The classes you had chosen are kept." : "";
  showMessage("Paused", ["The image is hidden.", after, kept, problem], resume, { kind: "pause" });
}

async function resume() {
  try {
    const result = await api("POST", "/api/resume", { t_ms: performance.now() });
    advance(result.state);
  } catch (error) {
    $("message-body").append(el("p", "error", `Cannot go on just now (${error.message}); press Enter to try again.`));
    messageAction = resume;
  }
}

// -- zoom ----------------------------------------------------------------------------
function applyZoom() {
  const [x, y] = T.pan;
  T.img.style.transform = T.zoom === 1 ? "" : `scale(${T.zoom}) translate(${x}%, ${y}%)`;
}

function zoom(factor) {
  if (!T) return;
  T.zoom = factor === null ? 1 : Math.max(1, Math.min(MAX_ZOOM, T.zoom * factor));
  if (T.zoom === 1) T.pan = [0, 0];
  panBy(0, 0);
}

function panBy(dx, dy) {
  const limit = (100 * (T.zoom - 1)) / (2 * T.zoom);
  const step = (100 * PAN_STEP) / T.zoom;
  T.pan = [
    Math.max(-limit, Math.min(limit, T.pan[0] - dx * step)),
    Math.max(-limit, Math.min(limit, T.pan[1] - dy * step)),
  ];
  applyZoom();
}

// -- keys ----------------------------------------------------------------------------
const ACTIONS = {
  focus_search: () => picker.focusSearch(),
  focus_tree: () => picker.focusTree(),
  focus_slots: focusSlots,
  submit,
  remove_last: removeLast,
  clear_answer: clearAnswer,
  not_sure: () => submitOutcome("not_sure"),
  none_of_these: () => submitOutcome("none_of_these"),
  flag: openFlag,
  examples: () => picker.examples.toggleLarge(),
  pause,
  zoom_in: () => zoom(ZOOM_STEP),
  zoom_out: () => zoom(1 / ZOOM_STEP),
  zoom_fit: () => zoom(null),
  pan_left: () => panBy(-1, 0),
  pan_right: () => panBy(1, 0),
  pan_up: () => panBy(0, -1),
  pan_down: () => panBy(0, 1),
  undo: undoKey,
  quit: () => status("Every submitted answer is saved: close this tab whenever you like; the study link brings you back here."),
};

/** Run a trial command after those before it (the class of an Enter whose search was still
 * on its way goes in before a Ctrl+Return right after it submits). Enter's own choice is
 * fixed at once (picker.takeChoice): keys typed after it start the next query. */
function runCommand(name) {
  const action = name === "add_label" ? picker.takeChoice() : ACTIONS[name];
  commands = commands
    .then(() => {
      if (screen === "trial" && T && action) return action();
      return undefined;
    })
    .catch((error) => status(`Something went wrong: ${error.message}`));
  return commands;
}

function toggleHelp() {
  const help = $("help");
  if (help.hidden) {
    help.returnFocus = document.activeElement;
    help.hidden = false;
    help.focus();
  } else {
    help.hidden = true;
    if (help.returnFocus) help.returnFocus.focus();
  }
}

/** Command keys win over text fields (as in the desktop window); preventDefault keeps the
 * browser's own use of them (F5 reload, F3 find, Ctrl+Z in the search box) away. */
function onKey(event) {
  if (!config || event.isComposing) return;
  const key = keyString(event);
  const command = key ? keyCommands.get(key) : undefined;
  if (!$("help").hidden) {
    if (command === "help" || event.key === "Escape") toggleHelp();
    if (command || event.key === "Escape") event.preventDefault();
    return;
  }
  if (picker && picker.examples.key(event)) {
    event.preventDefault();
    return;
  }
  if (command === "help") {
    event.preventDefault();
    toggleHelp();
    return;
  }
  if (screen === "message") {
    if (command) event.preventDefault();
    if (command === "undo" && document.body.dataset.message === "feedback" && !$("message-body").querySelector(".undo-off")) {
      // T is still the trial this feedback is about
      $("message-body").append(el("p", "muted undo-off", `Undo is off in this part (${undoOffReason(T.phase)}).`));
    }
    if ((event.key === "Enter" || event.key === " ") && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      continueMessage(true);
    }
    return;
  }
  if (screen !== "trial" || !T) {
    if (command) event.preventDefault();
    return;
  }
  const target = event.target;
  const inFlag = $("flag-bar").contains(target);
  if (command && command.startsWith("pan_") && T.zoom === 1) return; // Ctrl+arrows move the caret then
  if (command === "add_label" && (inFlag || target === picker.tree)) return; // their own Enter
  if (command) {
    event.preventDefault();
    event.stopPropagation();
    runCommand(command);
    return;
  }
  if (event.key === "Escape") {
    if ((target === picker.search && picker.search.value) || inFlag) return;
    if (T.revising) {
      event.preventDefault();
      runCommand("undo");
    }
    return;
  }
  if (isTyping(event) && target !== picker.search && !inFlag && !picker.search.disabled) {
    // plain letters always go to the search box, starting a new query (the key's character lands there)
    picker.showTab("results");
    picker.search.focus();
    picker.search.select();
  }
}


function buildHelp() {
  const rows = [];
  const blocked = [];
  for (const row of config.help) {
    const bound = keys[row.name] || row.keys;
    const line = el("tr");
    const keyCell = el("td", "keys");
    keyCell.append(el("b", "", bound));
    if (BROWSER_KEEPS.has(bound)) {
      keyCell.append(el("span", "muted", " *"));
      blocked.push(bound);
    }
    const description = row.name === "quit" ? "leave: close the tab; every submitted answer is saved, and the study link resumes where you stopped" : row.description;
    line.append(keyCell, el("td", "", description));
    rows.push(line);
  }
  $("help-table").replaceChildren(...rows);
  $("help-browser").textContent = blocked.length
    ? `* Your browser may keep ${blocked.join(", ")} for itself; use the buttons under the image instead.`
    : "";
}

function labelButtons() {
  const buttons = {
    "submit-button": ["Submit", "submit", submit],
    "not-sure-button": ["Not sure", "not_sure", () => submitOutcome("not_sure")],
    "none-button": ["None of these", "none_of_these", () => submitOutcome("none_of_these")],
    "flag-button": ["Flag image", "flag", openFlag],
    "pause-button": ["Pause", "pause", pause],
    "undo-button": ["Undo last answer", "undo", undoKey],
  };
  for (const [id, [text, command]] of Object.entries(buttons)) {
    $(id).textContent = `${text} (${keys[command]})`;
    $(id).addEventListener("click", () => runCommand(command));
  }
}

// -- start ---------------------------------------------------------------------------
function wireEvents() {
  addEventListener("keydown", onKey, true);
  $("slots").addEventListener("keydown", slotsKey);
  $("flag-note").addEventListener("keydown", flagKey);
  for (const input of document.querySelectorAll("input[name=flag]")) {
    input.addEventListener("change", () => ($("flag-hint").textContent = ""));
  }
  $("message-button").addEventListener("click", () => continueMessage(false));
  $("help-button").addEventListener("click", toggleHelp);
  $("help").addEventListener("click", toggleHelp);
  $("fullscreen-button").addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen().catch(() => status("This browser does not allow full screen here."));
  });
  document.addEventListener("visibilitychange", () => attention(document.hidden ? "visibility_hidden" : "visibility_visible"));
  addEventListener("blur", () => attention("focus_lost"));
  addEventListener("focus", () => attention("focus_gained"));
  document.addEventListener("fullscreenchange", () => attention(document.fullscreenElement ? "fullscreen_enter" : "fullscreen_exit"));
  let resizeTimer = null;
  addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => attention("resize", { w: innerWidth, h: innerHeight }), 300);
  });
  addEventListener("beforeunload", (event) => {
    if (queue && queue.size) event.preventDefault(); // answers not yet saved: the browser asks first
  });
}

async function main() {
  wireEvents();
  setScreen("loading");
  let first;
  try {
    [config, first] = await Promise.all([api("GET", "/api/config"), api("GET", "/api/state")]);
  } catch (error) {
    if (error instanceof Refused && error.status === 401) {
      location.replace("/"); // no session in this browser: the start page makes one
      return;
    }
    showMessage("The study server cannot be reached", [`${error.message}.`, "Press Enter to try again."], () => location.reload(), { kind: "error" });
    return;
  }
  state = first;
  latest = first;
  document.title = config.study.title;
  keyGuardMs = config.key_guard_ms ?? keyGuardMs;
  keys = config.keys;
  for (const [command, key] of Object.entries(keys)) keyCommands.set(normaliseKey(key), command);
  labels = new Labels(config.labels);
  picker = new Picker(labels, { onChoose: addLabel, log });
  labelButtons();
  buildHelp();
  queue = new AnswerQueue(config.study.name, first.annotator);
  if (!queue.durable) status("This browser keeps no local storage: keep the page open until each answer shows 'saved'.");
  if (queue.size) {
    waitingForDrain = true;
    showMessage("Saving your earlier answers…", [`${queue.size} answer(s) given in this browser are being sent.`], null, { kind: "draining" });
    flushQueue();
  } else {
    advance(first);
  }
}

main();
