"""Every endpoint of the web server through Starlette's test client, with a real study and a
real SQLite store: what a page may do, and every bad request refused with a clear error."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from study_app.errors import StoreError
from study_app.protocol.responses import utc_now
from study_app.protocol.study import load_study
from study_app.session.label_search import LabelSearchIndex
from study_app.store.export import answers_frame
from study_app.store.progress import format_progress, study_progress
from study_app.store.results_store import ResultsStore
from study_app.web.payloads import MAX_BODY
from study_app.web.server import ServerConfig, cookie_name, create_app
from tests.factory import make_study

FAST = (10_000.0, 10_000.0)  # no rate limit in the way of a scripted walk


@pytest.fixture
def study(tmp_path: Path):
    return load_study(make_study(tmp_path / "tiny"))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "results.sqlite"


def client_for(study, store, **options) -> TestClient:
    options.setdefault("page_rate", FAST)
    return TestClient(create_app(ServerConfig(study, store, **options)))


def start(client: TestClient, annotator: str = "W01", **body) -> dict:
    reply = client.post(
        "/api/start", json={"consent": True, "params": {}, "annotator": annotator, "client": {"dpr": 2}, **body}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["state"]


def answer_body(state: dict, labels: list[str] | None = None, **changes) -> dict:
    trial = state["trial"]
    body = {
        "uuid": str(uuid.uuid4()),
        "position": trial["position"],
        "outcome": "answer",
        "labels": labels if labels is not None else ["cat"],
        "rt_ms": 800.0,
        "shown_at": utc_now(),
        "answered_at": utc_now(),
        "presented_ms": None,
        "events": [{"kind": "search", "t_ms": 100.0, "detail": {"query": "ca"}}],
    }
    return body | changes


def answer(client: TestClient, state: dict, **changes) -> dict:
    reply = client.post("/api/answer", json=answer_body(state, **changes))
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_whole_session_is_stored_once_per_trial_as_a_web_session(study, store):
    with client_for(study, store, completion_url="https://example.org/done?cc=X") as client:
        state = start(client)
        assert state["completion_url"] is None
        seen = 0
        while not state["complete"]:
            assert client.get(state["trial"]["image"]).status_code == 200
            state = answer(client, state)["state"]
            seen += 1
        assert state["completion_url"] == "https://example.org/done?cc=X"
    with ResultsStore(store, readonly=True) as results:
        frame = answers_frame(results)
    trials = frame.drop_duplicates("trial_uuid")
    assert len(trials) == seen == len(study.phase("training").image_ids) + len(study.phase("test").image_ids)
    assert not trials.duplicated(["phase", "trial"]).any()
    assert set(frame["front_end"]) == {"web"} and set(frame["annotator"]) == {"W01"}


def test_the_cookie_is_httponly_and_samesite_and_every_response_has_the_security_headers(study, store):
    with client_for(study, store) as client:
        reply = client.post("/api/start", json={"consent": True, "annotator": "W01"})
        cookie = reply.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert len(reply.cookies[cookie_name(study)]) >= 40  # secrets.token_urlsafe(32)
        for response in (reply, client.get("/api/state"), client.get("/api/config")):
            assert "default-src 'self'" in response.headers["content-security-policy"]
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["cache-control"] == "no-store"


def test_nothing_sent_in_a_test_phase_names_an_image_or_its_truth(study, store):
    """Image ids and file names (which in ImageNet reveal the class) never reach the page; the
    truth of a training image only as feedback after its answer."""
    secrets_ = set(study.images) | {r.path.name for r in study.images.values()}
    with client_for(study, store) as client:
        state = start(client)
        texts = []
        while not state["complete"]:
            training = state["trial"]["phase"]["feedback"]
            texts.append(json.dumps(state))
            reply = answer(client, state)
            assert (reply["feedback"] is not None) == training
            if not training:
                texts.append(json.dumps(reply))
            state = reply["state"]
        texts.append(client.get("/api/config").text)
    for text in texts:
        assert not any(secret in text for secret in secrets_), text
    assert '"truth"' not in "".join(texts[len(study.phase("training").image_ids) :])


def test_training_feedback_names_the_truth_after_the_answer(study, store):
    with client_for(study, store) as client:
        state = start(client)
        reply = answer(client, state, labels=["dog"])
        image_truth = {label["id"] for label in reply["feedback"]["truth"]}
        assert reply["feedback"]["given"] == ["dog"] and reply["feedback"]["correct"] == ("dog" in image_truth)


def test_a_replayed_answer_is_acknowledged_and_stored_once(study, store):
    with client_for(study, store) as client:
        state = start(client)
        body = answer_body(state)
        first = client.post("/api/answer", json=body).json()
        again = client.post("/api/answer", json=body)
        assert again.status_code == 200 and again.json()["replayed"] and not first["replayed"]
        assert again.json()["state"]["position"] == first["state"]["position"] == 1
        later = answer(client, first["state"])  # the session went on; the first answer comes once more
        replay = client.post("/api/answer", json=body)
        assert replay.status_code == 200 and replay.json()["replayed"]
        assert replay.json()["state"]["position"] == later["state"]["position"] == 2
        reused = client.post("/api/answer", json=body | {"position": 2})
        assert reused.status_code == 409 and "one UUID names one answer" in reused.json()["error"]
    with ResultsStore(store, readonly=True) as results:
        assert len(answers_frame(results).drop_duplicates("trial_uuid")) == 2


def test_an_answer_for_a_trial_that_is_not_current_is_refused_with_the_state(study, store):
    with client_for(study, store) as client:
        state = start(client)
        for position in (1, 0 + 57, 10_000):
            reply = client.post("/api/answer", json=answer_body(state, position=position))
            assert reply.status_code == 409 and "is the current one" in reply.json()["error"]
            assert reply.json()["state"]["position"] == 0
        answer(client, state)
        stale = client.post("/api/answer", json=answer_body(state))  # position 0 again, a new UUID
        assert stale.status_code == 409 and stale.json()["state"]["position"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"position": "0"}, "position"),
        ({"position": True}, "position"),
        ({"position": -1}, "position"),
        ({"uuid": "not-a-uuid"}, "uuid"),
        ({"uuid": 7}, "uuid"),
        ({"labels": "cat"}, "labels"),
        ({"labels": ["tiger"]}, "labels[0]"),
        ({"labels": [3]}, "labels[0]"),
        ({"labels": ["cat", "dog", "car", "bus"]}, "labels"),
        ({"labels": ["cat", "cat"]}, "same label twice"),
        ({"labels": []}, "needs at least one label"),
        ({"outcome": "maybe"}, "outcome"),
        ({"outcome": "not_sure"}, "carries no labels"),
        ({"rt_ms": -5}, "rt_ms"),
        ({"rt_ms": "fast"}, "rt_ms"),
        ({"rt_ms": 1e300}, "rt_ms"),
        ({"shown_at": "yesterday"}, "shown_at"),
        ({"shown_at": "2026-12-07T10:00:00"}, "time zone"),
        ({"flag": "funny"}, "flag"),
        ({"flag_note": "x" * 5000}, "flag_note"),
        ({"presented_ms": [1]}, "presented_ms"),
        ({"events": {"kind": "x"}}, "events"),
        ({"events": [{"kind": "Bad Kind", "t_ms": 0}]}, "events[0].kind"),
        ({"events": [{"kind": "ok", "t_ms": 0, "detail": {"nested": {"a": 1}}}]}, "events[0].detail"),
        ({"events": [{"kind": "ok"}]}, "t_ms"),
        ({"timing": {"refresh_hz": 60, "dropped_frames": -1, "frames": {}, "measured_ms": {}}}, "dropped_frames"),
        ({"timing": "fast"}, "timing"),
    ],
)
def test_each_bad_field_of_an_answer_is_refused_by_name(study, store, change, field):
    with client_for(study, store) as client:
        state = start(client)
        reply = client.post("/api/answer", json=answer_body(state) | change)
        assert reply.status_code == 400 and field in reply.json()["error"], reply.text
        assert client.get("/api/state").json()["position"] == 0  # nothing stored


def test_forged_tokens_are_looked_up_a_limited_number_of_times_per_address(study, store):
    with client_for(study, store) as client:
        client.cookies.set(cookie_name(study), "forged")
        codes = [client.get("/api/state").status_code for _ in range(300)]
    assert set(codes[:200]) == {401} and codes.count(429) > 50  # 200 at once, then 5 a second


def test_bodies_that_are_not_json_objects_or_too_large_are_refused(study, store):
    with client_for(study, store) as client:
        start(client)
        as_json = {"content-type": "application/json"}
        assert client.post("/api/answer", content=b"{not json", headers=as_json).status_code == 400
        assert client.post("/api/answer", json=[1, 2]).status_code == 400
        form = client.post("/api/answer", content=b'{"uuid": 1}', headers={"content-type": "text/plain"})
        assert form.status_code == 415  # what a cross-site form could send
        huge = client.post("/api/answer", content=b"[" + b"1," * MAX_BODY + b"1]", headers=as_json)
        assert huge.status_code == 413
        chunked = client.post("/api/events", content=iter([b"[" + b" " * MAX_BODY, b"]"]), headers=as_json)
        assert chunked.status_code == 413
        assert client.post("/api/events", json={"events": [{"kind": "x", "t_ms": 0}] * 201}).status_code == 400


def test_every_page_route_needs_a_known_session(study, store):
    with client_for(study, store) as client:
        for method, path in [
            ("GET", "/api/state"),
            ("GET", "/api/search?q=cat"),
            ("GET", "/api/examples/cat"),
            ("GET", "/img/whatever"),
            ("POST", "/api/answer"),
            ("POST", "/api/undo"),
            ("POST", "/api/cancel-revision"),
            ("POST", "/api/pause"),
            ("POST", "/api/resume"),
            ("POST", "/api/events"),
        ]:
            assert client.request(method, path).status_code == 401, path
            client.cookies.set(cookie_name(study), "forged-token")
            assert client.request(method, path).status_code == 401, path
            client.cookies.clear()


def test_starting_needs_consent_and_a_valid_id(study, store):
    with client_for(study, store) as client:
        assert "consent" in client.post("/api/start", json={"annotator": "W01"}).json()["error"]
        assert client.post("/api/start", json={"consent": "yes", "annotator": "W01"}).status_code == 400
        bad = client.post("/api/start", json={"consent": True, "annotator": "John Smith"})
        assert bad.status_code == 400 and "annotator id" in bad.json()["error"]
        assert client.post("/api/start", json={"consent": True, "annotator": ""}).status_code == 400
        assert client.post("/api/start", json={"consent": True, "params": {"a": ["b"]}}).status_code == 400
        preview = client.post(
            "/api/start", json={"consent": True, "params": {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE"}}
        )
        assert preview.status_code == 400 and "preview" in preview.json()["error"]


def test_a_panel_id_is_the_annotator_and_its_parameters_are_recorded(study, store):
    params = {"PROLIFIC_PID": "5f1e2d3c4b5a69788796a5b4", "STUDY_ID": "s1", "SESSION_ID": "x9", "utm": "mail"}
    with client_for(study, store) as client:
        state = start(client, annotator="ignored", params=params)
        assert state["annotator"] == params["PROLIFIC_PID"]
        client.cookies.clear()  # another browser
        other = start(client, annotator="", params={"workerId": "A2B3C4D5", "assignmentId": "3X", "hitId": "H1"})
        assert other["annotator"] == "A2B3C4D5"
    with ResultsStore(store, readonly=True) as results:
        rows = results.conn.execute("SELECT kind, detail FROM events WHERE kind IN ('panel', 'web_start')").fetchall()
    details = [json.loads(detail) for kind, detail in rows if kind == "panel"]
    assert {"PROLIFIC_PID": params["PROLIFIC_PID"], "STUDY_ID": "s1", "SESSION_ID": "x9"} in details
    assert any(json.loads(d).get("dpr") == 2 for kind, d in rows if kind == "web_start")


def test_a_page_fetches_only_its_own_images(study, store):
    with client_for(study, store) as first, client_for(study, store) as second:
        mine = start(first, "W01")["trial"]["image"]
        theirs = start(second, "W02")["trial"]["image"]
        assert first.get(mine).status_code == 200 and first.get(mine).headers["content-type"] == "image/png"
        assert first.get(theirs).status_code == 404
        assert first.get("/img/" + "A" * 24).status_code == 404
        for sneaky in ("/img/..%2F..%2Fstudy.toml", "/static/../study.toml", "/static/%2e%2e/server.py"):
            assert first.get(sneaky).status_code == 404, sneaky


def test_examples_and_search_give_the_desktops_results(study, store):
    with client_for(study, store) as client:
        start(client)
        urls = client.get("/api/examples/cat").json()["images"]
        assert len(urls) == 2 and all(client.get(url).status_code == 200 for url in urls)
        assert client.get("/api/examples/nothing").status_code == 404
        index = LabelSearchIndex.for_label_set(study.labels)
        while not index.build_step(100):
            pass
        for query in ("ca", "animal", "automobile", "kity", "v"):
            hits = client.get(f"/api/search?q={query}").json()["hits"]
            assert [h["id"] for h in hits] == [h.label_id for h in index.search(query, 50)], query
        assert client.get("/api/search?q=a&limit=0").status_code == 400
        assert client.get("/api/search?q=a&limit=lots").status_code == 400


def test_undo_revision_and_cancel_follow_the_session_rules(study, store):
    with client_for(study, store) as client:
        state = start(client)
        assert not state["can_undo"]  # nothing answered yet
        state = answer(client, state)["state"]
        assert client.post("/api/undo").status_code == 409  # training has feedback: no undo
        while state["trial"]["phase"]["name"] == "training":
            state = answer(client, state)["state"]
        state = answer(client, state, labels=["dog", "cat"])["state"]
        assert state["can_undo"]
        undone = client.post("/api/undo").json()
        assert undone["revising"]["labels"] == ["dog", "cat"]
        assert undone["state"]["trial"]["revising"]["labels"] == ["dog", "cat"]
        assert undone["state"]["position"] == state["position"] - 1
        assert client.post("/api/cancel-revision").json()["state"]["position"] == state["position"]
        assert client.post("/api/cancel-revision").status_code == 409
        revising = client.post("/api/undo").json()["state"]
        revised = answer(client, revising, labels=["car"])
        assert revised["state"]["position"] == state["position"]
    with ResultsStore(store, readonly=True) as results:
        frame = answers_frame(results, include_superseded=True)
    test = frame[frame["phase"] == "test"].drop_duplicates("trial_uuid")
    assert test["superseded"].sum() == 1 and len(test) == 2


def test_pause_resume_and_events_are_logged_against_the_current_trial(study, store):
    with client_for(study, store) as client:
        start(client)
        assert client.post("/api/pause", json={"seen": True, "t_ms": 300}).json() == {"then": "continue"}
        assert client.post("/api/pause", json={"seen": "yes"}).status_code == 400
        assert client.post("/api/resume", json={"t_ms": 900}).json()["state"]["position"] == 0
        events = [{"kind": "visibility_hidden", "t_ms": 1.0}, {"kind": "focus_lost", "t_ms": 2.0, "detail": {}}]
        assert client.post("/api/events", json={"events": events}).json() == {"logged": 2}
    with ResultsStore(store, readonly=True) as results:
        kinds = [row[0] for row in results.conn.execute("SELECT kind FROM events WHERE trial_index = 0")]
    assert {"pause", "resume", "visibility_hidden", "focus_lost"} <= set(kinds)


def test_a_participant_over_the_rate_limit_is_told_when_to_come_back(study, store):
    with client_for(study, store, page_rate=(3.0, 0.01)) as client:
        start(client)
        codes = [client.get("/api/state").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        assert int(client.get("/api/state").headers["retry-after"]) >= 1


def test_the_researcher_page_needs_its_token_and_shows_the_progress_command_numbers(study, store):
    with client_for(study, store) as client:
        state = start(client)
        answer(client, state)
        assert client.get("/researcher").status_code == 403
        assert client.get("/researcher?token=guess").status_code == 403
        token = client.app.state.config.researcher_token
        page = client.get(f"/researcher?token={token}")
        data = client.get("/api/researcher/progress", headers={"authorization": f"Bearer {token}"}).json()
    with ResultsStore(store, readonly=True) as results:
        expected = format_progress(study_progress(results, study.name), images=True)
    assert data["progress"] == expected
    assert page.status_code == 200 and "W01" in page.text


def test_a_restarted_server_knows_the_page_and_takes_its_resent_answer_once(study, store):
    with client_for(study, store) as client:
        state = start(client)
        for _ in range(3):
            state = answer(client, state)["state"]
        body = answer_body(state)
        assert client.post("/api/answer", json=body).status_code == 200  # its acknowledgement is "lost"
        cookie = client.cookies[cookie_name(study)]
    with client_for(study, store) as restarted:  # a new process's application on the same store
        restarted.cookies.set(cookie_name(study), cookie)
        assert restarted.get("/api/state").json()["position"] == 4
        replay = restarted.post("/api/answer", json=body)
        assert replay.status_code == 200 and replay.json()["replayed"] and replay.json()["state"]["position"] == 4
    with ResultsStore(store, readonly=True) as results:
        assert len(answers_frame(results).drop_duplicates("trial_uuid")) == 4


def test_a_second_start_with_the_same_id_resumes_the_one_session(study, store):
    with client_for(study, store) as first:
        state = answer(first, start(first, "W07"))["state"]
        with client_for(study, store) as other_device:  # another server process on the same store
            again = start(other_device, "W07")
            assert again["position"] == state["position"] == 1 and again["resumed"]


def test_a_real_server_refuses_a_pilot_store_and_the_other_way_round(study, tmp_path):
    pilot = tmp_path / "pilot.sqlite"
    with client_for(study, pilot, pilot=True) as client:
        start(client, "P01")
    with pytest.raises(StoreError, match="holds 1 pilot session"):  # at the server's start, not a participant's
        create_app(ServerConfig(study, pilot))
    real = tmp_path / "real.sqlite"
    with client_for(study, real) as client:
        start(client, "W01")
    with pytest.raises(StoreError, match="holds 1 real session"):
        create_app(ServerConfig(study, real, pilot=True))


def test_a_completion_url_must_be_an_http_address(study, store):
    from study_app.errors import StudyError

    with pytest.raises(StudyError, match="completion URL"):
        ServerConfig(study, store, completion_url="javascript:alert(1)")


def test_the_config_is_the_same_zipped_or_not_and_names_no_image(study, store):
    with client_for(study, store) as client:
        zipped = client.get("/api/config")
        plain = client.get("/api/config", headers={"accept-encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.json() == plain.json()
    config = plain.json()
    assert [c["id"] for c in config["labels"]["classes"]] == [c.label_id for c in study.labels.classes]
    assert config["keys"]["submit"] == "Ctrl+Return" and config["key_guard_ms"] == study.key_guard_ms
    assert "img-0" not in plain.text and ".png" not in plain.text


def test_a_break_in_a_test_phase_gives_no_score(study, store):
    """The block score (accuracy) only after a phase with feedback; tiny's test phase has breaks but none."""
    with client_for(study, store) as client:
        state = start(client)
        while state["trial"]["phase"]["name"] == "training" or state["trial"]["phase"]["index"] < 4:
            assert state["break"] is None
            state = answer(client, state)["state"]
    assert state["break"] == {"phase": "test", "correct": None, "answered": None}


