"""Corrected copies of SSDA903 validator rules that flag correct returns (csc-validator-be-903 0.1.17).

Each is written here from the rule's own message, with the smallest change from what the published rule
does; run_903.py runs it, inside the validators' environment, on the same data store as the original.
A finding of a rule that has a corrected copy counts as a validator defect only when the corrected copy
clears the same record (validation.py); one it also flags is an error like any other. When a fixed
release of the validator reaches PyPI, the pin moves and the copy goes (docs/validator-defects.md).

A copy takes the validator's data store (``dfs``: tables by name, and ``metadata``) and returns, like the
validator's rules, ``{table: [row index, ...]}``, or ``{}`` when a table it needs is absent; or None when it
cannot judge the return (241 without Ofsted's provider lists): then no finding of the original is cleared.
"""

from __future__ import annotations

# 2024/25's placement types (the DfE's SSDA903 guidance 2024 to 2025, and Whole Child's contract
# ssda903_episodes/2025.yml): registered supported accommodation, K3, was added that year
PLACE_2024_25 = [
    "A3", "A4", "A5", "A6", "H5", "K1", "K2", "K3", "P1", "P2", "P3", "R1", "R2", "R3", "R5", "S1",
    "T0", "T1", "T2", "T3", "T4", "U1", "U2", "U3", "U4", "U5", "U6", "Z1",
]  # fmt: skip


def rule_146_2025(dfs):
    """146, "Placement type code is not a valid code": PLACE must be one of the year's codes (or blank).
    The published 2024/25 rule lists the new code as "k3", so every K3 placement fails."""
    if "Episodes" not in dfs:
        return {}
    episodes = dfs["Episodes"]
    valid = episodes["PLACE"].isin(PLACE_2024_25) | episodes["PLACE"].isna()
    return {"Episodes": episodes.index[~valid].tolist()}


def rule_sw11b(dfs):
    """SW11bSTG2, "Social worker episode has ended before 31 March and no subsequent social worker episode
    has been provided", for episodes ending in the year's last five days (the rule's own window). The
    published rule pairs each episode with the one sorted before it and flags an episode ending in the
    window whenever that pairing finds no successor, so an episode followed by one that starts the day it
    ends is flagged too. Here: flagged when no other episode of the child starts on or after its end."""
    import pandas as pd

    if "SWEpisodes" not in dfs:
        return {}
    episodes = dfs["SWEpisodes"]
    end = pd.to_datetime(dfs["metadata"]["collection_end"], format="%d/%m/%Y")
    ended = pd.to_datetime(episodes["SW_DEC"], format="%d/%m/%Y", errors="coerce")
    started = pd.to_datetime(episodes["SW_DECOM"], format="%d/%m/%Y", errors="coerce")
    in_window = ended.notna() & (ended >= end - pd.DateOffset(days=5)) & (ended <= end)
    ending = pd.DataFrame({"CHILD": episodes["CHILD"], "ended": ended, "row": episodes.index})[in_window]
    starts = pd.DataFrame({"CHILD": episodes["CHILD"], "started": started, "other": episodes.index})
    pairs = ending.merge(starts, on="CHILD")
    followed = pairs.loc[(pairs["other"] != pairs["row"]) & (pairs["started"] >= pairs["ended"]), "row"]
    return {"SWEpisodes": ending.loc[~ending["row"].isin(followed), "row"].tolist()}


def rule_1001(dfs):
    """1001, "The episodes recorded for this young person suggest they are not a relevant or a former
    relevant child and therefore should not have care leaver information completed": a young person in
    OC3 needs 13 weeks (91 days) looked after since their 14th birthday, some of it after their 16th, and
    must not have left care by adoption. The published rule first drops everyone aged 20 or more at the
    collection's end from the header it reads, then finds no care history for them, so every 20- and
    21-year-old care leaver is an error. Here nobody is dropped for their age: the whole care history is
    given (Whole Child supplies every earlier episode as last year's return), so a 20-year-old is judged
    on it like anyone else. Short breaks (V3, V4) do not count, as in the published rule."""
    import pandas as pd

    needed = ("Episodes", "OC3", "Header", "Episodes_last")
    if any(name not in dfs or len(dfs[name]) == 0 for name in needed):
        return {}
    end = pd.to_datetime(dfs["metadata"]["collection_end"], format="%d/%m/%Y", errors="coerce")
    episodes = pd.concat([dfs["Episodes"], dfs["Episodes_last"]], axis=0)
    episodes["DECOM"] = pd.to_datetime(episodes["DECOM"], format="%d/%m/%Y", errors="coerce")
    episodes["DEC"] = pd.to_datetime(episodes["DEC"], format="%d/%m/%Y", errors="coerce")
    episodes = episodes.sort_values("DEC").drop_duplicates(["CHILD", "DECOM"], keep="first")
    latest = episodes.index.isin(episodes.groupby("CHILD")["DECOM"].idxmax())
    episodes.loc[latest & episodes["DEC"].isna(), "DEC"] = end  # care going on counts to the year's end

    header = dfs["Header"][["CHILD", "DOB"]].copy()
    header["DOB"] = pd.to_datetime(header["DOB"], format="%d/%m/%Y", errors="coerce")
    header = header[header["DOB"].notna()]
    care = episodes.merge(header, on="CHILD", how="inner")
    care = care[~care["LS"].astype(str).str.upper().isin(["V3", "V4"])]
    if care.empty:
        return {"OC3": []}
    for age in (14, 16):
        since = care[["DECOM"]].assign(birthday=care["DOB"] + pd.DateOffset(years=age)).max(axis=1)
        care[f"days{age}"] = (care["DEC"] - since).dt.days.clip(lower=0)
    totals = care.groupby("CHILD")[["days14", "days16"]].sum()

    oc3 = dfs["OC3"]
    days14 = oc3["CHILD"].map(totals["days14"])
    days16 = oc3["CHILD"].map(totals["days16"])
    relevant = (days14 >= 91) & (days16 >= 1)
    last = episodes.loc[episodes.groupby("CHILD")["DECOM"].idxmax()]
    adopted = oc3["CHILD"].isin(last.loc[last["REC"].astype(str).str.upper().isin(["E11", "E12"]), "CHILD"])
    return {"OC3": oc3.index[adopted | ~relevant].tolist()}


