"""What the web app may read: data and model sources, the upload cap, the queue size and the paths never served."""
import pytest

from finetune import access
from finetune.access import AccessError, check_data, check_model


@pytest.fixture
def allowed(tmp_path, monkeypatch):
    (tmp_path / "allowed").mkdir()
    (tmp_path / "allowed" / "pairs.csv").write_text("sentence1,sentence2,label\n")
    (tmp_path / "allowed" / "escape.csv").symlink_to("/etc/passwd")
    monkeypatch.setenv(access.DATA_DIRS_ENV, str(tmp_path / "allowed"))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    return tmp_path / "allowed"


def test_data_comes_from_the_sample_the_hub_uploads_and_the_allowed_folders_only(allowed, tmp_path):
    upload = tmp_path / "uploads" / "0123abcd" / "mine.csv"
    for source in ["sample", "hub", "nyu-mll/glue", str(allowed), str(allowed / "pairs.csv"), str(upload)]:
        assert check_data(source) == source
    for source in ["/etc/passwd", str(allowed / ".." / "outside.csv"), str(allowed / "escape.csv"), str(tmp_path), "",
                   "~/.ssh/id_rsa", f"{allowed}-sibling/pairs.csv", str(tmp_path / "uploads" / ".." / "x.csv")]:
        with pytest.raises(AccessError, match="is not one this app serves"):
            check_data(source)


def test_without_allowed_folders_only_the_built_in_sources_and_uploads_are_served(monkeypatch, tmp_path):
    monkeypatch.delenv(access.DATA_DIRS_ENV, raising=False)
    assert access.data_roots() == []
    with pytest.raises(AccessError, match="the operator has allowed no server folders"):
        check_data(str(tmp_path))


def test_allowed_folders_are_offered_and_their_entries_accepted_by_name(allowed, mrpc_dir):
    import shutil

    shutil.copytree(mrpc_dir, allowed / "mrpc")  # the operator's copy of real MRPC, found by its name under the folder
    assert check_data("pairs.csv") == str((allowed / "pairs.csv").resolve())
    assert check_data("mrpc") == check_data("mrpc/") == str((allowed / "mrpc").resolve())
    assert (f"pairs.csv (in {allowed})", str((allowed / "pairs.csv").resolve())) in access.data_choices()
    assert access.real_mrpc_choices() == [(f"mrpc (in {allowed})", str((allowed / "mrpc").resolve()))]  # no Hub
    for outside in ("escape.csv", "../allowed-not", "nothing-here"):
        with pytest.raises(AccessError, match="one of the files and folders in"):
            check_data(outside)


def test_models_come_from_the_bundled_one_hub_ids_runs_and_allowed_folders(tmp_path, monkeypatch, tiny_bert):
    run = tmp_path / "runs" / "20260101-000000-tiny"
    run.mkdir(parents=True)
    for name in ["bundled", "bert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2", str(run)]:
        assert check_model(name) == name
    for name in ["/etc", str(tiny_bert), "../../etc", "~", "a/b/c", "..", "/root/model", "org/../../x", "runs/../.."]:
        with pytest.raises(AccessError, match="is not one this app loads"):
            check_model(name)
    monkeypatch.setenv(access.MODEL_DIRS_ENV, str(tiny_bert.parent))
    assert check_model(str(tiny_bert)) == str(tiny_bert)


def test_the_upload_cap_and_queue_size_have_defaults_and_follow_the_environment(monkeypatch):
    assert access.max_file_size() == "10mb" and access.queue_size() == access.QUEUE_SIZE == 1000
    monkeypatch.setenv(access.MAX_FILE_SIZE_ENV, "2mb")
    monkeypatch.setenv(access.QUEUE_SIZE_ENV, "5")
    assert access.launch_settings()["max_file_size"] == "2mb" and access.queue_size() == 5
    monkeypatch.setenv(access.QUEUE_SIZE_ENV, "lots")
    with pytest.raises(AccessError, match="FINETUNE_QUEUE_SIZE must be a whole number"):
        access.queue_size()


def test_runs_source_and_data_are_blocked_but_never_the_upload_folder(allowed, tmp_path, monkeypatch):
    blocked = access.blocked_paths()
    assert str(tmp_path / "runs") in blocked and str(allowed) in blocked
    assert str(access.PACKAGE_ROOT / "finetune") in blocked and str(access.PACKAGE_ROOT / "app.py") in blocked
    monkeypatch.setenv(access.DATA_DIRS_ENV, str(tmp_path))  # holds the upload folder: blocking it would block uploads
    monkeypatch.setenv("GRADIO_BLOCKED_PATHS", "/srv/secret")
    assert str(tmp_path) not in access.blocked_paths() and "/srv/secret" in access.blocked_paths()


@pytest.mark.parametrize("folders, offered", [("", False), ("/srv/mrpc", True)])
def test_the_data_tab_offers_server_folders_only_when_the_operator_allows_some(monkeypatch, folders, offered):
    from finetune.ui import build_app
    from finetune.ui.data import SERVER_PATH

    monkeypatch.setenv(access.DATA_DIRS_ENV, folders)
    config = build_app().get_config_file()
    radios = [c["props"]["choices"] for c in config["components"]
              if c["type"] == "radio" and c["props"]["label"] == "Source"]
    assert (SERVER_PATH in [label for label, _ in radios[0]]) is offered