def test_a_trial_whose_tab_was_hidden_is_marked_interrupted_as_on_the_desktop(study, store):
    with client_for(study, store) as client:
        state = start(client)
        hidden = [{"kind": "visibility_hidden", "t_ms": 400.0}, {"kind": "visibility_visible", "t_ms": 900.0}]
        state = answer(client, state, events=hidden)["state"]
        answer(client, state)
    with ResultsStore(store, readonly=True) as results:
        frame = answers_frame(results).drop_duplicates("trial_uuid")
    assert frame["interrupted"].tolist() == [True, False]


@pytest.mark.parametrize(
    "body",
    [
        b'{"uuid": "x", "rt_ms": 1' + b"0" * 400 + b"}",
        b"[" * 60000,
        b'{"a": NaN}',
        b'{"events": [{"kind": "x", "t_ms": 0, "detail": {"q": "\\ud800"}}]}',
        b'{"events": [{"kind": "x", "t_ms": 1' + b"0" * 400 + b"}]}",
    ],
)
def test_bodies_that_parse_oddly_are_refused_not_crashed_on(study, store, body):
    """Found by a review: each of these once escaped as a 500 (an overflow, a recursion, NaN, half a UTF-16 pair)."""
    with client_for(study, store) as client:
        start(client)
        headers = {"content-type": "application/json"}
        for path in ("/api/answer", "/api/events", "/api/pause"):
            assert client.post(path, content=body, headers=headers).status_code == 400, path
        note = answer_body(client.get("/api/state").json()) | {"flag": "ambiguous", "flag_note": "\ud800 cut"}
        assert client.post("/api/answer", content=json.dumps(note).encode(), headers=headers).status_code == 400
        assert client.get("/api/search?q=a&limit=%C2%B2").status_code == 400
        assert client.get("/api/search?q=" + "a%20" * 50).status_code == 400  # too many words
        assert client.get("/api/state").json()["position"] == 0


