"""summae.config: YAML in and out, `--set` overrides, loud failures for unknown keys, wrong types and
inconsistent values, and every shipped config loads."""

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from summae.config import Config, load_config
from summae.errors import SummaeError

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "summae" / "configs" / "tiny.yaml"
SHIPPED = sorted((REPO / "summae" / "configs").glob("*.yaml"))


def write(tmp_path, text, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- YAML round trip


def test_tiny_config_round_trips_through_yaml(tmp_path):
    cfg = load_config(TINY)
    path = tmp_path / "out.yaml"
    text = cfg.to_yaml(path)
    assert path.read_text(encoding="utf-8") == text
    again = Config.from_yaml(path)
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()


def test_default_config_with_overrides_round_trips(tmp_path):
    cfg = Config()
    cfg.name = "x"
    cfg.train.minutes = 2.5
    cfg.train.lr = 3e-4
    cfg.data.real_files = []
    cfg.tokenizer.path = None
    cfg.data.dev_documents = "dev.txt"
    path = tmp_path / "x.yaml"
    cfg.to_yaml(path)
    assert Config.from_yaml(path) == cfg


# values for fields that a generic change would make invalid, or that test YAML-looking text
CHANGED = {"train.mixed_precision": "bf16", "train.pseudo": "lead", "train.on_nonfinite": "rollback",
           "train.on_collapse": "stop", "train.collapse_acc": 0.75, "data.text_field": "no",
           "data.real_field": "3e-4", "data.dev_field": "null", "tokenizer.path": "~",
           "train.select": "reconstruction", "train.select_lm_weight": 0.25, "train.select_d_weight": 0.25,
           "train.pretrain_share": 0.5, "summary.span_bonus": 1.0, "train.lm_weight": 0.25,
           "train.rl_weight": 0.5, "train.rl_teacher_weight": 0.5, "train.phase_lr": 0.5,
           "train.phase_lr_step": 7, "summary.default_share": 0.5,
           "train.pseudo_judge": "discriminator", "train.ema_decay": 0.5}


def _changed(obj, prefix=""):
    """A copy of a config dataclass with every field changed from its value (and still valid together)."""
    hints = typing.get_type_hints(type(obj))
    values = {}
    for f in dataclasses.fields(obj):
        key, value, hint = f"{prefix}{f.name}", getattr(obj, f.name), hints[f.name]
        args = typing.get_args(hint)
        if dataclasses.is_dataclass(value):
            values[f.name] = _changed(value, f"{key}.")
        elif key in CHANGED:
            values[f.name] = CHANGED[key]
        elif isinstance(value, bool):
            values[f.name] = not value
        elif isinstance(value, int):
            values[f.name] = 2 * value or 1  # doubled: d_model stays divisible by heads, min <= default <= max
        elif isinstance(value, float):
            values[f.name] = value / 2
        elif isinstance(value, str):
            values[f.name] = f"{value}-changed"
        elif isinstance(value, list):
            values[f.name] = [*value, "changed.txt"]
        elif value is None:
            values[f.name] = 1.5 if float in args else "changed"
        else:
            raise AssertionError(f"no change for {key} ({hint})")
    return type(obj)(**values)


def _leaves(raw: dict, prefix="") -> dict:
    out = {}
    for key, value in raw.items():
        out.update(_leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def test_to_yaml_round_trips_every_field_and_writes_them_all(tmp_path):
    default = Config()
    cfg = _changed(default)
    before, after = _leaves(default.to_dict()), _leaves(cfg.to_dict())
    assert [k for k in before if before[k] == after[k]] == []  # the test's own premise: every field changed
    cfg.validated()
    text = cfg.to_yaml(tmp_path / "changed.yaml")
    assert set(_leaves(yaml.safe_load(text))) == set(before)  # every field written, nothing else
    again = Config.from_yaml(tmp_path / "changed.yaml")
    assert _leaves(again.to_dict()) == after
    assert again == cfg


def test_name_defaults_to_the_file_stem(tmp_path):
    assert Config.from_yaml(write(tmp_path, "train: {steps: 3}\n", "my_run.yaml")).name == "my_run"


def test_empty_file_gives_the_defaults(tmp_path):
    cfg = Config.from_yaml(write(tmp_path, "", "empty.yaml"))
    assert cfg.train == Config().train and cfg.model == Config().model


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.name
    # auto.yaml is what `summae train` runs without --config: the command line names the files
    assert cfg.data.train_files or path.name == "auto.yaml", f"{path.name} names no training files"


def test_a_shipped_config_loads_by_name_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here: the packaged file is found by name
    assert load_config("tiny") == load_config(TINY) == load_config("tiny.yaml")
    (tmp_path / "tiny.yaml").write_text("name: mine\nmodel:\n  d_model: 32\n  heads: 2\n")
    assert load_config("tiny.yaml").model.d_model == 32  # a file in the working directory comes first
    with pytest.raises(SummaeError, match="config file not found: nope.yaml"):
        load_config("nope.yaml")


def test_no_config_means_the_defaults_plus_set():
    cfg = load_config(None, ["data.train_files=[docs.txt]", "data.real_files=[real.txt]", "train.lr=3e-4"])
    assert cfg.train.lr == 3e-4 and cfg.model == Config().model
    assert cfg.data.train_files == ["docs.txt"] and cfg.train.pseudo == Config().train.pseudo


def test_the_defaults_need_real_texts_and_say_how_to_do_without():
    # the recipe's pseudo-summaries are extracted under a language model of the real short texts
    with pytest.raises(SummaeError, match="needs data.real_files.*train.pseudo=lead"):
        load_config(None, ["data.train_files=[docs.txt]"])
    assert load_config(None, ["data.train_files=[docs.txt]", "train.pseudo=lead"]).train.pseudo == "lead"


def test_the_defaults_are_the_gigaword_recipe():
    # gigaword.yaml names the data the recipe was measured on; everything else it trains with is a default
    recipe, default = load_config("gigaword"), Config()
    assert (recipe.tokenizer, recipe.model, recipe.summary, recipe.train) == \
        (default.tokenizer, default.model, default.summary, default.train)


def test_the_cpu_recipe_is_the_gigaword_recipe_shrunk():
    # gigaword-cpu.yaml changes the size and the step budget; of what the recipe learns with, only the copy head,
    # the discriminator (off) and the phase's learning rate (measured on CPU over three seeds, docs/autoencoder.md)
    cpu, gpu = load_config("gigaword-cpu").to_dict(), load_config("gigaword").to_dict()
    changed = {(section, key) for section in cpu if isinstance(cpu[section], dict)
               for key in cpu[section] if cpu[section][key] != gpu[section][key]}
    assert changed == {("data", "dev_size"), ("tokenizer", "train_sentences"), ("model", "d_model"),
                       ("model", "encoder_layers"), ("model", "decoder_layers"), ("model", "ffn_dim"),
                       ("model", "rec_copy"), ("train", "batch_size"), ("train", "mixed_precision"),
                       ("train", "steps"), ("train", "minutes"), ("train", "pretrain_steps"),
                       ("train", "warmup_steps"), ("train", "log_every"), ("train", "sample_every"),
                       ("train", "adv_weight"), ("train", "phase_lr")}
    assert cpu["train"]["adv_weight"] == 0
    assert cpu["train"]["pretrain_steps"] < cpu["train"]["steps"]  # an auto-encoding phase follows


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_a_shipped_config_holds_only_what_differs_from_the_defaults_each_key_commented(path):
    text = path.read_text(encoding="utf-8")
    default = _leaves(Config().to_dict())
    loaded = _leaves(load_config(path).to_dict())
    written = _leaves(yaml.safe_load(text))
    assert "name" not in written  # the name is the file's stem
    assert [k for k in written if loaded[k] == default[k]] == []  # no key repeats its default
    keys = [line for line in text.splitlines() if line.startswith("  ") and not line.lstrip().startswith("#")]
    assert len(keys) == len(written) and all(" # " in line for line in keys), "every key carries a comment"


# ---------------------------------------------------------------- --set overrides


def test_set_parses_float_in_exponent_notation():
    cfg = load_config(TINY, ["train.lr=3e-4", "train.d_lr=1E-5"])
    assert cfg.train.lr == 3e-4 and isinstance(cfg.train.lr, float)
    assert cfg.train.d_lr == 1e-5


def test_set_turns_an_int_into_a_float_for_float_fields():
    cfg = load_config(TINY, ["train.lr=1", "train.minutes=2"])
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.train.minutes == 2.0 and isinstance(cfg.train.minutes, float)


def test_set_parses_bools_ints_lists_and_null():
    cfg = load_config(TINY, ["data.streaming=true", "train.steps=11", "data.real_files=[]",
                             "data.train_files=[a.jsonl, b.jsonl]", "train.minutes=null", "tokenizer.path=null"])
    assert cfg.data.streaming is True
    assert cfg.train.steps == 11
    assert cfg.data.real_files == []
    assert cfg.data.train_files == ["a.jsonl", "b.jsonl"]
    assert cfg.train.minutes is None and cfg.tokenizer.path is None


def test_set_a_scalar_into_a_list_field_gives_a_one_item_list():
    assert load_config(TINY, ["data.real_files=real.txt"]).data.real_files == ["real.txt"]


def test_set_strings_and_later_overrides_win():
    cfg = load_config(TINY, ["name=other", "data.text_field=body", "train.steps=5", "train.steps=7"])
    assert (cfg.name, cfg.data.text_field, cfg.train.steps) == ("other", "body", 7)


def test_set_does_not_touch_other_keys():
    base, changed = load_config(TINY), load_config(TINY, ["train.lr=0.25"])
    changed.train.lr = base.train.lr
    assert changed == base


def test_unquoted_yes_and_no_stay_text_in_string_fields():
    cfg = load_config(TINY, ["data.text_field=no", "data.real_field=yes"])
    assert (cfg.data.text_field, cfg.data.real_field) == ("no", "yes")


@pytest.mark.parametrize("word", ["on", "off", "true", "False"])
def test_other_yaml_bool_words_stay_as_written_in_string_fields(word):
    assert load_config(TINY, [f"data.text_field={word}"]).data.text_field == word


def test_set_without_equals_sign_fails():
    with pytest.raises(SummaeError, match="section.key=value"):
        load_config(TINY, ["train.lr"])


def test_set_into_a_section_left_empty_in_the_file(tmp_path):
    path = write(tmp_path, "train:\n  # steps: 10\nmodel: {d_model: 32, heads: 2}\n")
    assert Config.from_yaml(path).train == Config().train  # the file alone loads
    assert Config.from_yaml(path, ["train.steps=5"]).train.steps == 5


def test_exponent_float_in_the_yaml_file_loads_like_set(tmp_path):
    path = write(tmp_path, "train:\n  lr: 3e-4\n")
    assert Config.from_yaml(path).train.lr == pytest.approx(3e-4)


# ---------------------------------------------------------------- unknown keys and wrong types


@pytest.mark.parametrize("override, key", [("train.lrr=1", "train.lrr"), ("model.dmodel=8", "model.dmodel"),
                                           ("trian.lr=1", "trian")])
def test_unknown_key_from_set_is_rejected_by_name(override, key):
    with pytest.raises(SummaeError) as err:
        load_config(TINY, [override])
    assert f"'{key}'" in str(err.value) and "unknown key" in str(err.value)


def test_an_unknown_key_with_a_newline_is_named_on_one_line():
    # found by tests/test_fuzz.py: --set "0\n0=None" printed the key's newline into the one-line error
    with pytest.raises(SummaeError) as err:
        load_config(TINY, ["0\n0=None"])
    assert "unknown key '0\\n0'" in str(err.value) and "\n" not in str(err.value)


def test_unknown_key_in_the_file_is_rejected_by_name(tmp_path):
    path = write(tmp_path, "model:\n  d_model: 32\n  hidden_size: 64\n")
    with pytest.raises(SummaeError, match=r"unknown key 'model\.hidden_size'") as err:
        Config.from_yaml(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("override, key", [
    ("train.steps=many", "train.steps"), ("train.steps=1.5", "train.steps"), ("train.steps=true", "train.steps"),
    ("data.streaming=1", "data.streaming"), ("train.lr=fast", "train.lr"), ("data.train_files=[1, 2]",
                                                                            "data.train_files[0]"),
    ("name=[a]", "name"), ("model.dropout=[0.1]", "model.dropout"),
])
def test_wrong_type_is_rejected_by_name(override, key):
    with pytest.raises(SummaeError) as err:
        load_config(TINY, [override])
    assert key in str(err.value) and "must be" in str(err.value)


def test_a_section_given_a_scalar_is_rejected(tmp_path):
    with pytest.raises(SummaeError, match="train must be a mapping"):
        Config.from_yaml(write(tmp_path, "train: 3\n"))


def test_set_into_a_scalar_is_rejected():
    with pytest.raises(SummaeError, match="name is not a section"):
        load_config(TINY, ["name.x=1"])


def test_missing_file_and_bad_yaml_are_one_line_errors(tmp_path):
    with pytest.raises(SummaeError, match="config file not found"):
        Config.from_yaml(tmp_path / "nope.yaml")
    with pytest.raises(SummaeError, match="not valid YAML") as err:
        Config.from_yaml(write(tmp_path, "train: [unclosed\n"))
    assert "\n" not in str(err.value)
    with pytest.raises(SummaeError, match="mapping of sections"):
        Config.from_yaml(write(tmp_path, "- a\n- b\n"))


# ---------------------------------------------------------------- checks across fields


@pytest.mark.parametrize("overrides, words", [
    (["model.d_model=30", "model.heads=4"], "divisible"),
    (["summary.default_words=7", "summary.max_words=6"], "default_words"),
    (["summary.min_words=8", "summary.max_words=6", "summary.default_words=6"], "max_words"),
    (["summary.ratio_min=0.6", "summary.ratio_max=0.4"], "ratio_min <= ratio_max"),
    (["summary.ratio_max=1.5"], "ratio"),
    (["model.dropout=1.0"], "model.dropout"),
    (["train.mixed_precision=fp8"], "mixed_precision"),
    (["train.d_steps=0"], "train.d_steps"),
    (["train.steps=0"], "train.steps"),
    (["train.lr=0"], "learning rates"),
    (["train.tau=0"], "train.tau"),
    (["model.max_summary_tokens=2"], "max_summary_tokens"),
    (["tokenizer.vocab_size=50"], "vocab_size"),
    (["train.rec_word_dropout=1"], "rec_word_dropout"),
    (["train.minutes=0"], "train.minutes"),
    (["train.rl_weight=-1"], "train.rl_weight"),
    (["train.lm_weight=-1"], "train.lm_weight"),
])
def test_inconsistent_values_are_rejected(overrides, words):
    with pytest.raises(SummaeError, match=words):
        load_config(TINY, overrides)


def test_mixed_precision_auto_is_a_valid_setting():
    assert load_config(TINY, ["train.mixed_precision=auto"]).train.mixed_precision == "auto"
    with pytest.raises(SummaeError, match="no, bf16, fp16 or auto"):
        load_config(TINY, ["train.mixed_precision=fp8"])


def test_valid_edges_pass_validation():
    cfg = load_config(TINY, ["summary.default_words=6", "summary.max_words=6", "summary.ratio_min=1",
                             "summary.ratio_max=1", "train.pretrain_steps=0", "model.dropout=0"])
    assert cfg.summary.default_words == cfg.summary.max_words == 6


def test_resolve_path_is_relative_to_data_dir_except_bundled_and_absolute():
    cfg = load_config(TINY, ["data.data_dir=/data"])
    assert cfg.resolve_path("a/b.jsonl") == str(Path("/data/a/b.jsonl"))
    assert cfg.resolve_path("bundled:debian/train.jsonl") == "bundled:debian/train.jsonl"
    assert cfg.resolve_path("/abs/x.txt") == "/abs/x.txt"


def test_a_retired_key_loads_quietly_at_zero_and_with_a_warning_otherwise(tmp_path, caplog):
    # saved runs and the shipped ready model carry train.num_workers: 0, from before it was retired
    path = tmp_path / "old.yaml"
    path.write_text("train:\n  num_workers: 0\n  steps: 7\n")
    with caplog.at_level("WARNING", logger="summae.config"):
        cfg = load_config(path)
    assert cfg.train.steps == 7 and not hasattr(cfg.train, "num_workers")
    assert caplog.records == []
    with caplog.at_level("WARNING", logger="summae.config"):
        load_config(path, ["train.num_workers=4"])
    assert len(caplog.records) == 1
    assert "train.num_workers is ignored" in caplog.records[0].getMessage()
    assert "num_workers" not in Config().to_yaml()  # never written again
