import csv
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mijabench import taxonomy
from mijabench.bench import seeds
from mijabench.errors import MijaError

CASES = Path(__file__).parent / "data" / "group_alias_cases.csv"


@pytest.mark.parametrize("case", list(csv.DictReader(CASES.open(encoding="utf-8"))), ids=lambda c: f"{c['source']}-{c['name']}")
def test_group_alias_table(case):
    expected = case["expected"] or None
    assert seeds.map_group(case["source"], case["name"], "test") == expected


def test_alias_targets_exist_in_taxonomy():
    for source, table in seeds.group_aliases().items():
        for name, target in table.items():
            assert target is None or target in taxonomy.groups(), (source, name)


def test_unknown_source_group_names_the_file_and_valid_ids():
    with pytest.raises(MijaError, match=r"seeds\.csv:row 3.*unknown group 'klingons'.*valid groups:.*"
                       r"--group-map FILE\.yaml"):
        seeds.map_group("toxsyn-pt", "klingons", "seeds.csv:row 3")


def test_every_display_name_maps_back_to_its_group():
    for group in taxonomy.groups().values():
        for name in group.names.values():
            for spelling in (name, name.upper(), name.lower()):
                assert seeds.map_group("upstream", spelling, "test") == group.id, spelling


def test_no_spelling_maps_to_two_groups():
    """Folding (case, accents, plurals) must never merge names of different groups."""
    owner: dict[str, set] = {}
    for group in taxonomy.groups().values():
        for name in (group.id, *group.names.values()):
            owner.setdefault(seeds.name_key(name), set()).add(group.id)
    for table in seeds.group_aliases().values():
        for name, target in table.items():
            if target is not None:
                owner.setdefault(seeds.name_key(name), set()).add(target)
    clashes = {key: ids for key, ids in owner.items() if len(ids) > 1}
    assert not clashes


def test_group_map_file_adds_and_overrides_names(tmp_path):
    path = tmp_path / "groups.yaml"
    path.write_text("Klingons: muslim\nRoma people: null\nJews: pessoas negras\n", encoding="utf-8")
    group_map = seeds.read_group_map(path)
    assert group_map == {"Klingons": "muslim", "Roma people": None, "Jews": "black"}
    assert seeds.map_group("upstream", "KLINGONS", "t", group_map) == "muslim"
    assert seeds.map_group("upstream", "roma_people", "t", group_map) is None
    assert seeds.map_group("upstream", "Jews", "t", group_map) == "black"  # the user's map wins
    assert seeds.map_group("upstream", "Jews", "t") == "jewish"
    (tmp_path / "wrapped.yaml").write_text("groups:\n  Klingons: women\n")
    assert seeds.read_group_map(tmp_path / "wrapped.yaml") == {"Klingons": "women"}


@pytest.mark.parametrize("text, message", [
    ("Klingons: [muslim\n", r"groups\.yaml: not valid YAML \(line \d\)"),
    ("- muslim\n- black\n", r"groups\.yaml: expected a mapping of group name -> taxonomy group id"),
    ("", r"groups\.yaml: expected a mapping"),
    ("Klingons: vulcans\n", r"groups\.yaml: entry 'Klingons': unknown group 'vulcans'; map names onto one of: black"),
    ("Klingons: {a: b}\n", r"groups\.yaml: entry 'Klingons': expected `name: group id`"),
])
def test_bad_group_map_is_one_line(tmp_path, text, message):
    path = tmp_path / "groups.yaml"
    path.write_text(text)
    with pytest.raises(MijaError, match=r"^--group-map .*" + message) as err:
        seeds.read_group_map(path)
    assert "\n" not in str(err.value)


def test_missing_group_map_file(tmp_path):
    with pytest.raises(MijaError, match=r"nope\.yaml: file not found"):
        seeds.read_group_map(tmp_path / "nope.yaml")


def test_group_map_reaches_the_seed_readers(tmp_path):
    (tmp_path / "hate_klingons.txt").write_text("a\nb\n")
    group_map = {"klingons": "women"}
    table = seeds.read_seeds([tmp_path], group_map)
    assert table.column("group").to_pylist() == ["women", "women"]


