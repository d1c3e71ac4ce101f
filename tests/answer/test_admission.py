import threading
import time

import pytest

from appliance.answer.admission import Admission, Busy


def test_one_at_a_time_and_a_bounded_queue():
    admission = Admission(max_waiting=1, timeout_s=5)
    release = threading.Event()
    order = []

    def hold():
        with admission.slot():
            order.append("first")
            release.wait(5)

    def queued():
        with admission.slot() as waited:
            order.append(("second", waited > 0.1))

    t1 = threading.Thread(target=hold)
    t1.start()
    while not order:
        time.sleep(0.01)
    t2 = threading.Thread(target=queued)
    t2.start()
    while admission.waiting < 1:
        time.sleep(0.01)
    with pytest.raises(Busy, match="already waiting"):
        with admission.slot():
            pass
    time.sleep(0.15)
    release.set()
    t1.join()
    t2.join()
    assert order == ["first", ("second", True)]
    assert admission.waiting == 0


def test_waiting_too_long_is_refused():
    admission = Admission(max_waiting=4, timeout_s=0.2)
    with admission.slot():
        result = []
        t = threading.Thread(target=lambda: result.append(_try(admission)))
        t.start()
        t.join()
    assert "no answer slot came free" in result[0]


def _try(admission):
    try:
        with admission.slot():
            return "admitted"
    except Busy as err:
        return str(err)