def test_a_token_of_another_study_sharing_the_store_opens_nothing(study, store, tmp_path):
    other = load_study(make_study(tmp_path / "other", name="other"))
    with client_for(study, store) as first:
        start(first, "W01")
        token = first.cookies[cookie_name(study)]
    with client_for(other, store) as second:
        second.cookies.set(cookie_name(other), token)
        assert second.get("/api/state").status_code == 401
    assert cookie_name(study) != cookie_name(other)
    with ResultsStore(store, readonly=True) as results:
        assert results.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1


def test_a_restarted_server_never_ends_a_session_it_cannot_open(study, store, tmp_path):
    """The study files changed under a running study: the page is told to try again (503), not
    sent to the completion link, and its answer stays in its queue."""
    with client_for(study, store, completion_url="https://example.org/done") as client:
        state = answer(client, start(client))["state"]
        cookie = client.cookies[cookie_name(study)]
    folder = study.root
    toml = folder / "study.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("break_every = 4", "break_every = 2"), encoding="utf-8")
    changed = load_study(folder)
    with client_for(changed, store, completion_url="https://example.org/done") as restarted:
        restarted.cookies.set(cookie_name(changed), cookie)
        reply = restarted.get("/api/state")
        assert reply.status_code == 503 and "completion" not in reply.text and "results.sqlite" not in reply.text
        assert restarted.post("/api/answer", json=answer_body(state)).status_code == 503


