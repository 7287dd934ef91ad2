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


def source_cells(frames) -> list[str]:
    """The Source column's cells of the frames table the report page renders."""
    import re

    from crashflow.web.page import TEMPLATES

    html = TEMPLATES.from_string('{% from "macros.html" import frames_table %}{{ frames_table(frames) }}').render(
        frames=frames)
    body = html.split("<tbody>")[1]
    rows = re.findall(r"<tr(?: class=\"inline-frame\")?>(.*?)</tr>", body, re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[3] for row in rows]


def test_a_frame_without_a_source_file_shows_a_dash():
    from crashflow.web.report import frame_view

    frames = [frame_view({"frame": 0, "module": "app.exe", "function": "crash()", "file": "/src/app/main.cpp",
                          "line": 12, "inlines": [{"function": "inner()"}, {"function": "deeper()",
                                                                              "file": "/src/app/util.h"}]}),
              frame_view({"frame": 1, "module": "app.exe", "module_offset": "0x10"}),
              frame_view({"frame": 2, "module": "ntdll.dll", "function": "RtlUserThreadStart", "line": 7})]
    # Inline frames come before their frame, innermost first.
    assert source_cells(frames) == ["—", "app/util.h", "app/main.cpp:12", "—", "—"]


def test_correlations_say_whether_the_job_ever_ran():
    from crashflow.web.page import TEMPLATES

    template = TEMPLATES.get_template("correlations.html")
    never = template.render(correlations={"hits": [], "report_date": None, "total": 0}, correlations_run=None)
    assert "the <code>correlations</code> job has not completed a run" in never and "this one has none" not in never
    ran = template.render(correlations={"hits": [], "report_date": None, "total": 0},
                          correlations_run="2026-11-30T22:45:00+00:00")
    assert "this one has none yet" in ran and "2026-11-30 22:45" in ran


def test_values_at_a_path_through_lists():
    from crashflow.web.report import values_at

    dump = {"crashing_thread": {"frames": [{"registers": {"eip": "0x1"}}, {}, {"registers": {"eip": "0x3"}}]}}
    assert values_at(dump, ["crashing_thread", "frames", "registers"]) == {0: {"eip": "0x1"}, 2: {"eip": "0x3"}}
    assert values_at(dump, ["crashing_thread", "nothing"]) is None
    assert values_at({"a": 0}, ["a"]) == 0
