import pytest

from crashflow.api.errors import BadRequest
from crashflow.api.reprocessing import parse_crash_ids
from crashflow.messages import ProcessingRequest

ID = "de1bb258-cbbf-4589-a673-34f800160918"


def test_ids_with_prefix_and_ruleset():
    requests = parse_crash_ids([f"bp-{ID}", f"{ID}:regenerate_signature", ID])
    assert [(r.crash_id, r.ruleset, r.fresh_symbols, r.requested_by) for r in requests] == [
        (ID, "default", True, "reprocessing"), (ID, "regenerate_signature", True, "reprocessing"),
    ]
    # Queued as JSON: whatever triggers process from the queue, it looks symbols up afresh.
    assert [ProcessingRequest.from_message(r.to_message()) for r in requests] == requests


@pytest.mark.parametrize("values", [[], [""], ["nope"], [f"{ID}:bad ruleset!"], [f"{ID}:regenerate"], [f"{ID},x"]])
def test_bad_ids_are_refused_before_anything_is_queued(values):
    with pytest.raises(BadRequest):
        parse_crash_ids(values)
