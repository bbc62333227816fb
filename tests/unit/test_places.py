"""An input partition's place in a stream worker: which events are taken, which are
passed over, when to rewind and what to commit."""

from __future__ import annotations

from services.common.places import Admission, Place, commit_point, starting_place


def test_a_partition_starts_at_its_committed_offset_or_its_first_event() -> None:
    assert starting_place(committed=7, earliest=0) == Place(next=7, committed=7)
    assert starting_place(committed=None, earliest=0) == Place(next=0, committed=0)
    assert starting_place(committed=None, earliest=4) == Place(next=4, committed=4)
    # What was committed has been deleted since: its first event still there.
    assert starting_place(committed=2, earliest=5) == Place(next=5, committed=5)


def test_events_are_taken_in_offset_order_and_committed_past_once_finished() -> None:
    place = starting_place(committed=3, earliest=0)
    assert place.admit(3) is Admission.take
    place.take(3)
    assert (place.unfinished, place.to_commit()) == (3, None)  # in hand: not committed
    place.finish(3)
    assert (place.unfinished, place.to_commit()) == (4, 4)
    place.committed = 4
    assert place.to_commit() is None


def test_an_event_read_again_is_passed_over() -> None:
    place = starting_place(committed=3, earliest=0)
    place.take(3)
    # Read again while in hand (a rewind after a rebalance), and after it finished.
    assert place.admit(3) is Admission.again
    place.finish(3)
    assert place.admit(3) is Admission.again
    assert place.admit(0) is Admission.again


def test_an_event_past_the_expected_one_is_a_gap_and_is_not_taken() -> None:
    place = starting_place(committed=None, earliest=0)
    assert place.admit(5) is Admission.gap
    assert place.next == 0  # read again from the first unfinished event


def test_a_let_go_signal_is_the_next_to_take_and_is_not_committed() -> None:
    place = starting_place(committed=10, earliest=0)
    place.take(10)
    place.release(10)
    assert (place.next, place.holding, place.unfinished) == (10, set(), 10)
    assert place.to_commit() is None
    assert place.admit(10) is Admission.take
    assert place.admit(11) is Admission.gap


def test_a_waiting_signal_holds_the_commit_at_itself() -> None:
    place = starting_place(committed=0, earliest=0)
    for offset in (0, 1):
        place.take(offset)
        place.finish(offset)
    place.take(2)  # waits for its destination
    assert place.to_commit() == 2  # the two before it are done; it is not
    place.committed = 2
    assert place.to_commit() is None


def test_a_rewind_is_news_once_until_something_is_taken() -> None:
    place = starting_place(committed=0, earliest=0)
    assert place.rewind()
    assert not place.rewind()  # records fetched before the seek: the same rewind
    place.take(0)
    assert place.rewind()  # a new gap, further on


def test_events_in_hand_together_finish_in_any_order_commit_up_to_the_first_unfinished() -> None:
    place = starting_place(committed=4, earliest=0)
    for offset in (4, 5, 6):
        place.take(offset)
    place.finish(6)
    place.finish(5)
    assert (place.unfinished, place.to_commit()) == (4, None)  # 4 is still in hand
    place.finish(4)
    assert place.to_commit() == 7


def test_letting_go_of_one_of_several_reads_it_and_those_after_it_again() -> None:
    place = starting_place(committed=0, earliest=0)
    for offset in (0, 1, 2):
        place.take(offset)
    place.release(1)
    assert (place.next, place.holding, place.unfinished) == (1, {0}, 0)
    place.finish(2)  # one after it ends anyway: read again all the same (at least once)
    place.finish(0)
    assert place.to_commit() == 1
    assert place.admit(1) is Admission.take


def test_a_partition_with_two_readers_is_committed_up_to_the_one_behind() -> None:
    judge, incidents = starting_place(3, 0), starting_place(3, 0)
    for offset in (3, 4, 5):
        judge.take(offset)
        judge.finish(offset)
    incidents.take(3)
    incidents.finish(3)
    incidents.take(4)
    assert commit_point([judge, incidents]) == 4
    judge.committed = incidents.committed = 4
    assert commit_point([judge, incidents]) is None
    incidents.finish(4)
    assert commit_point([judge, incidents]) == 5


def test_a_batch_is_done_up_to_the_first_event_let_go_which_is_read_again() -> None:
    place = starting_place(committed=10, earliest=0)
    for offset in range(10, 15):
        place.take(offset)
    released = place.settle([(10, True), (11, True), (12, False), (13, True), (14, True)])
    assert released
    # One commit covers the two done; 12 is the next to take, and 13 and 14 after it.
    assert (place.to_commit(), place.next, place.holding) == (12, 12, set())


def test_a_batch_all_done_commits_past_its_last_event() -> None:
    place = starting_place(committed=0, earliest=0)
    for offset in range(3):
        place.take(offset)
    assert not place.settle([(0, True), (1, True), (2, True)])
    assert (place.to_commit(), place.next) == (3, 3)
