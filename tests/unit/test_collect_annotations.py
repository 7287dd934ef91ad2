from crashflow.collector.submit import normalize_annotations


def test_electron_and_old_breakpad_names_fill_product_and_version_and_stay():
    annotations = {"_productName": "ElectronApp", "ver": "1.2.3"}
    notes = normalize_annotations(annotations, {})
    assert annotations == {"_productName": "ElectronApp", "ver": "1.2.3", "ProductName": "ElectronApp", "Version": "1.2.3"}
    assert notes == ["ProductName from _productName", "Version from ver"]


def test_the_body_wins_over_the_query_string_which_fills_gaps():
    annotations = {"prod": "FromBody"}
    notes = normalize_annotations(annotations, {"product": "FromQuery", "version": "2.0", "guid": "g-1"})
    assert annotations["ProductName"] == "FromBody"
    assert annotations["Version"] == "2.0" and annotations["guid"] == "g-1"
    assert notes == ["ProductName from prod", "Version from query string", "guid from query string"]


def test_present_values_are_left_alone():
    annotations = {"ProductName": "App", "Version": "1", "prod": "Other", "guid": "mine"}
    assert normalize_annotations(annotations, {"product": "Q", "guid": "theirs"}) == []
    assert annotations == {"ProductName": "App", "Version": "1", "prod": "Other", "guid": "mine"}


def test_electron_apps_own_pair_wins_over_electrons():
    """Electron sends its own name and version as prod/ver and the app's as
    _productName/_version: the crash is the app's."""
    annotations = {"prod": "Electron", "ver": "28.1.0", "_productName": "Notes", "_version": "2.4.0",
                   "_companyName": "Acme"}
    notes = normalize_annotations(annotations, {"product": "Electron", "version": "28.1.0"})
    assert annotations["ProductName"] == "Notes" and annotations["Version"] == "2.4.0"
    assert annotations["prod"] == "Electron" and annotations["ver"] == "28.1.0"
    assert notes == ["ProductName from _productName", "Version from _version"]
