"""Configuration: documented defaults, strict validation with file:line, per-device override."""

from pathlib import Path

import pytest

from conftest import ROOT, run_kiosk
from kiosk.config import ConfigError, defaults, load_config, render_defaults


def test_repository_config_documents_every_default():
    # config.toml is what technicians read; it must list every setting with its real default.
    assert (ROOT / "config.toml").read_text(encoding="utf-8") == render_defaults()
    cfg = load_config(ROOT / "config.toml", override=Path("/dev/null"))
    assert cfg.values == defaults()


def test_unknown_key_names_file_line_and_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[device]\nid = "k1"\n\n[recognition]\nthreshhold = 0.5\n')
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert f"{p}:5" in str(e.value) and "threshhold" in str(e.value) and "[recognition]" in str(e.value)


@pytest.mark.parametrize("text, message", [
    ('[camera]\nfps = "fast"\n', r"{p}:2: \[camera\] fps must be an integer"),
    ('[recognition]\n# the strictest\nthreshold = 1.5\n', r"{p}:3: \[recognition\] threshold = 1.5 is out of range"),
    ('[device]\ntimezone = "Asia/Singapore"\n', "Asia/Jakarta"),
    # a technician who writes `fps = 15` at the top of the file is told where it goes, not that
    # "fps" is an unknown section
    ('# kiosk lobby\nfps = 15\n\n[device]\nid = "k1"\n',
     r"{p}:2: 'fps' is outside every \[section\]: it belongs in \[camera\]"),
    ('db_path = "/tmp/k.db"\n', r"'db_path' is outside every \[section\]: no section has such a key"),
])
def test_a_bad_setting_is_named_with_its_file_line_and_section(tmp_path, text, message):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("{p}", str(p))):
        load_config(p)


def test_override_replaces_only_its_keys_and_errors_name_it(tmp_path):
    main = tmp_path / "config.toml"
    main.write_text('[device]\nid = "kiosk-main"\nunit = "Dinas A"\n')
    over = tmp_path / "kiosk.toml"
    over.write_text('[device]\nid = "kiosk-sragen-07"\n')
    cfg = load_config(main, override=over)
    assert cfg.device.id == "kiosk-sragen-07" and cfg.device.unit == "Dinas A"
    over.write_text('[device]\nid = "has space"\n')
    with pytest.raises(ConfigError, match=rf"{over}:2: \[device\] id"):
        load_config(main, override=over)


def test_a_retired_key_is_ignored_with_a_warning_naming_its_line_and_replacement(tmp_path, caplog):
    # a kiosk whose file was written for an earlier version must still start
    p = tmp_path / "c.toml"
    p.write_text('[recognition]\nthreshold = 0.45\nmax_clipped = 0.6\n')
    with caplog.at_level("WARNING"):
        cfg = load_config(p, override=Path("/dev/null"))
    assert cfg.recognition.threshold == 0.45 and not hasattr(cfg.recognition, "max_clipped")
    assert f"{p}:3: [recognition] max_clipped is no longer used (replaced by max_shadows and max_highlights" \
        in caplog.text


