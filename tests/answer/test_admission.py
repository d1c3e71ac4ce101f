import threading

import pytest

from appliance.answer.admission import Admission
from appliance.errors import Busy


def test_slots_then_a_fifo_line_then_busy():
    admission = Admission(max_concurrent=2, max_waiting=2, timeout_s=5)
    first, second = admission.enter(), admission.enter()
    assert first.position == 0 and second.position == 0  # both admitted at once
    third, fourth = admission.enter(), admission.enter()
    assert (third.position, fourth.position) == (1, 2)
    assert admission.stats() == {"running": 2, "waiting": 2}
    with pytest.raises(Busy, match="2 questions are waiting"):
        admission.enter()
    assert not third.wait(0.05)
    first.leave()
    assert third.wait(1) and third.position == 0
    assert fourth.position == 1 and not fourth.wait(0.05)
    fourth.leave()  # a client that gave up leaves the line
    assert admission.stats() == {"running": 2, "waiting": 0}
    second.leave()
    third.leave()
    assert admission.stats() == {"running": 0, "waiting": 0}


def test_a_waiter_is_woken_when_a_slot_frees():
    admission = Admission(max_concurrent=1, max_waiting=1, timeout_s=5)
    holder = admission.enter()
    waiter = admission.enter()
    woke = []
    thread = threading.Thread(target=lambda: woke.append(waiter.wait(5)))
    thread.start()
    holder.leave()
    thread.join(5)
    assert woke == [True]
    waiter.leave()