def test_real_toxigen_import(toxigen_dir):
    table = seeds.read_toxigen(toxigen_dir)
    assert table.schema == seeds.SEED_SCHEMA
    rows = table.to_pylist()
    assert {r["language"] for r in rows} == {"en"} and {r["source"] for r in rows} == {"toxigen"}
    assert {r["group"] for r in rows} <= set(taxonomy.groups_for("en"))
    assert set(taxonomy.groups_for("en")) <= {r["group"] for r in rows if r["stance"] == "hate"}
    # Every non-empty line of every mapped file is imported once; immigrant is deliberately skipped.
    expected = Counter()
    for path in toxigen_dir.glob("*_*.txt"):
        stance, name = path.stem.split("_", 1)
        group = seeds.map_group("toxigen", name, str(path))
        if group:
            expected[(group, stance)] += sum(1 for line in path.read_text().splitlines() if line.strip())
    assert Counter((r["group"], r["stance"]) for r in rows) == expected
    lgbt_files = ["lgbtq", "bisexual", "trans"]
    n_lgbt = sum(sum(1 for l in (toxigen_dir / f"hate_{n}.txt").read_text().splitlines() if l.strip())
                 for n in lgbt_files)
    assert expected[("lgbtqia", "hate")] == n_lgbt


def test_toxigen_malformed_file_gives_file_and_line(tmp_path):
    (tmp_path / "hate_women.txt").write_bytes(b"first line\nsecond \xff\xfe line\n")
    with pytest.raises(MijaError, match=r"hate_women\.txt:2: not valid UTF-8"):
        seeds.read_toxigen(tmp_path)


def test_toxigen_binary_garbage_gives_file_and_line(tmp_path):
    (tmp_path / "neutral_black.txt").write_bytes(b"ok\nok\nbad\x00line\n")
    with pytest.raises(MijaError, match=r"neutral_black\.txt:3: control character"):
        seeds.read_toxigen(tmp_path)


def test_toxigen_unknown_group_file(tmp_path):
    (tmp_path / "hate_klingons.txt").write_text("x\n")
    with pytest.raises(MijaError, match=r"hate_klingons\.txt: unknown group 'klingons'"):
        seeds.read_toxigen(tmp_path)


def test_toxigen_empty_folder(tmp_path):
    with pytest.raises(MijaError, match="no hate_<group>.txt"):
        seeds.read_toxigen(tmp_path)


def _toxsyn_rows():
    return {"text": ["frase um", "frase dois", "frase três"],
            "group": ["Mulheres", "idosos", "imigrantes"], "is_toxic": [1, 0, 1]}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_toxsyn_import(tmp_path, fmt):
    path = tmp_path / f"toxsyn.{fmt}"
    table = pa.table(_toxsyn_rows(), schema=pa.schema([("text", pa.string()), ("group", pa.string()),
                                                      ("is_toxic", pa.int64())]))
    if fmt == "csv":
        import pyarrow.csv as pacsv
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    rows = seeds.read_toxsyn(path).to_pylist()
    assert [(r["group"], r["stance"], r["language"]) for r in rows] == [
        ("women", "hate", "pt"), ("elderly", "neutral", "pt"), ("immigrants", "hate", "pt")]


def test_toxsyn_missing_column(tmp_path):
    path = tmp_path / "seeds.csv"
    path.write_text("text,group\na,mulheres\n")
    with pytest.raises(MijaError, match=r"seeds\.csv: missing column 'is_toxic'"):
        seeds.read_toxsyn(path)


def test_toxsyn_bad_values_name_the_row(tmp_path):
    path = tmp_path / "seeds.csv"
    path.write_text("text,group,is_toxic\na,mulheres,1\nb,mulheres,maybe\n")
    with pytest.raises(MijaError, match=r"seeds\.csv:row 2 column 'is_toxic'"):
        seeds.read_toxsyn(path)
    path.write_text("text,group,is_toxic\na,mulheres,1\nb,vulcanos,1\n")
    with pytest.raises(MijaError, match=r"seeds\.csv:row 2 column 'group': unknown group 'vulcanos'"):
        seeds.read_toxsyn(path)