def test_a_file_saved_with_a_byte_order_mark_and_dotted_keys_is_read(tmp_path):
    # Windows Notepad writes a BOM; a dotted key's mistake is still placed on its line
    p = tmp_path / "c.toml"
    p.write_text('\ufeffdevice.id = "kiosk-07"\n', encoding="utf-8")
    assert load_config(p, override=Path("/dev/null")).device.id == "kiosk-07"
    p.write_text('\ufeff# a comment\ndevice.id = "has space"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{p}:2: \[device\] id"):
        load_config(p, override=Path("/dev/null"))


def test_cross_checks_and_bad_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[recognition]\nvotes_needed = 6\nvote_window = 4\n")
    with pytest.raises(ConfigError, match="votes_needed"):
        load_config(p)
    p.write_text("[device\nid = 1\n")
    with pytest.raises(ConfigError, match=rf"{p}: not valid TOML"):
        load_config(p)
    p.write_text('[server]\nurl = "http://example.org"\n')
    with pytest.raises(ConfigError, match="https"):
        load_config(p)


def test_relative_data_dir_is_relative_to_the_config_file(tmp_path, monkeypatch):
    p = tmp_path / "etc" / "config.toml"
    p.parent.mkdir()
    p.write_text('[store]\ndata_dir = "../var"\n')
    monkeypatch.chdir("/")
    assert load_config(p).db_path == tmp_path / "etc" / ".." / "var" / "kiosk.db"


def test_cli_stops_with_the_message_and_exit_2(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[camera]\nwidth = 99999\n")
    r = run_kiosk("--config", str(p), "config", cwd=tmp_path)
    assert r.returncode == 2
    assert f"{p}:2: [camera] width = 99999 is out of range" in r.stderr


def test_liveness_and_upload_defaults_match_their_modules():
    # the schema documents the defaults; the modules' dataclasses must not drift from them
    import dataclasses

    from kiosk.liveness import LivenessConfig
    from kiosk.upload import Settings

    d = defaults()
    for f in dataclasses.fields(LivenessConfig):
        value = d["liveness"][f.name]
        assert (tuple(value) if isinstance(value, list) else value) == f.default, f.name
    for f in dataclasses.fields(Settings):
        if f.name in d["server"]:
            assert d["server"][f.name] == f.default or f.name in ("url", "token_file", "ca_file"), f.name


def test_the_cli_reads_the_technicians_boot_file_as_the_service_does(tmp_path):
    """`kiosk` over SSH on an imaged kiosk: the boot partition's kiosk.toml has the image's
    [wifi], [server] token and [admin] pin; the CLI reads it like kiosk-firstboot does."""
    boot = tmp_path / "kiosk.toml"
    example = ROOT / "image/stage-kiosk/00-kiosk/files/etc/kiosk.toml.example"
    boot.write_text(example.read_text(encoding="utf-8") + '\n[admin]\npin = "246810"\n'
                    if "[admin]" not in example.read_text() else
                    example.read_text(encoding="utf-8").replace("[admin]\n", '[admin]\npin = "246810"\n'),
                    encoding="utf-8")
    r = run_kiosk("config", cwd=tmp_path, env={"KIOSK_OVERRIDE": str(boot)})
    assert r.returncode == 0, r.stderr
    assert "unknown section [wifi]" not in r.stderr
    cfg = load_config(None, boot)
    assert cfg.device.id == "kiosk-sragen-01" and cfg.server.url == "https://absensi.example.go.id"
    # a real mistake in it is still named with its line in the technician's file
    text = boot.read_text().replace('timezone = "Asia/Jakarta"', 'timezone = "Asia/Tokyo"')
    boot.write_text(text)
    line = text.splitlines().index(next(x for x in text.splitlines() if "Asia/Tokyo" in x)) + 1
    r = run_kiosk("config", cwd=tmp_path, env={"KIOSK_OVERRIDE": str(boot)})
    assert r.returncode == 2 and f"{boot}:{line}: [device] timezone" in r.stderr


def test_liveness_timing_leaves_room_for_the_second_try(tmp_path):
    d = defaults()["liveness"]
    assert d["passive_s"] + d["challenge_tries"] * d["challenge_s"] <= d["max_seconds"]
    p = tmp_path / "c.toml"
    p.write_text("[liveness]\nchallenge_s = 5.0\n")  # 3 + 2 x 5 = 13 > 12: the old arithmetic
    with pytest.raises(ConfigError, match=r"max_seconds \(12\) leaves no room for every try.*13 s"):
        load_config(p)
    p.write_text("[liveness]\nchallenge_s = 5.0\nmax_seconds = 13.0\n")
    assert load_config(p).liveness.challenge_s == 5.0


def test_every_server_setting_reaches_the_uploader(tmp_path):
    import random

    from kiosk.upload import Settings, Uploader

    p = tmp_path / "c.toml"
    p.write_text('[server]\nbackoff_base_s = 1.0\nbackoff_max_s = 2.0\nretry_after_max_s = 60.0\nroster_s = 42.0\n')
    cfg = load_config(p)
    s = Settings.from_config(cfg)
    assert {k: getattr(s, k) for k in cfg.values["server"] if k not in ("token_file", "ca_file")} == \
        {k: v for k, v in cfg.values["server"].items() if k not in ("token_file", "ca_file")}
    up = Uploader(cfg, tmp_path / "k.db", rng=random.Random(1))
    up.failures = 1
    assert up.next_delay(retry_after=86400.0) == 60.0  # a day asked, the configured hour... here 60 s
    assert 0.5 <= up.next_delay(retry_after=None) <= 1.0
