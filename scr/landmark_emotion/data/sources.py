"""Where labelled face images come from: class sub-folders, a YOLO-format set, a CSV, or AffectNet on Kaggle.

Each source yields :class:`LabeledImage` items with canonical labels, so the
extractor never sees a dataset's own spelling of a class.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from landmark_emotion.errors import LandmarkEmotionError
from landmark_emotion.frames import IMAGE_SUFFIXES, list_images
from landmark_emotion.inputs import read_small
from landmark_emotion.labels import ALIASES, CANONICAL_LABELS, UnknownLabelError, canonical_label

AFFECTNET_HANDLE = "mstjebashazida/affectnet"
SPLIT_NAMES = frozenset({"train", "test", "val", "valid", "validation"})


class DatasetError(LandmarkEmotionError, ValueError):
    """A data source that cannot be read as a labelled image set."""


@dataclass(frozen=True)
class LabeledImage:
    path: str
    label: str
    group: str = ""
    split: str = ""
    """The dataset's own split (``train``, ``valid``, ``test``), or "" when it has none."""


def canonical_split(name: str) -> str:
    """``val``/``validation`` -> ``valid``: one spelling of each split downstream."""
    key = name.lower()
    return "valid" if key in ("val", "validation") else key


GroupRule = Callable[[Path], str]


def group_from_filename(path: Path) -> str:
    """The person in LFW-style names: ``George_W_Bush_0003.jpg`` -> ``George_W_Bush``."""
    return re.sub(r"[_\-\s]*\d+[a-z]?$", "", path.stem) or path.stem


def group_from_folder(path: Path) -> str:
    """The folder an image sits in, for datasets stored one folder per person."""
    return path.parent.name


def group_from_pattern(pattern: str) -> GroupRule:
    """A rule that names the person by the first capture group of ``pattern`` searched in the file name.

    ``'^(S\\d+)_'`` turns CK+'s ``S005_001_00000011.png`` into ``S005``; a name that does not
    match gets no group ("").
    """
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise DatasetError(f"--group-pattern {pattern!r} is not a regular expression ({exc})") from None
    if regex.groups < 1:
        raise DatasetError(
            f"--group-pattern {pattern!r} has no capture group; put the person's part in parentheses, e.g. '^(S\\d+)_'"
        )

    def rule(path: Path) -> str:
        match = regex.search(path.name)
        return (match.group(1) or "") if match else ""

    return rule


GROUP_RULES: dict[str, GroupRule | None] = {
    "none": None,
    "filename": group_from_filename,
    "folder": group_from_folder,
}


def _is_label_name(name: str) -> bool:
    key = name.strip().lower()
    return key in CANONICAL_LABELS or key in ALIASES


def _class_roots(root: Path) -> list[Path]:
    """Folders whose sub-folders are classes: ``root`` itself, or its train/test/val splits.

    Wrapper folders with a single sub-folder and no images (as archives often
    unpack) are stepped through.
    """

    def subdirs_of(folder: Path) -> list[Path]:
        return [d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")]

    def has_images(folder: Path) -> bool:
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir() if p.is_file())

    subdirs = subdirs_of(root)
    while (
        len(subdirs) == 1
        and not has_images(root)
        and not has_images(subdirs[0])
        and not _is_label_name(subdirs[0].name)
    ):
        root = subdirs[0]
        subdirs = subdirs_of(root)
    splits = [d for d in subdirs if d.name.lower() in SPLIT_NAMES]
    return sorted(splits) if splits else [root]


