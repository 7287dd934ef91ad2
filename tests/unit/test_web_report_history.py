"""The report page reads the processing history the processor writes: Socorro's strings,
and the records of crashes processed before crashflow wrote those."""

from crashflow.processor.service import history_line
from crashflow.web.report import history_runs


def test_the_page_reads_the_lines_the_processor_writes():
    runs = [
        {"completed_datetime": "2026-11-30T15:40:00+00:00", "ruleset": "default", "signature": "test_app.exe",
         "processor_notes": "minidump-stackwalk on upload_file_minidump: ERROR_NO_SYMBOLS; x"},
        {"completed_datetime": "2026-11-30T15:41:00+00:00", "ruleset": "regenerate_signature",
         "signature": "Foo::Bar | std::vector<int>::at", "processor_notes": ""},
    ]
    assert history_runs([history_line(run) for run in runs]) == [
        {"completed": "2026-11-30T15:40:00+00:00", "ruleset": "default", "signature": "test_app.exe",
         "notes": "minidump-stackwalk on upload_file_minidump: ERROR_NO_SYMBOLS; x"},
        {"completed": "2026-11-30T15:41:00+00:00", "ruleset": "regenerate_signature",
         "signature": "Foo::Bar | std::vector<int>::at", "notes": ""},
    ]
    assert history_runs(runs) == history_runs([history_line(run) for run in runs])  # the older records


def test_no_history():
    assert history_runs(None) == [] and history_runs([]) == []
