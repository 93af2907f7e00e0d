"""The embedded model's thread count follows the cores other processes leave free."""

from __future__ import annotations

from memgpt.llm.cores import CoreShare, busy_seconds


class Machine:
    """A clock, the machine's busy CPU seconds and this process's own, advanced by hand."""

    def __init__(self) -> None:
        self.wall = self.busy = self.own = 0.0

    def run(self, seconds: float, *, others: float, own: float = 0.0) -> None:
        """`seconds` pass with `others` and `own` cores busy."""
        self.wall += seconds
        self.busy += seconds * (others + own)
        self.own += seconds * own

        self.others = 0.0  # cores busy with other processes while this one sleeps

    def share(self, cores: int = 2) -> CoreShare:
        return CoreShare(
            cores=cores,
            machine_cores=cores,
            busy=lambda: self.busy,
            own=lambda: self.own,
            clock=lambda: self.wall,
            sleep=lambda seconds: self.run(seconds, others=self.others),
        )


def test_an_idle_machine_gets_every_core() -> None:
    machine = Machine()
    share = machine.share()
    machine.run(5, others=0.1)
    assert share.threads() == 2


def test_its_own_work_does_not_count_as_load() -> None:
    machine = Machine()
    share = machine.share()
    machine.run(5, others=0.0, own=2.0)
    assert share.threads() == 2


def test_a_busy_core_is_left_to_the_process_using_it() -> None:
    machine = Machine()
    share = machine.share()
    machine.run(5, others=1.0, own=1.0)
    assert share.threads() == 1
    machine.run(5, others=1.9, own=0.1)  # a loaded machine: never below one thread
    assert share.threads() == 1
    machine.run(5, others=0.0, own=1.0)  # the others finished
    assert share.threads() == 2


def test_a_core_a_quarter_busy_is_not_free() -> None:
    machine = Machine()
    share = machine.share(cores=4)
    machine.run(5, others=1.3)
    assert share.threads() == 2


def test_a_short_interval_keeps_the_previous_choice() -> None:
    machine = Machine()
    share = machine.share()
    machine.run(5, others=1.0)
    assert share.threads() == 1
    machine.run(0.05, others=0.0)
    assert share.threads() == 1


def test_the_first_call_measures_before_choosing() -> None:
    machine = Machine()
    machine.others = 1.5
    share = machine.share()
    assert share.threads() == 1  # at once after loading: it waited to see the load


def test_without_a_load_figure_it_uses_every_core() -> None:
    share = CoreShare(cores=3, busy=lambda: None)
    assert share.threads() == 3


def test_the_machines_busy_time_is_read_and_grows() -> None:
    first = busy_seconds()
    if first is None:  # no /proc/stat on this system
        return
    sum(i * i for i in range(200_000))
    second = busy_seconds()
    assert second is not None and second >= first > 0
