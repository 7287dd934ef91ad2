"""call_with_retries: the first try without tenacity, then tenacity's bounded retries."""

import pytest

from crashflow.retrying import call_with_retries


class Flaky:
    def __init__(self, failures: int, error: type[Exception] = ConnectionError):
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return "done"


def retry_connection_errors(error: BaseException) -> bool:
    return isinstance(error, ConnectionError)


def test_a_success_is_called_once():
    call = Flaky(0)
    assert call_with_retries(call, 3, retry_connection_errors, first_wait=0.01) == "done" and call.calls == 1


def test_failures_are_tried_again_up_to_the_attempts():
    call = Flaky(2)
    assert call_with_retries(call, 3, retry_connection_errors, first_wait=0.01) == "done" and call.calls == 3
    call = Flaky(3)
    with pytest.raises(ConnectionError, match="failure 3"):
        call_with_retries(call, 3, retry_connection_errors, first_wait=0.01)
    assert call.calls == 3


@pytest.mark.parametrize("attempts, error", [(1, ConnectionError), (3, ValueError)])
def test_no_retry_with_one_attempt_or_for_other_errors(attempts, error):
    call = Flaky(1, error)
    with pytest.raises(error):
        call_with_retries(call, attempts, retry_connection_errors, first_wait=0.01)
    assert call.calls == 1
