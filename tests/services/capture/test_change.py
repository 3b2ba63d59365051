"""Change detection: exact fast path, then the share of changed cells vs the last kept frame."""

from __future__ import annotations

from services.capture.change import CELL, ChangeDetector
from tests.services.capture.pictures import SIZE, frame_of, solid, with_box

CELLS = (SIZE[0] // CELL) * (SIZE[1] // CELL)


def test_first_frame_of_a_monitor_is_kept() -> None:
    """The first frame a monitor shows has nothing to compare with and is kept."""
    assert ChangeDetector(0.01).check(frame_of(solid("white"))).keep


def test_identical_frame_is_skipped_by_the_exact_path() -> None:
    """A pixel-identical frame is skipped without the downscaled comparison."""
    detector = ChangeDetector(0.01)
    detector.check(frame_of(solid("white")))
    verdict = detector.check(frame_of(solid("white")))
    assert (verdict.keep, verdict.exact) == (False, True)


def test_one_changed_pixel_is_not_taken_for_identical() -> None:
    """The exact path remembers a digest of the seen frame, not the frame: one pixel differs,
    and the frame goes to the downscaled comparison (too small a change to keep)."""
    base = solid("white")
    detector = ChangeDetector(0.01)
    detector.check(frame_of(base))
    verdict = detector.check(frame_of(with_box(base, (7, 7, 7, 7), "black")))
    assert (verdict.keep, verdict.exact) == (False, False)
    assert detector.check(frame_of(base)).exact is False  # the one-pixel frame was seen last


def test_whole_screen_change_is_kept() -> None:
    """A new colour everywhere changes every cell."""
    detector = ChangeDetector(0.01)
    detector.check(frame_of(solid("white")))
    verdict = detector.check(frame_of(solid("navy")))
    assert verdict.keep
    assert verdict.score == 1.0


def test_change_below_the_threshold_is_skipped_and_above_is_kept() -> None:
    """The threshold is the share of changed cells a frame needs to be kept."""
    base = solid("white")
    small = with_box(base, (0, 0, 2 * CELL - 1, 2 * CELL - 1), "black")  # 4 cells
    large = with_box(base, (0, 0, 20 * CELL - 1, 10 * CELL - 1), "black")  # 200 cells
    detector = ChangeDetector(threshold=50 / CELLS)
    detector.check(frame_of(base))
    small_verdict = detector.check(frame_of(small))
    assert not small_verdict.keep
    assert small_verdict.score == 4 / CELLS
    assert detector.check(frame_of(large)).keep


def test_small_changes_accumulate_against_the_last_kept_frame() -> None:
    """Creeping changes are measured from the last kept frame, so they end up kept."""
    base = solid("white")
    detector = ChangeDetector(threshold=6 / CELLS)
    detector.check(frame_of(base))
    verdicts = []
    image = base
    for step in range(4):
        image = with_box(
            image, (step * 2 * CELL, 0, step * 2 * CELL + 2 * CELL - 1, CELL - 1), "red"
        )
        verdicts.append(detector.check(frame_of(image)).keep)
    assert verdicts == [False, False, False, True]


def test_zero_threshold_keeps_any_visible_change() -> None:
    """With threshold 0 one changed cell is enough."""
    detector = ChangeDetector(0.0)
    detector.check(frame_of(solid("white")))
    assert detector.check(
        frame_of(with_box(solid("white"), (0, 0, CELL - 1, CELL - 1), "black"))
    ).keep


def test_monitors_are_judged_separately() -> None:
    """Each monitor is compared with its own last kept frame."""
    detector = ChangeDetector(0.01)
    assert detector.check(frame_of(solid("white"), monitor=1)).keep
    assert detector.check(frame_of(solid("white"), monitor=2)).keep
    assert not detector.check(frame_of(solid("white"), monitor=1)).keep


def test_a_new_screen_size_is_kept() -> None:
    """A monitor whose resolution changed keeps its next frame."""
    detector = ChangeDetector(0.01)
    detector.check(frame_of(solid("white")))
    assert detector.check(frame_of(solid("white", (320, 180)))).keep


def test_forced_frame_becomes_the_reference() -> None:
    """A forced keep is the frame later ones are compared with."""
    detector = ChangeDetector(0.01)
    detector.check(frame_of(solid("white")))
    detector.force_keep(frame_of(solid("navy")))
    assert not detector.check(frame_of(solid("navy"))).keep
