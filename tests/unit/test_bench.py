"""The benchmark's whole-authority ingest against DuckDB's own read of the same files (small scale: the
figures themselves come from `wholechild bench`)."""


def test_the_authority_stage_sets_ingest_beside_its_floor_for_the_same_files(tmp_path, monkeypatch):
    from orchestration.bench import stage_authority
    from orchestration.identity.pseudonyms import DEMO_ENV

    monkeypatch.setenv(DEMO_ENV, "1")
    out = stage_authority(0.01, tmp_path)
    figures = dict(out["figures"])
    files = int(figures["CSV files"].split()[0])
    assert files > 200  # every table of every partner, at any scale
    assert figures["deliveries"].startswith(f"{files + 2} ")  # and the CIN XML and Annex A workbook
    floor = float(figures["DuckDB read_csv floor"].split()[0])
    assert floor > 0 and f"{out['value']:.2f}x the floor" in figures["wholechild ingest, CSVs"]
    assert (
        abs(out["value"] - out["seconds"] / floor) < 0.05 * out["value"] + 0.1
    )  # the floor as printed, rounded
    assert out["target"][1] == 2.0 and out["unit"] == "x"
