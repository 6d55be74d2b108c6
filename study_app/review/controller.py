"""The course of one review sitting, independent of any window.

:class:`ReviewController` holds the errors in the order the reviewer sees them, knows
which the reviewer has already reviewed (in this or any earlier sitting), starts at the
first unreviewed one, and writes every review through the store before moving on. The
PyQt5 review window is a view on it; tests drive the same object.
"""

from __future__ import annotations

from collections.abc import Sequence

from study_app.errors import StudyError
from study_app.protocol.schedule import check_annotator_id
from study_app.protocol.study import Study
from study_app.protocol.taxonomy import Cause
from study_app.review.items import ErrorItem, Selection, review_order
from study_app.store.results_store import ResultsStore
from study_app.store.reviews import ErrorReview, current_reviews, end_review_session, open_review_session, save_review


class ReviewController:
    """Walks a reviewer through errors; each saved review is durable before the next is shown."""

    def __init__(
        self,
        study: Study,
        store: ResultsStore,
        reviewer: str,
        items: Sequence[ErrorItem],
        blind: bool,
        selection: Selection,
    ) -> None:
        self.study = study
        self.store = store
        self.reviewer = check_annotator_id(reviewer)
        self.blind = blind
        self.taxonomy = study.taxonomy
        self.items = review_order(list(items), blind, study.seed, self.reviewer)
        self.reviews: dict[str, ErrorReview] = current_reviews(store, self.reviewer)
        self._reviewed = sum(1 for item in self.items if item.item in self.reviews)  # kept up to date by save
        self.resumed = self._reviewed > 0
        self.session_uuid = open_review_session(
            store,
            self.reviewer,
            study_name=study.name,
            protocol_hash=study.protocol_hash,
            blind=blind,
            selection=selection.to_json(),
            taxonomy=self.taxonomy.to_json(),
        )
        self.position = self.first_unreviewed()

    # -- where the reviewer is ----------------------------------------------------------
    def first_unreviewed(self, start: int = 0) -> int:
        """Position of the first error from ``start`` on without a review (``len(items)`` if there is none)."""
        return next(
            (i for i in range(start, len(self.items)) if self.items[i].item not in self.reviews), len(self.items)
        )

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def reviewed_count(self) -> int:
        return self._reviewed

    @property
    def complete(self) -> bool:
        return self.reviewed_count == len(self.items)

    def current(self) -> ErrorItem | None:
        return self.items[self.position] if self.position < len(self.items) else None

    def review_of(self, item: ErrorItem) -> ErrorReview | None:
        return self.reviews.get(item.item)

    def offered(self, item: ErrorItem) -> tuple[Cause, ...]:
        """Causes shown for this error: all of them when blind (the kind of rater is hidden)."""
        return self.taxonomy.offered(None if self.blind else item.kind)

    def go_to(self, position: int) -> None:
        self.position = max(0, min(position, len(self.items)))

    def next_position(self) -> int:
        """The next error after this one that has no review yet, else simply the next one."""
        later = self.first_unreviewed(self.position + 1)
        if later < len(self.items):
            return later
        earlier = self.first_unreviewed()
        return earlier if earlier < len(self.items) else min(self.position + 1, len(self.items))

    # -- writing ------------------------------------------------------------------------
    def save(
        self, causes: Sequence[str], note: str = "", proposed_truth: Sequence[str] | None = None, review_ms: float = 0.0
    ) -> ErrorReview:
        """Review the current error (a revision if it was reviewed before); the store has it on return."""
        item = self.current()
        if item is None:
            raise StudyError("there is no error on screen to review")
        offered = {c.key for c in self.offered(item)}
        unknown = [key for key in causes if key not in offered]
        if unknown:
            raise StudyError(
                f"cause {unknown[0]!r} is not offered for this error; causes: {', '.join(sorted(offered))}"
            )
        ordered = [c.key for c in self.taxonomy.causes if c.key in set(causes)]
        proposal = tuple(proposed_truth or ())
        not_classes = [label for label in proposal if label not in self.study.labels.class_ids]
        if not_classes:
            raise StudyError(f"proposed ground truth {not_classes[0]!r} is not a class of this study")
        if proposal and set(proposal) == set(item.truth):
            raise StudyError(
                "the proposed ground truth is the image's ground truth already (Shift+F3 clears the proposal)"
            )
        previous = self.reviews.get(item.item)
        if previous is not None and (tuple(previous.causes), previous.note, previous.proposed_truth) == (
            tuple(ordered),
            note.strip(),
            proposal or None,
        ):
            return previous  # saved again unchanged: no new row (its time would decide which of two proposals counts)
        review = save_review(
            self.store,
            self.session_uuid,
            self.reviewer,
            item.target(),
            causes=ordered,
            note=note.strip(),
            proposed_truth=proposal or None,
            review_ms=review_ms,
        )
        if item.item not in self.reviews:
            self._reviewed += 1
        self.reviews[item.item] = review
        return review

    def finish(self) -> None:
        """Close the sitting (its end time is recorded); reviews were saved as they were made."""
        end_review_session(self.store, self.session_uuid)
