"""The one writer of the fuzz seed corpora (docs/fuzzing.md), shared by
make_corpus.py, make_corpus_inputs.py and make_store_corpus.py: each target's
folder testbenches/fuzz/corpus/<target>/ is replaced by its seeds."""
import pathlib
import shutil

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"


def write_corpora(corpora):
    """corpora: {target: {file name: bytes}}; prints each folder and its seed count."""
    for target, seeds in corpora.items():
        out = CORPUS / target
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for name, data in seeds.items():
            (out / name).write_bytes(data)
        print(f"{out.relative_to(ROOT)}: {len(seeds)} seeds")
