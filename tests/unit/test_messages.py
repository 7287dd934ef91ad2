"""ProcessingRequest: one parser for the queue message, the CloudEvent and the HTTP entry."""

import pytest

from crashflow.messages import InvalidMessage, ProcessingRequest

ID = "de1bb258-cbbf-4589-a673-34f800160918"


def fields(request: ProcessingRequest) -> tuple:
    return request.crash_id, request.ruleset, request.fresh_symbols, request.requested_by


@pytest.mark.parametrize("body, queue, expected", [
    (ID, None, (ID, "default", False, "collector")),
    (f" bp-{ID.upper()}\n", "standard", (ID, "default", False, "collector")),
    (ID, "priority", (ID, "default", False, "priority")),
    # Read from the reprocessing queue, a short message asks for fresh symbols.
    (ID, "reprocessing", (ID, "default", True, "reprocessing")),
    (f"{ID}:regenerate_signature", "reprocessing", (ID, "regenerate_signature", True, "reprocessing")),
    # JSON says everything, whatever the queue.
    (f'{{"crash_id": "{ID}", "fresh_symbols": true, "requested_by": "reprocessing"}}', "standard",
     (ID, "default", True, "reprocessing")),
    (f'{{"crash_id": "{ID}"}}', "reprocessing", (ID, "default", False, "collector")),
])
def test_queue_messages(body, queue, expected):
    assert fields(ProcessingRequest.from_message(body, queue)) == expected


@pytest.mark.parametrize("data", [
    {"crash_id": ID, "ruleset": "regenerate_signature", "fresh_symbols": True, "requested_by": "reprocessing"},
    f"{ID}:regenerate_signature".encode(),  # Knative's SQS source: the body as sent
    {"Body": f"{ID}:regenerate_signature"},  # SQS event sources that wrap the message
])
def test_cloudevent_data(data):
    request = ProcessingRequest.from_event_data(data)
    assert (request.crash_id, request.ruleset) == (ID, "regenerate_signature")


@pytest.mark.parametrize("body", [
    "", "not a crash id", f"{ID}:no_such_ruleset", "{not json", "[1]", '{"crash_id": 7}',
    f'{{"crash_id": "{ID}", "priority": "high"}}', f'{{"crash_id": "{ID}", "requested_by": "someone"}}',
])
def test_messages_that_can_never_be_processed(body):
    with pytest.raises(InvalidMessage):
        ProcessingRequest.from_message(body)


def test_what_each_origin_asks_and_how_it_is_queued():
    assert fields(ProcessingRequest.for_origin(f"bp-{ID}", "on_demand")) == (ID, "default", True, "on_demand")
    reprocess = ProcessingRequest.for_origin(ID, "reprocessing", "regenerate_signature")
    # Fresh symbols must survive any queue trigger, with or without the relay: JSON.
    assert reprocess.to_message().startswith("{")
    assert ProcessingRequest.from_message(reprocess.to_message()) == reprocess
    # The rest is the short form; its queue says who asked.
    assert ProcessingRequest.for_origin(ID, "collector").to_message() == ID
    priority = ProcessingRequest.for_origin(ID, "priority", "regenerate_signature")
    assert priority.to_message() == f"{ID}:regenerate_signature"
    assert ProcessingRequest.from_message(priority.to_message(), "priority") == priority
