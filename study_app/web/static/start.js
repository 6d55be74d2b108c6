// The start page: instructions and consent (filled in by the server), the annotator id from
// the panel's URL parameters (Prolific, MTurk) or a typed pseudonym, then POST /api/start
// with the screen and browser details; on 200 the trial page takes over.

import { api, clientInfo, measureFrameMs, Refused } from "./common.js";

/** The URL parameters online panels add to a study link (sent to the server as they are). */
const PANEL_PARAMS = ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "workerId", "assignmentId", "hitId"];
/** MTurk's preview of a HIT not yet accepted: instructions only, no start. */
const PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE";
/** An annotator id as the desktop's start dialog takes it (the server checks it again). */
const ANNOTATOR_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const params = {};
for (const name of PANEL_PARAMS) {
  const value = query.get(name);
  if (value !== null) params[name] = value;
}
const panelId = params.PROLIFIC_PID || params.workerId || "";
// Measured while the instructions are read, so that starting never waits for it.
const frameMs = measureFrameMs();

function showError(text) {
  $("start-error").textContent = text;
}

async function start(event) {
  event.preventDefault();
  showError("");
  const typed = $("annotator").value.trim();
  if (!$("consent").checked) {
    showError("Please tick the box to agree before you start.");
    $("consent").focus();
    return;
  }
  if (!panelId && !ANNOTATOR_ID.test(typed)) {
    showError(
      typed
        ? "The id may hold only letters, digits, '_', '.' and '-' (up to 64), starting with a letter or digit."
        : "Please type your annotator id."
    );
    $("annotator").focus();
    return;
  }
  $("start-button").disabled = true;
  try {
    await api("POST", "/api/start", {
      consent: true,
      params,
      annotator: panelId ? "" : typed,
      client: clientInfo(await frameMs),
    });
    location.replace("/trial");
  } catch (error) {
    showError(
      error instanceof Refused
        ? error.message
        : `The study server cannot be reached just now (${error.message}). Please try again in a moment.`
    );
    $("start-button").disabled = false;
  }
}

if (params.assignmentId === PREVIEW) {
  $("preview").hidden = false;
} else {
  $("start-form").hidden = false;
  if (panelId) {
    $("panel-id").hidden = false;
    $("panel-id").textContent = `Your participant id: ${panelId}`;
  } else {
    $("pseudonym-row").hidden = false;
  }
  $("start-form").addEventListener("submit", start);
  (panelId ? $("consent") : $("annotator")).focus();
}
