// What the start, trial and end pages share: the API call with its error classes, the
// queue of answers not yet acknowledged (kept in localStorage until the server says
// "saved"), ids, times and the screen's refresh rate. No framework, no build step: the
// server sends these files as they are (Content-Security-Policy: default-src 'self').

/** The server could not take the request now (no network, 5xx, 429): try again later. */
export class RetryLater extends Error {
  constructor(message, retryAfterS = null) {
    super(message);
    this.retryAfterS = retryAfterS;
  }
}

/** The server refused the request (4xx other than 429): show `message`; `state` comes with a 409. */
export class Refused extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body || {};
  }
}

/** One JSON request to the study server: the response's JSON on 200, else RetryLater or Refused. */
export async function api(method, path, body = undefined) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new RetryLater(`no connection to the study server (${error.message || error})`);
  }
  let data = {};
  try {
    data = await response.json();
  } catch (error) {
    data = {};
  }
  if (response.ok) return data;
  const what = data.error || `${method} ${path}: HTTP ${response.status}`;
  if (response.status === 429 || response.status >= 500) {
    const after = Number(response.headers.get("Retry-After"));
    throw new RetryLater(what, Number.isFinite(after) && after > 0 ? after : null);
  }
  throw new Refused(response.status, what, data);
}

/** A random (version 4) UUID. crypto.randomUUID exists only in secure contexts (https,
 * localhost); a lab server on plain http over a LAN still has getRandomValues. */
export function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Wall-clock time in UTC, ISO-8601 with milliseconds (as the desktop's utc_now). */
export function utcNow() {
  return new Date().toISOString();
}

/** Median of the deltas between `count` animation frames (ms), or null where the page is
 * hidden (browsers stop animation frames in background tabs; a timeout ends the wait). */
export function measureFrameMs(count = 60) {
  return new Promise((resolve) => {
    const stamps = [];
    const giveUp = setTimeout(() => resolve(median(deltas(stamps))), 3000);
    function step(t) {
      stamps.push(t);
      if (stamps.length > count) {
        clearTimeout(giveUp);
        resolve(median(deltas(stamps)));
      } else {
        requestAnimationFrame(step);
      }
    }
    requestAnimationFrame(step);
  });
}

function deltas(stamps) {
  return stamps.slice(1).map((t, i) => t - stamps[i]);
}

function median(values) {
  if (values.length < 5) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The screen and browser the participant uses, sent once with /api/start. */
export function clientInfo(frameMs) {
  let timezone = "";
  try {
    timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    timezone = "";
  }
  return {
    screen_w: screen.width,
    screen_h: screen.height,
    avail_w: screen.availWidth,
    avail_h: screen.availHeight,
    dpr: window.devicePixelRatio || 1,
    refresh_hz: frameMs ? Math.round((10000 / frameMs)) / 10 : null,
    user_agent: navigator.userAgent,
    language: navigator.language || "",
    timezone,
  };
}

/** Answers made in this browser and not yet acknowledged by the server, oldest first.
 *
 * Each answer enters the queue (localStorage, key `study_app:<study>:<annotator>:pending`)
 * before it is sent, and leaves it only on the server's 200 (stored, or a replay of one
 * stored before) or on a refusal that no resend can change (a 4xx other than 401). So a
 * lost response, a reload, a closed tab or a server restart loses nothing: the next load
 * sends the queue again, and the server's uuid check keeps a resend from counting twice.
 * Where localStorage is unavailable (disabled, full) the queue lives in this page only,
 * and `durable` says so. */
export class AnswerQueue {
  constructor(study, annotator) {
    this.key = `study_app:${study}:${annotator}:pending`;
    this.memory = null;
    this.durable = true;
    this.sending = null;
    this.retryTimer = null;
    this.backoffMs = 500;
    this.handlers = null;
    addEventListener("online", () => {
      if (this.handlers && this.size) this.flush(this.handlers);
    });
  }

  items() {
    if (this.memory) return this.memory;
    try {
      const text = localStorage.getItem(this.key);
      return text ? JSON.parse(text) : [];
    } catch (error) {
      this.durable = false;
      this.memory = [];
      return this.memory;
    }
  }

  save(items) {
    if (!this.memory) {
      try {
        if (items.length) localStorage.setItem(this.key, JSON.stringify(items));
        else localStorage.removeItem(this.key);
        return;
      } catch (error) {
        this.durable = false;
        this.memory = [];
      }
    }
    this.memory.splice(0, this.memory.length, ...items);
  }

  get size() {
    return this.items().length;
  }

  add(answer) {
    this.save([...this.items().filter((a) => a.uuid !== answer.uuid), answer]);
  }

  remove(uuid) {
    this.save(this.items().filter((a) => a.uuid !== uuid));
  }

  /** Send every queued answer in order. `handlers.acked(answer, response)` on each 200,
   * `handlers.refused(answer, error)` on a refusal (the answer is dropped, except on 401:
   * a lost session keeps its answers for the next start), `handlers.waiting(error, ms)`
   * when the server cannot take them now (the queue retries by itself, with backoff, and
   * on the browser's `online` event), `handlers.drained()` once the queue is empty.
   * Resolves true when the queue is empty. One flush runs at a time; a second call joins it. */
  flush(handlers) {
    this.handlers = handlers;
    if (!this.sending) {
      this.sending = this.flushOnce(handlers).finally(() => {
        this.sending = null;
      });
    }
    return this.sending;
  }

  async flushOnce(handlers) {
    clearTimeout(this.retryTimer);
    for (;;) {
      const [answer] = this.items();
      if (!answer) {
        this.backoffMs = 500;
        if (handlers.drained) handlers.drained();
        return true;
      }
      try {
        const response = await api("POST", "/api/answer", answer);
        this.remove(answer.uuid);
        this.backoffMs = 500;
        handlers.acked(answer, response);
      } catch (error) {
        if (error instanceof RetryLater) {
          const wait = error.retryAfterS ? error.retryAfterS * 1000 : this.backoffMs;
          this.backoffMs = Math.min(this.backoffMs * 2, 15000);
          this.retryTimer = setTimeout(() => this.flush(handlers), wait);
          handlers.waiting(error, wait);
          return false;
        }
        if (error.status !== 401) this.remove(answer.uuid);
        handlers.refused(answer, error);
        if (error.status === 401) return false;
      }
    }
  }
}