def test_two_server_processes_on_one_session_never_lose_or_double_an_answer(study, store):
    """Pages of one participant reaching two server processes (no sticky routing): the one whose
    view is stale reloads the session from the store instead of refusing a current answer."""
    with client_for(study, store) as first, client_for(study, store) as second:
        state = start(first, "W01")
        start(second, "W01")  # the same participant through the other process
        for _ in range(3):
            state = answer(first, state)["state"]
        taken = second.post("/api/answer", json=answer_body(state))  # position 3: the second process was at 0
        assert taken.status_code == 200 and taken.json()["state"]["position"] == 4
        stale = first.post("/api/answer", json=answer_body(state))  # position 3 again, a new answer
        assert stale.status_code == 409 and stale.json()["state"]["position"] == 4
    with ResultsStore(store, readonly=True) as results:
        frame = answers_frame(results).drop_duplicates("trial_uuid")
    assert len(frame) == 4 and not frame.duplicated(["phase", "trial"]).any()


def test_times_are_stored_in_utc_and_a_broken_clock_is_refused(study, store):
    with client_for(study, store) as client:
        state = start(client)
        bad = client.post("/api/answer", json=answer_body(state, shown_at="0001-01-01T00:00:00+00:00"))
        assert bad.status_code == 400 and "shown_at" in bad.json()["error"]
        answer(client, state, shown_at="2026-12-07T12:00:00.000+02:00", answered_at="2026-12-07T12:00:01.000+02:00")
    with ResultsStore(store, readonly=True) as results:
        frame = answers_frame(results)
    assert frame["shown_at"].iloc[0] == "2026-12-07T10:00:00.000+00:00"


def test_a_session_logs_a_bounded_number_of_events_and_the_researcher_page_is_not_cached(study, store):
    from study_app.web.participants import MAX_LOGGED_EVENTS

    batch = {"events": [{"kind": "resize", "t_ms": 1.0, "detail": {"w": 800}}] * 200}
    with client_for(study, store) as client:
        start(client)
        codes = [client.post("/api/events", json=batch).status_code for _ in range(MAX_LOGGED_EVENTS // 200 + 1)]
        token = client.app.state.config.researcher_token
        page = client.get(f"/researcher?token={token}")
    assert codes[:-1] == [200] * (MAX_LOGGED_EVENTS // 200) and codes[-1] == 413
    assert page.headers["cache-control"] == "no-store"