def from_class_folders(root: str | Path, group_rule: GroupRule | None = None) -> list[LabeledImage]:
    """Images below ``root/<class>/`` (recursively), labelled by their class folder."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data folder {root} does not exist or is not a folder")
    items: list[LabeledImage] = []
    unknown: list[str] = []
    for class_root in _class_roots(root):
        split = canonical_split(class_root.name) if class_root.name.lower() in SPLIT_NAMES else ""
        for class_dir in sorted(d for d in class_root.iterdir() if d.is_dir() and not d.name.startswith(".")):
            try:
                label = canonical_label(class_dir.name)
            except UnknownLabelError:
                unknown.append(str(class_dir.relative_to(root)))
                continue
            items.extend(
                LabeledImage(str(p), label, group_rule(p) if group_rule else "", split) for p in list_images(class_dir)
            )
    if unknown:
        raise DatasetError(
            f"unknown class folder(s) {', '.join(unknown)} in {root}; class folders must be named "
            f"{', '.join(CANONICAL_LABELS)} (or an alias such as {', '.join(sorted(ALIASES))})"
        )
    if not items:
        raise DatasetError(f"no labelled images in {root}: expected class sub-folders (e.g. happy/, sad/) of images")
    return items


def _yaml_file(root: Path) -> Path | None:
    for name in ("data.yaml", "data.yml"):
        if (root / name).is_file():
            return root / name
    return None


def is_yolo_dataset(root: str | Path) -> bool:
    """A YOLO-format set: ``data.yaml`` beside split folders holding ``images/`` and ``labels/``."""
    root = Path(root)
    return _yaml_file(root) is not None and any(
        (d / "images").is_dir() and (d / "labels").is_dir() for d in root.iterdir() if d.is_dir()
    )


def yolo_class_names(root: Path) -> dict[int, str]:
    """Class id -> canonical label, from ``data.yaml``'s ``names`` (a list, or a mapping of ids)."""
    import yaml

    path = _yaml_file(root)
    if path is None:
        raise DatasetError(f"{root} has no data.yaml; it is not a YOLO-format set")
    try:
        names = (yaml.safe_load(read_small(path).decode("utf-8")) or {}).get("names")
    except (OSError, ValueError, RecursionError, yaml.YAMLError, AttributeError) as exc:
        raise DatasetError(f"{path} is not a readable YOLO data.yaml ({exc})") from None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise DatasetError(f"{path} has no class 'names' list")
    try:
        return {int(i): canonical_label(str(name)) for i, name in names.items()}
    except UnknownLabelError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: class ids in 'names' must be whole numbers") from None


def _yolo_label(label_file: Path, classes: dict[int, str]) -> tuple[str | None, str]:
    """The class of one image from its label file's first number, or (None, why it cannot be read)."""
    try:
        first = label_file.read_text(encoding="utf-8").split(maxsplit=1)
    except FileNotFoundError:
        return None, "missing label file"
    except (OSError, UnicodeDecodeError):
        return None, "unreadable label file"
    if not first:
        return None, "empty label file"
    try:
        class_id = float(first[0])
    except ValueError:
        return None, f"label file starts with {first[0][:20]!r}, not a class id"
    if class_id != int(class_id) or int(class_id) not in classes:
        return None, f"unknown class id {first[0][:20]} (data.yaml names {len(classes)} classes)"
    return classes[int(class_id)], ""


def from_yolo(
    root: str | Path, group_rule: GroupRule | None = None, skipped: list[tuple[str, str]] | None = None
) -> list[LabeledImage]:
    """Images of a YOLO-format set, each labelled by the first number of its label file, with its split.

    Images whose label file is missing, empty or names an unknown class are left out
    and appended to ``skipped`` as (path, reason), like images without a face.
    """
    root = Path(root)
    classes = yolo_class_names(root)
    items: list[LabeledImage] = []
    for split_dir in sorted(d for d in root.iterdir() if (d / "images").is_dir() and (d / "labels").is_dir()):
        split = canonical_split(split_dir.name)
        for image in list_images(split_dir / "images"):
            relative = image.relative_to(split_dir / "images").with_suffix(".txt")
            label, reason = _yolo_label(split_dir / "labels" / relative, classes)
            if label is None:
                if skipped is not None:
                    skipped.append((str(image), reason))
                continue
            items.append(LabeledImage(str(image), label, group_rule(image) if group_rule else "", split))
    if not items:
        raise DatasetError(f"no labelled images in the YOLO-format set {root}")
    return items


