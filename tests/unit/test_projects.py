"""Training projects on disk: names, CRUD, rename consistency, confirmed deletes, checkpoints, concepts."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from PIL import Image

from model_workbench.training import projects as pj
from model_workbench.training.projects import ProjectError


def write_safetensors(path: Path, metadata: dict[str, str] | None = None, payload: bytes = b"\0" * 16) -> Path:
    """A minimal safetensors file by hand: 8-byte little-endian header length, JSON header, data."""
    header: dict = {"lora_unet_x.alpha": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # safetensors pads the header to 8 bytes
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)
    return path


def test_create_and_list_project_layout(tmp_path: Path) -> None:
    paths = pj.create_project(tmp_path, "  猫猫 cat  ")
    assert paths.name == "猫猫 cat"
    assert paths.dir == tmp_path / "projects" / "猫猫 cat"
    for sub in ("dataset", "versions", "checkpoints", "samples", "grids"):
        assert (paths.dir / sub).is_dir()
    assert paths.train_log == paths.dir / "train.log"
    pj.create_project(tmp_path, "alpha")
    infos = pj.list_projects(tmp_path)
    assert [i.name for i in infos] == ["alpha", "猫猫 cat"]
    assert infos[0].versions == [] and infos[0].concepts == 0 and infos[0].checkpoints == 0
    with pytest.raises(ProjectError, match="already exists"):
        pj.create_project(tmp_path, "alpha")
    assert pj.list_projects(tmp_path / "nowhere") == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "Enter a project name"),
        ("   ", "Enter a project name"),
        ("a/b", "must not contain '/'"),
        ("a\\b", "must not contain"),
        ("..", "must not start or end with '.'"),
        (".hidden", "must not start or end"),
        ("name.", "must not start or end"),
        ("../escape", "must not contain '/'"),
        ("a:b", "must not contain ':'"),
        ("a<b", "must not contain"),
        ("tab\there", "must not contain"),
        ("CON", "reserved name"),
        ("nul.txt", "reserved name"),
        ("Com3", "reserved name"),
        ("x" * 65, "too long"),
    ],
)
def test_bad_project_names_are_refused(tmp_path: Path, name: str, fragment: str) -> None:
    with pytest.raises(ProjectError, match=fragment):
        pj.create_project(tmp_path, name)
    assert not (tmp_path / "projects").exists() or list((tmp_path / "projects").iterdir()) == []


@pytest.mark.parametrize("name", ["猫", "Ñandú project", "v1.5_final-2", "プロジェクト", "consul", "a" * 64])
def test_good_names(name: str) -> None:
    assert pj.validate_name(name) == name


def test_version_names_cannot_look_like_checkpoint_suffixes() -> None:
    with pytest.raises(ProjectError, match="six digits"):
        pj.validate_name("v1-000001", "version")
    with pytest.raises(ProjectError, match="-state"):
        pj.validate_name("v1-state", "version")
    with pytest.raises(ProjectError, match="eight digits"):
        pj.validate_name("v1-step00000100", "version")
    assert pj.validate_name("v1-01", "version") == "v1-01"


def test_checkpoint_naming() -> None:
    assert pj.checkpoint_basename("cat", "v1", 2) == "cat_v1-000002"
    assert pj.checkpoint_filename("猫", "第一版", 12) == "猫_第一版-000012.safetensors"
    assert pj.output_name("cat", "v1") == "cat_v1"
    for bad in (-1, 1_000_000, 1.5, True):
        with pytest.raises(ProjectError, match="epoch"):
            pj.checkpoint_basename("cat", "v1", bad)
    with pytest.raises(ProjectError):
        pj.checkpoint_basename("cat", "../v1", 1)


def test_versions_crud_stores_any_json_dict(tmp_path: Path) -> None:
    pj.create_project(tmp_path, "cat")
    config = {"network_dim": 16, "learning_rate": 1e-4, "output_name": "cat_v1", "caption": "猫", "nested": {"a": [1]}}
    folder = pj.create_version(tmp_path, "cat", "v1", config)
    assert folder == tmp_path / "projects" / "cat" / "versions" / "v1"
    assert json.loads((folder / "config.json").read_text(encoding="utf-8")) == config
    assert pj.read_version_config(tmp_path, "cat", "v1") == config
    pj.create_version(tmp_path, "cat", "v2")
    assert pj.read_version_config(tmp_path, "cat", "v2") == {}
    pj.write_version_config(tmp_path, "cat", "v2", {"network_dim": 32})
    assert pj.read_version_config(tmp_path, "cat", "v2") == {"network_dim": 32}
    assert [v.name for v in pj.list_versions(tmp_path, "cat")] == ["v1", "v2"]
    assert pj.list_projects(tmp_path)[0].versions == ["v1", "v2"]

    with pytest.raises(ProjectError, match="already has a version"):
        pj.create_version(tmp_path, "cat", "v1")
    with pytest.raises(ProjectError, match="JSON object"):
        pj.create_version(tmp_path, "cat", "v3", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pj.write_version_config(tmp_path, "cat", "v2", {"bad": object()})
    assert pj.read_version_config(tmp_path, "cat", "v2") == {"network_dim": 32}  # untouched by the failure
    with pytest.raises(ProjectError, match="no version named"):
        pj.read_version_config(tmp_path, "cat", "v9")
    with pytest.raises(ProjectError, match="no project named"):
        pj.create_version(tmp_path, "dog", "v1")
    (folder / "config.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ProjectError, match="cannot be read"):
        pj.read_version_config(tmp_path, "cat", "v1")


def _project_with_checkpoints(root: Path) -> pj.ProjectPaths:
    paths = pj.create_project(root, "cat")
    pj.create_version(root, "cat", "v1", {"output_name": "cat_v1", "output_dir": str(paths.checkpoints),
                                          "train_data_dir": str(paths.dataset), "other": "/elsewhere"})
    pj.create_version(root, "cat", "v2")
    for epoch in (1, 2):
        write_safetensors(paths.checkpoint("v1", epoch), {"ss_epoch": str(epoch), "ss_steps": str(epoch * 50)})
    (paths.checkpoints / "cat_v1-000001.json").write_text(json.dumps({"loss": 0.125, "steps": 55}), encoding="utf-8")
    (paths.checkpoints / "cat_v1-000002.preview.png").write_bytes(b"png")
    (paths.checkpoints / "cat_v1-000002-state").mkdir()
    write_safetensors(paths.checkpoints / "cat_v1.safetensors", {"ss_epoch": "3", "ss_steps": "150"})
    write_safetensors(paths.checkpoints / "cat_v1-step00000070.safetensors", {"ss_epoch": "2"})
    write_safetensors(paths.checkpoint("v2", 1), {})
    (paths.checkpoints / "unrelated.safetensors").write_bytes(b"x")
    return paths


def test_list_checkpoints_reads_headers_and_sidecars(tmp_path: Path) -> None:
    _project_with_checkpoints(tmp_path)
    infos = pj.list_checkpoints(tmp_path, "cat", "v1")
    assert [(i.path.name, i.epoch, i.final, i.step_file) for i in infos] == [
        ("cat_v1-000001.safetensors", 1, False, False),
        ("cat_v1-step00000070.safetensors", 2, False, True),  # saved at step 70, during epoch 2
        ("cat_v1-000002.safetensors", 2, False, False),
        ("cat_v1.safetensors", 3, True, False),  # kohya's last file: epoch from ss_epoch
    ]
    first, step_file, second, last = infos
    assert step_file.steps == 70
    assert first.steps == 55 and first.loss == 0.125  # the sidecar wins over the header
    assert second.steps == 100 and second.loss is None
    assert last.steps == 150
    assert second.metadata == {"ss_epoch": "2", "ss_steps": "100"}
    assert first.size == first.path.stat().st_size and first.mtime > 0 and first.error == ""
    assert first.name == "cat_v1-000001"
    assert [i.epoch for i in pj.list_checkpoints(tmp_path, "cat", "v2")] == [1]
    assert [v.checkpoints for v in pj.list_versions(tmp_path, "cat")] == [4, 1]


def test_corrupt_checkpoint_is_listed_with_an_error(tmp_path: Path) -> None:
    paths = pj.create_project(tmp_path, "cat")
    pj.create_version(tmp_path, "cat", "v1")
    paths.checkpoint("v1", 1).write_bytes(b"\x01\x02")
    paths.checkpoint("v1", 2).write_bytes(struct.pack("<Q", 10**12) + b"{}")
    paths.checkpoint("v1", 3).write_bytes(struct.pack("<Q", 4) + b"[1]!")
    infos = pj.list_checkpoints(tmp_path, "cat", "v1")
    assert [i.epoch for i in infos] == [1, 2, 3]
    assert all("not a readable safetensors file" in i.error for i in infos)


def test_read_safetensors_metadata_header_only(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "x.safetensors", {"ss_epoch": "4", "ss_network_dim": "16"},
                             payload=b"\xff" * 1024)
    assert pj.read_safetensors_metadata(path) == {"ss_epoch": "4", "ss_network_dim": "16"}
    assert pj.read_safetensors_metadata(write_safetensors(tmp_path / "y.safetensors", None)) == {}


def test_rename_project_renames_checkpoints_and_config(tmp_path: Path) -> None:
    old = _project_with_checkpoints(tmp_path)
    new = pj.rename_project(tmp_path, "cat", "猫")
    assert not old.dir.exists() and new.dir == tmp_path / "projects" / "猫"
    names = sorted(p.name for p in new.checkpoints.iterdir())
    assert names == sorted([
        "猫_v1-step00000070.safetensors", "猫_v1-000001.safetensors", "猫_v1-000001.json", "猫_v1-000002.safetensors", "猫_v1-000002.preview.png",
        "猫_v1-000002-state", "猫_v1.safetensors", "猫_v2-000001.safetensors", "unrelated.safetensors",
    ])
    config = pj.read_version_config(tmp_path, "猫", "v1")
    assert config["output_name"] == "猫_v1"
    assert config["output_dir"] == str(new.checkpoints)
    assert config["train_data_dir"] == str(new.dataset)
    assert config["other"] == "/elsewhere"
    assert [i.loss for i in pj.list_checkpoints(tmp_path, "猫", "v1")][0] == 0.125
    with pytest.raises(ProjectError, match="no project named"):
        pj.rename_project(tmp_path, "cat", "x")
    pj.create_project(tmp_path, "dog")
    with pytest.raises(ProjectError, match="already exists"):
        pj.rename_project(tmp_path, "猫", "dog")
    with pytest.raises(ProjectError, match="must not contain"):
        pj.rename_project(tmp_path, "猫", "a/b")
    assert pj.rename_project(tmp_path, "猫", "猫").dir == new.dir


def test_rename_clash_changes_nothing(tmp_path: Path) -> None:
    paths = _project_with_checkpoints(tmp_path)
    (paths.checkpoints / "dog_v1-000001.safetensors").write_bytes(b"someone else's file")
    with pytest.raises(ProjectError, match="would overwrite"):
        pj.rename_project(tmp_path, "cat", "dog")
    assert paths.checkpoint("v1", 1).exists() and paths.dir.exists()


def test_rename_version(tmp_path: Path) -> None:
    paths = _project_with_checkpoints(tmp_path)
    pj.rename_version(tmp_path, "cat", "v1", "v1 long")
    names = {p.name for p in paths.checkpoints.iterdir()}
    assert {"cat_v1 long-000001.safetensors", "cat_v1 long.safetensors", "cat_v1 long-000002-state",
            "cat_v2-000001.safetensors"} <= names
    assert not any(n.startswith("cat_v1-") or n == "cat_v1.safetensors" for n in names)
    assert pj.read_version_config(tmp_path, "cat", "v1 long")["output_name"] == "cat_v1 long"
    assert [i.epoch for i in pj.list_checkpoints(tmp_path, "cat", "v1 long")] == [1, 2, 2, 3]
    with pytest.raises(ProjectError, match="already has a version"):
        pj.rename_version(tmp_path, "cat", "v1 long", "v2")


def test_delete_needs_the_name_typed_back(tmp_path: Path) -> None:
    paths = _project_with_checkpoints(tmp_path)
    for wrong in ("", "yes", "Cat", None):
        with pytest.raises(ProjectError, match="type its name"):
            pj.delete_version(tmp_path, "cat", "v1", confirm=wrong)  # type: ignore[arg-type]
        with pytest.raises(ProjectError, match="type its name"):
            pj.delete_project(tmp_path, "cat", confirm=wrong)  # type: ignore[arg-type]
    assert paths.checkpoint("v1", 1).exists()

    pj.delete_version(tmp_path, "cat", "v1", confirm="v1")
    remaining = sorted(p.name for p in paths.checkpoints.iterdir())
    assert remaining == ["cat_v2-000001.safetensors", "unrelated.safetensors"]
    assert [v.name for v in pj.list_versions(tmp_path, "cat")] == ["v2"]

    pj.delete_project(tmp_path, "cat", confirm="cat")
    assert not paths.dir.exists() and pj.list_projects(tmp_path) == []
    with pytest.raises(ProjectError, match="no project named"):
        pj.delete_project(tmp_path, "cat", confirm="cat")


def _image(path: Path, colour: str = "red", fmt: str | None = None) -> Path:
    Image.new("RGB", (8, 8), colour).save(path, format=fmt)
    return path


def test_concepts_and_repeats(tmp_path: Path) -> None:
    paths = pj.create_project(tmp_path, "cat")
    folder = pj.create_concept(tmp_path, "cat", "sks cat", repeats=10)
    assert folder == paths.dataset / "10_sks cat"
    pj.create_concept(tmp_path, "cat", "风格", repeats=2)
    (paths.dataset / "not_a_concept").mkdir()
    concepts = pj.list_concepts(tmp_path, "cat")
    assert [(c.name, c.repeats) for c in concepts] == [("sks cat", 10), ("风格", 2)]
    with pytest.raises(ProjectError, match="already has a concept"):
        pj.create_concept(tmp_path, "cat", "sks cat", repeats=3)
    for bad in (0, -1, 10001, 2.5, "3", True):
        with pytest.raises(ProjectError, match="Repeats"):
            pj.create_concept(tmp_path, "cat", "other", repeats=bad)  # type: ignore[arg-type]
    _image(folder / "a.png")
    moved = pj.set_concept_repeats(tmp_path, "cat", "sks cat", 4)
    assert moved == paths.dataset / "4_sks cat" and (moved / "a.png").exists() and not folder.exists()
    with pytest.raises(ProjectError, match="no concept named"):
        pj.set_concept_repeats(tmp_path, "cat", "missing", 2)
    assert pj.list_projects(tmp_path)[0].concepts == 2


def test_import_images_copies_images_and_reports_the_rest(tmp_path: Path) -> None:
    pj.create_project(tmp_path, "cat")
    folder = pj.create_concept(tmp_path, "cat", "sks cat", repeats=5)
    src = tmp_path / "incoming"
    (src / "sub").mkdir(parents=True)
    a = _image(src / "a.png")
    (src / "a.txt").write_text("sks cat, sitting", encoding="utf-8")
    _image(src / "sub" / "b.JPG", "blue", fmt="JPEG")
    (src / "notes.md").write_text("hello", encoding="utf-8")
    (src / "broken.png").write_bytes(b"not really a png")
    report = pj.import_images(tmp_path, "cat", "sks cat", [src, tmp_path / "gone.png"])
    assert sorted(p.name for p in report.copied) == ["a.png", "b.JPG"]
    assert (folder / "a.txt").read_text(encoding="utf-8") == "sks cat, sitting"  # caption came along
    reasons = {p.name: why for p, why in report.skipped}
    assert "not an image" in reasons["notes.md"]
    assert "not an image" in reasons["broken.png"]
    assert "does not exist" in reasons["gone.png"]

    # Importing the same file again is skipped; a different file with the same name gets a new name.
    again = pj.import_images(tmp_path, "cat", "sks cat", [a])
    assert again.copied == [] and "already in the concept folder" in again.skipped[0][1]
    other = _image(tmp_path / "a.png", "green")
    third = pj.import_images(tmp_path, "cat", "sks cat", [other])
    assert [p.name for p in third.copied] == ["a-1.png"]
    info = pj.list_concepts(tmp_path, "cat")[0]
    assert (info.images, info.captions) == (3, 1)


def test_paths_never_leave_the_projects_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectError):
        pj.project_paths(tmp_path, "..")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "projects").mkdir()
    (tmp_path / "projects" / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ProjectError, match="outside the projects folder"):
        pj.project_paths(tmp_path, "link")


def test_a_non_image_named_png_is_refused_by_its_own_name_in_plain_words(tmp_path: Path) -> None:
    pj.create_project(tmp_path, "cat")
    pj.create_concept(tmp_path, "cat", "sks cat", repeats=5)
    upload = tmp_path / "tmp" / "gradio" / "3f1c9a" / "holiday photo.png"  # where gradio keeps an upload
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"%PDF-1.7 this is really a document")
    cut_short = upload.with_name("cut.png")
    cut_short.write_bytes(_png_bytes()[:60])
    report = pj.import_images(tmp_path, "cat", "sks cat", [upload, cut_short])
    reasons = {p.name: why for p, why in report.skipped}
    assert report.copied == [] and set(reasons) == {"holiday photo.png", "cut.png"}
    for why in reasons.values():
        assert "/" not in why and "gradio" not in why and "identify" not in why and "Error" not in why
    assert "not an image" in reasons["holiday photo.png"]
    assert "damaged" in reasons["cut.png"]


def _png_bytes() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(out, "PNG")
    return out.getvalue()
