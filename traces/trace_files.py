"""Writing an mls-trace directory atomically: the manifest, the arrays and text files beside them.

Used by mls_trace's recorders; docs/reference.md#trace-format defines the files.
"""

import json
import os
import shutil
import tempfile

import numpy as np


def write_trace(out_dir, manifest, arrays, extra_files=None):
    """Atomically write manifest, arrays (file name -> ndarray) and text files.

    Everything goes to a temporary directory beside ``out_dir`` that is
    renamed into place at the end, so a failure leaves no partial trace. An
    existing ``out_dir`` is replaced only if it is empty or an old trace (has
    a manifest.json), never an unrelated directory.
    """
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir):
        is_dir = os.path.isdir(out_dir)
        if not is_dir or (os.listdir(out_dir) and not os.path.exists(
                os.path.join(out_dir, "manifest.json"))):
            raise FileExistsError(f"{out_dir} exists and is not a trace; "
                                  "refusing to replace it")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.tmp-",
                           dir=parent)
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a trace is shared
        for file_name, array in arrays.items():
            np.save(os.path.join(tmp, file_name),
                    np.ascontiguousarray(array, dtype="<f4"))
        for file_name, text in (extra_files or {}).items():
            with open(os.path.join(tmp, file_name), "w") as f:
                f.write(text)
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            f.write(_format_manifest(manifest))
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _format_manifest(manifest):
    """Indented JSON with one layer (and one vector op) per line, so the file stays readable."""
    lists = [k for k in ("layers", "vector_ops") if k in manifest]
    text = json.dumps({k: v for k, v in manifest.items() if k not in lists}, indent=2)
    head = text[:-2] + ",\n" if len(manifest) > len(lists) else "{\n"
    blocks = []
    for key in lists:
        rows = ",\n".join("    " + json.dumps(item) for item in manifest[key])
        blocks.append(f'  "{key}": [\n' + rows + "\n  ]" if rows else f'  "{key}": []')
    return head + ",\n".join(blocks) + "\n}\n"


def _replace_dir(new, target):
    """Move ``new`` to ``target``, swapping out an old ``target`` if present.

    Directories cannot be renamed over non-empty ones, so the old trace is
    first moved aside; it is restored if the final rename fails.
    """
    if not os.path.exists(target):
        os.rename(new, target)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-",
                           dir=os.path.dirname(target))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old)