def from_data_dir(
    root: str | Path, group_rule: GroupRule | None = None
) -> tuple[list[LabeledImage], list[tuple[str, str]]]:
    """A local data folder, YOLO-format or class sub-folders (recognised by itself), and the images left out."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data folder {root} does not exist or is not a folder")
    skipped: list[tuple[str, str]] = []
    if is_yolo_dataset(root):
        return from_yolo(root, group_rule, skipped), skipped
    return from_class_folders(root, group_rule), skipped


def _pick_column(header: Sequence[str], wanted: str | None, hints: Iterable[str], what: str) -> str:
    if wanted:
        if wanted not in header:
            raise DatasetError(f"CSV has no column {wanted!r} (columns: {', '.join(header)})")
        return wanted
    for name in header:
        if any(h in name.lower() for h in hints):
            return name
    raise DatasetError(f"cannot tell which CSV column holds the {what} (columns: {', '.join(header)}); name it")


def from_csv(
    csv_path: str | Path,
    image_root: str | Path | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    group_column: str | None = None,
    group_rule: GroupRule | None = None,
) -> tuple[list[LabeledImage], list[tuple[str, str]]]:
    """Image/label pairs from a CSV; images are relative to ``image_root`` (default: the CSV's folder).

    Returns the items and the skipped rows as (path, reason): missing images, and
    images listed twice with different labels.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"no CSV file at {csv_path}")
    root = Path(image_root) if image_root else csv_path.parent
    with open(csv_path, "rb") as f:  # Excel saves "Unicode text" as UTF-16, with a byte order mark
        encoding = "utf-16" if f.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
    try:
        with open(csv_path, newline="", encoding=encoding) as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            image_col = _pick_column(header, image_column, ("image", "path", "file"), "image paths")
            label_col = _pick_column(header, label_column, ("label", "emotion", "class", "expression"), "labels")
            if group_column:
                _pick_column(header, group_column, (), "groups")
            rows = [
                (r[image_col].strip(), r[label_col].strip(), (r[group_column] if group_column else "").strip())
                for r in reader
                if r.get(image_col)
            ]
    except UnicodeDecodeError:
        raise DatasetError(f"{csv_path} is not UTF-8 or UTF-16 text; save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise DatasetError(f"{csv_path} is not a readable CSV file ({exc})") from None
    if not rows:
        raise DatasetError(f"{csv_path} lists no images")
    labels_of: dict[str, set[str]] = {}
    unknown: set[str] = set()
    for image, label, _ in rows:
        try:
            labels_of.setdefault(image, set()).add(canonical_label(label))
        except UnknownLabelError:
            unknown.add(label)
    if unknown:
        raise DatasetError(
            f"unknown label(s) {', '.join(sorted(repr(u) for u in unknown))} in {csv_path}; "
            f"expected one of {', '.join(CANONICAL_LABELS)}"
        )
    items, skipped, seen = [], [], set()
    for image, _, group in rows:
        if image in seen:
            continue
        seen.add(image)
        path = root / image
        if len(labels_of[image]) > 1:
            skipped.append((str(path), "listed with conflicting labels " + "/".join(sorted(labels_of[image]))))
        elif not path.is_file():
            skipped.append((str(path), "missing file"))
        else:
            items.append(
                LabeledImage(str(path), next(iter(labels_of[image])), group or (group_rule(path) if group_rule else ""))
            )
    return items, skipped


def download_affectnet(handle: str = AFFECTNET_HANDLE) -> Path:
    """AffectNet's local copy through kagglehub (downloaded once, then cached by kagglehub)."""
    try:
        import kagglehub

        return Path(kagglehub.dataset_download(handle))
    except Exception as exc:  # kagglehub raises many types for network/auth failures
        raise DatasetError(
            f"could not get {handle} from Kaggle ({type(exc).__name__}: {exc}); "
            "check your network and Kaggle credentials, or pass --data-dir with a local copy"
        ) from None