def _sw12(dfs, windowed: bool):
    """SW12STG2, "If a child is looked after on 31 March then all social worker episodes for the full
    previous year should be reported, even those whilst they were not looked after". The published rule
    pairs each episode that starts or ends care with each of the child's social worker episodes and flags it
    when one of them began before the care started (or after it ended), or when the child has none: so it
    flags the very episodes its message asks for (those whilst not looked after), and children who were
    not looked after on 31 March, whom its message leaves out (and whom SW17STG2, from 2025/26, forbids
    reporting without an episode open on 31 March). Here: the same episodes (the published filter, its
    window on DEC from 2024/25), flagged only for a child looked after on 31 March with no social worker
    episode reported at all."""
    import numpy as np
    import pandas as pd

    if "SWEpisodes" not in dfs or "Episodes" not in dfs:
        return {}
    episodes = dfs["Episodes"].copy()
    dec = pd.to_datetime(episodes["DEC"], format="%d/%m/%Y", errors="coerce")
    care = ~episodes["LS"].isin(["V3", "V4"])
    judged = care & ((episodes["RNE"] == "S") | (episodes["REC"] != "X1"))
    if windowed:  # as the published rule from 2024/25
        start = pd.to_datetime(dfs["metadata"]["collection_start"], format="%d/%m/%Y")
        end = pd.to_datetime(dfs["metadata"]["collection_end"], format="%d/%m/%Y")
        judged &= ((dec >= start - np.timedelta64(1, "Y")) & (dec <= end)) | dec.isna()
    looked_after_31_march = set(episodes.loc[care & dec.isna(), "CHILD"])
    reported = set(dfs["SWEpisodes"]["CHILD"])
    flagged = judged & episodes["CHILD"].isin(looked_after_31_march - reported)
    return {"Episodes": episodes.index[flagged].tolist()}


def rule_sw12_2024(dfs):
    return _sw12(dfs, windowed=False)


def rule_sw12(dfs):
    return _sw12(dfs, windowed=True)


def rule_241(dfs):
    """241, "LA of placement is not an LA the provider has premises": for a supported accommodation (K3)
    placement with a URN, PL_LA must be one of the authorities where Ofsted's lists give the provider
    premises (the published rule's own comment: "<PL_LA> must equal Ofsted URN lookup <LA code> for that
    URN", where a provider may have premises in more than one LA). The published rule has no lookup and
    compares PL_LA with the reporting authority, so every K3 placement outside the area is an error. Here:
    flagged when the lists name no premises of the URN in PL_LA (a URN the lists do not have at all is
    flagged too, as 1008 also says); None, judging nothing, when the lists were not supplied."""
    if "Episodes" not in dfs:
        return {}
    if "provider_info" not in dfs["metadata"]:
        return None
    episodes = dfs["Episodes"]
    premises = dfs["metadata"]["provider_info"][["URN", "LA_CODE_INFERRED"]].dropna().drop_duplicates()
    k3 = episodes[episodes["URN"].notna() & (episodes["URN"] != "XXXXXXX") & (episodes["PLACE"] == "K3")]
    placed = k3[["URN", "PL_LA"]].astype(str).assign(row=k3.index)
    there = placed.merge(premises.astype(str), left_on=["URN", "PL_LA"], right_on=["URN", "LA_CODE_INFERRED"])
    return {"Episodes": sorted(set(placed["row"]) - set(there["row"]))}


# (rule code, collection year) -> the corrected copy
CORRECTED = {
    ("146", "2025"): rule_146_2025,
    **{("SW11bSTG2", year): rule_sw11b for year in ("2024", "2025", "2026", "2027")},
    **{("1001", year): rule_1001 for year in ("2023", "2024", "2025", "2026", "2027")},
    ("SW12STG2", "2024"): rule_sw12_2024,
    **{("SW12STG2", year): rule_sw12 for year in ("2025", "2026", "2027")},
    **{("241", year): rule_241 for year in ("2026", "2027")},  # in the validator's rules from 2025/26
}


def for_year(year: str) -> dict:
    return {code: rule for (code, for_year), rule in CORRECTED.items() if for_year == str(year)}
