import pytest

from crashflow.api.errors import BadRequest
from crashflow.api.reprocessing import parse_crash_ids

ID = "de1bb258-cbbf-4589-a673-34f800160918"


def test_ids_with_prefix_and_ruleset():
    assert parse_crash_ids([f"bp-{ID}", f"{ID}:regenerate_signature", ID]) == [ID, f"{ID}:regenerate_signature"]


@pytest.mark.parametrize("values", [[], [""], ["nope"], [f"{ID}:bad ruleset!"], [f"{ID},x"]])
def test_bad_ids_are_refused_before_anything_is_queued(values):
    with pytest.raises(BadRequest):
        parse_crash_ids(values)
