"""The web server on a PostgreSQL store, the way several server processes share one: pages on
two servers at once, the test phase shared out r-fold, every image answered exactly r times."""

from __future__ import annotations

import asyncio

from study_app.protocol.study import load_study
from study_app.session.simulated_raters import RaschRaters
from study_app.store.export import answers_frame
from study_app.store.results_store import ResultsStore
from study_app.web.client import WebParticipant, image_ids_by_content, scripted_participant, walk_all
from study_app.web.local import served
from study_app.web.server import ServerConfig, create_app
from tests.store.postgres.conftest import allocated_study


def test_two_servers_on_one_postgresql_store_share_the_images_out_r_fold(tmp_path, pg_url):
    study = load_study(allocated_study(tmp_path / "study", per_class_test=3, r=2, share=4))  # 12 images, r = 2
    raters, images = RaschRaters(0.8, 0.5, 1.0, 0), image_ids_by_content(study)
    fast = (1000.0, 1000.0)
    with (
        served(create_app(ServerConfig(study, pg_url, page_rate=fast))) as first,
        served(create_app(ServerConfig(study, pg_url, page_rate=fast))) as second,
    ):
        pages = [
            WebParticipant(
                (first, second)[number % 2],
                study,
                scripted_participant(study, f"W{number:02d}", raters, 0, (500.0, 50.0)),
                images=images,
            )
            for number in range(6)
        ]
        answered = [len(run.acknowledged) for run in asyncio.run(walk_all(pages))]
    assert answered == [4 + 4] * 6  # 4 training images each, and a share of 4 test images
    with ResultsStore(pg_url, readonly=True) as store:
        frame = answers_frame(store)
    test = frame[frame["phase"] == "test"].drop_duplicates("trial_uuid")
    assert test.groupby("image_id").size().to_dict() == dict.fromkeys(study.phase("test").image_ids, 2)
    assert set(frame["front_end"]) == {"web"}
