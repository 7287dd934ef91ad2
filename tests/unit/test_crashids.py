import datetime as dt

import pytest

from crashflow.crashids import (
    InvalidCrashId, create_crash_id, date_from_crash_id, normalize_crash_id, throttle_result_from_crash_id,
)
from crashflow.stores.layout import crash_id_of_row_key, hbase_row_key


def test_crash_id_encodes_throttle_result_and_date():
    crash_id = create_crash_id(dt.datetime(2016, 9, 18, tzinfo=dt.timezone.utc), throttle_result=1)
    assert normalize_crash_id(crash_id) == crash_id
    assert crash_id.endswith("1160918")
    assert date_from_crash_id(crash_id) == dt.date(2016, 9, 18)
    assert throttle_result_from_crash_id(crash_id) == 1


def test_known_socorro_crash_id():
    crash_id = "de1bb258-cbbf-4589-a673-34f800160918"
    assert normalize_crash_id("bp-" + crash_id.upper()) == crash_id
    assert hbase_row_key(crash_id) == b"d160918" + crash_id.encode()
    assert crash_id_of_row_key(hbase_row_key(crash_id)) == crash_id


@pytest.mark.parametrize("value", ["", "bp-", "de1bb258-cbbf-4589-a673-34f8001609189", "x" * 36,
                                   "de1bb258-cbbf-4589-a673-34f80016091a", "de1bb258cbbf4589a67334f800160918"])
def test_invalid_crash_ids(value):
    with pytest.raises(InvalidCrashId):
        normalize_crash_id(value)


# Found by tests/bench/fuzz_query.py: /report/index/ with such an id answered 500.
@pytest.mark.parametrize("tail", ["045527", "161300", "160931", "170229"])
def test_a_crash_id_whose_last_six_digits_are_no_date_is_invalid(tail):
    with pytest.raises(InvalidCrashId, match="no date"):
        normalize_crash_id("bp-f841b766-ba9b-2696-98ec-f3fb78" + tail)


def test_throttle_result_must_be_a_digit():
    with pytest.raises(ValueError):
        create_crash_id(throttle_result=10)
