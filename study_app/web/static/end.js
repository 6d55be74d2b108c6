// The end page: sends whatever answers this browser still holds, and only when none is left
// and the server says the session is complete does it go on to the completion URL (an online
// panel's "study completed" link): a participant is never sent on with answers unsaved.

import { AnswerQueue, api, Refused } from "./common.js";

const $ = (id) => document.getElementById(id);
/** How long the thanks stay on screen before the redirect (time to read them). */
const REDIRECT_DELAY_MS = 1500;

function say(heading, text) {
  $("end-heading").textContent = heading;
  $("end-text").textContent = text;
}

async function load() {
  try {
    return await Promise.all([api("GET", "/api/config"), api("GET", "/api/state")]);
  } catch (error) {
    if (error instanceof Refused) {
      say("No session", `${error.message}. Open the study link again.`);
      return null;
    }
    say("Saving your answers…", `The study server cannot be reached just now (${error.message}); trying again.`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return load();
  }
}

function thank(state) {
  if (!state.complete) {
    location.replace("/trial"); // images are left: the trial page resumes at the next one
    return;
  }
  say("Thank you!", `All your ${state.total} answers are saved.`);
  document.body.dataset.done = "1";
  if (state.completion_url) {
    $("end-text").textContent += " You are taken on to complete the study.";
    $("completion-link").href = state.completion_url;
    $("end-link").hidden = false;
    setTimeout(() => location.replace(state.completion_url), REDIRECT_DELAY_MS);
  } else {
    $("end-text").textContent += " You can close this window now.";
  }
}

async function main() {
  const loaded = await load();
  if (!loaded) return;
  let [config, state] = loaded;
  const queue = new AnswerQueue(config.study.name, state.annotator);
  queue.flush({
    acked: (answer, response) => {
      state = response.state;
    },
    refused: (answer, error) => {
      $("end-error").textContent = `An answer was not taken: ${error.message}`;
      if (error.body && error.body.state) state = error.body.state;
    },
    waiting: (error, ms) => {
      say(
        "Saving your answers…",
        `${queue.size} answer(s) are not saved yet (${error.message}); trying again in ${Math.ceil(ms / 1000)} s. ` +
          "Please keep this page open."
      );
    },
    drained: () => thank(state),
  });
}

main();
