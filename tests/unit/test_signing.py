"""Signing: the fast crash-data conversion held equal to siggen's own, and one generator
shared by many threads at once."""

import copy
import json
import random
import sys
import threading
from pathlib import Path

import pytest
from siggen.generator import SignatureGenerator
from siggen.utils import convert_to_crash_data

from crashflow.signing import sign, signature_input


def stackwalker_outputs() -> list[dict]:
    """The stackwalker's JSON for the test dumps, from the expected snapshots."""
    outputs = []
    for snapshot in sorted((Path(__file__).parents[1] / "data" / "stackwalk-expected").glob("*json*.snap")):
        outputs.append(json.loads(snapshot.read_text().split("\n---\n", 1)[1]))
    return outputs


@pytest.mark.parametrize("index", range(3))
def test_signature_input_is_what_siggen_would_build(index):
    json_dump = stackwalker_outputs()[index]
    variants = [
        {"json_dump": json_dump, "signature": "EMPTY", "hang": "1", "oom_allocation_size": "1024",
         "additional_minidumps": ["upload_file_minidump_browser"], "mdsw_status_string": "OK"},
        {"json_dump": {**json_dump, "crash_info": None}, "java_stack_trace": "java.lang.X"},
        {"json_dump": {"system_info": "not a dict"}, "oom_allocation_size": "many",
         "java_exception": {"exception": {"values": []}}},
        {"abort_message": "boom", "ipc_channel_error": "e", "async_shutdown_timeout": "{}"},
    ]
    for processed in variants:
        assert signature_input(processed) == convert_to_crash_data(processed)


def crashes_to_sign() -> list[dict]:
    """siggen crash data of many different crashes: the test dumps, each also with its
    crashing thread's frames renamed, cut short or told to hang, so that signatures,
    notes and the proto signature all differ from crash to crash."""
    crashes = []
    for json_dump in stackwalker_outputs():
        for variant in range(12):
            dump = copy.deepcopy(json_dump)
            for thread in dump.get("threads") or []:
                frames = thread.get("frames") or []
                for number, frame in enumerate(frames):
                    if variant % 3 == 1 and frame.get("function"):
                        frame["function"] = f"{frame['function']}_{variant}_{number}"
                thread["frames"] = frames[: max(1, len(frames) - variant)]
            processed = {"json_dump": dump, "hang": "1" if variant % 4 == 3 else None,
                         "abort_message": f"abort {variant}" if variant % 5 == 4 else None}
            crashes.append(signature_input(processed))
    return crashes


def test_one_generator_signs_from_many_threads_at_once():
    crashes = crashes_to_sign()
    alone = SignatureGenerator()  # not shared: what each crash signs as, one at a time
    expected = [alone.generate(crash).to_dict() for crash in crashes]
    assert len({result["signature"] for result in expected}) > 10  # the crashes sign differently
    results: dict[int, list] = {}
    start = threading.Barrier(8)

    def signer(seed: int) -> None:
        order = list(range(len(crashes))) * 4
        random.Random(seed).shuffle(order)
        start.wait()
        results[seed] = [(index, sign(crashes[index]).to_dict()) for index in order]

    # Threads switch every 10 microseconds instead of every 5 ms: a race has every chance to show.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=signer, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    assert len(results) == 8
    for signed in results.values():
        assert all(result == expected[index] for index, result in signed)
