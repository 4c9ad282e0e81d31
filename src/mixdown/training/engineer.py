"""Train :class:`mixdown.models.engineer.Engineer`'s decisions on MixologyDB's engineers.

Each training example is one human mix of a training song (never :data:`TEST_SONGS`): its
tracks as the model would hear them (loudness relative to the mix's raw tracks, stereo, part and
side) and the engineer's decisions as targets, with the engineer's style index. The master
network (``base``) is the shipped model's, frozen. Losses per track (means over real tracks):

* level relative to the mix (dB / 10) and |pan| (L1);
* high-pass and send (L1 in table-normalised units);
* EQ: the six-band response at the octave centres (dB / 10, L1), so bands that do nothing cost
  nothing;
* compressor: the static gain-reduction curve over the track's level range (dB / 10, L1), attack
  and release (normalised L1) where the engineer compressed, make-up (normalised L1) (a ratio
  learnt as 1:1 where the engineer did not compress was tried: worse on the validation songs);
* the master reverb (normalised L1 of its six settings).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from mixdown.data.mixology import (
    OCTAVES_HZ,
    TEST_SONGS,
    MixologyDB,
    decisions_taken,
    power_sum_db,
)
from mixdown.data.roles import PARTS, ROLES
from mixdown.decisions import COMP_GRID_DB
from mixdown.dsp.strip import static_gain_db
from mixdown.models.engineer import (
    DECISIONS,
    EQ_BANK_SIZE,
    EQ_DECISIONS,
    N_SIDES,
    SWITCHES,
    TABLE_DECISIONS,
    Engineer,
    encode_names,
)
from mixdown.params import spec as S

log = logging.getLogger(__name__)
_FS = 48000.0
#: a strip that leaves its track unchanged (targets of tracks a mix leaves out, padding)
_NEUTRAL = torch.tensor([S.neutral_track_values(int(_FS))[k] for k in S.TRACK_NAMES], dtype=torch.float64)


def heard_levels(model: Engineer, folder: Path, st) -> tuple[np.ndarray, np.ndarray]:
    """What ``model`` hears of a session's tracks at mixing time (:meth:`Engineer.hear` on the
    predictor's analysis windows, median over windows): each track's level relative to the
    others (dB) and whether it is stereo, for each of the tracks of ``st``
    (:class:`mixdown.decisions.SongTracks`) in the stand-in session at ``folder``. Shapes ``(N,)``."""
    from mixdown.decisions import standin_order
    from mixdown.inference.contract import analysis_batch, analysis_windows, contract_of
    from mixdown.session import read_session

    session = read_session(folder)
    contract = contract_of(model)
    x, mask, _ = analysis_batch(session, *analysis_windows(session, contract), contract)
    with torch.no_grad():
        _, level_rel, stereo = model.hear(x, mask)
    idx = standin_order(st, session.names, folder)
    # each track from the windows where it plays (as the predictor weighs its windows)
    rel = level_rel.numpy()
    plays = rel > -90.0
    med = np.array(
        [np.median(rel[plays[:, i], i]) if plays[:, i].any() else rel[:, i].max() for i in range(rel.shape[1])]
    )
    return med[idx], stereo.any(0).numpy()[idx]


def examples(
    db: MixologyDB, songs_out: tuple[str, ...] = TEST_SONGS, hear=None
) -> tuple[list[dict], list[str], list[float]]:
    """One example per mix of the songs not in ``songs_out``: the song's raw tracks
    (:func:`mixdown.decisions.song_tracks`) as the model meets them at mixing time (parts and
    sides from their names, :func:`~mixdown.models.engineer.encode_names`) and that engineer's
    decisions on them as targets (``target`` False on tracks the mix leaves out). ``hear(st)``
    -> (level relative to the others, stereo) per track, e.g. :func:`heard_levels` on the song's
    stand-in session; default: the raw loudness and MixologyDB's mono/stereo. Returns the examples,
    the engineers (style names) and their mean listener ratings."""
    from mixdown.decisions import song_tracks

    songs = [s for s in db.songs() if s not in songs_out]
    styles = sorted({d.mix for d in db.decisions if d.song in songs})
    ratings: dict[str, list[float]] = defaultdict(list)
    out = []
    for song in songs:
        st = song_tracks(db, song)
        raw = np.asarray(st.raw_lufs, dtype=np.float64)
        if hear is None:
            heard_rel, stereo = raw - power_sum_db(raw), np.asarray(st.stereo)
        else:
            heard_rel, stereo = hear(st)
        roles = encode_names(st.names)
        for mix, m in sorted(st.engineers.items()):
            present = np.array([k in m for k in st.keys])
            if present.sum() < 2:
                continue
            ratings[mix].append(next(iter(m.values())).rating)
            lv = np.array([m[k].level_db if k in m else -120.0 for k in st.keys])
            out.append(
                {
                    "style": styles.index(mix),
                    "roles": roles,
                    "heard_rel": np.asarray(heard_rel, dtype=np.float64),
                    "stereo": np.asarray(stereo, dtype=bool),
                    "raw_lufs": raw,
                    "target": present,
                    "level_rel": lv - power_sum_db(lv[present]),
                    "values": np.array(
                        [[m[k].values[n] for n in S.TRACK_NAMES] if k in m else _NEUTRAL.tolist() for k in st.keys]
                    ),
                    "reverb": np.array([db.reverbs[f"{song}/{mix}"][k] for k in S.REVERB_MASTER_NAMES]),
                }
            )
    return out, styles, [float(np.mean(ratings[s])) for s in styles]


def _batch(exs: list[dict]) -> dict[str, torch.Tensor]:
    n = max(len(e["roles"]) for e in exs)
    B = len(exs)
    b = {
        "mask": torch.zeros(B, n, dtype=torch.bool),
        "roles": torch.zeros(B, n, dtype=torch.long),
        "heard_rel": torch.full((B, n), -60.0),
        "stereo": torch.zeros(B, n),
        "raw": torch.full((B, n), -30.0),
        "level_rel": torch.zeros(B, n),
        "target": torch.zeros(B, n, dtype=torch.bool),
        "values": _NEUTRAL.expand(B, n, -1).clone(),
        "reverb": torch.tensor(np.stack([e["reverb"] for e in exs])),
        "style": torch.tensor([e["style"] for e in exs]),
    }
    for i, e in enumerate(exs):
        k = len(e["roles"])
        b["mask"][i, :k] = True
        b["roles"][i, :k] = torch.tensor(e["roles"])
        b["heard_rel"][i, :k] = torch.tensor(e["heard_rel"])
        b["stereo"][i, :k] = torch.tensor(e["stereo"], dtype=torch.float32)
        b["raw"][i, :k] = torch.tensor(e["raw_lufs"])
        b["level_rel"][i, :k] = torch.tensor(e["level_rel"])
        b["target"][i, :k] = torch.tensor(e["target"])
        b["values"][i, :k] = torch.tensor(e["values"])
    return b


def eq_response_db(freq_hz: torch.Tensor, gain_db: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The six bands' summed response (dB) at :data:`OCTAVES_HZ`: ``(..., 6)`` each -> ``(..., 10)``."""
    from mixdown.dsp.coefficients import biquad_coefficients

    w = 2 * math.pi * torch.as_tensor(OCTAVES_HZ, dtype=torch.float64) / _FS
    z = torch.stack([torch.ones_like(w), torch.exp(-1j * w), torch.exp(-2j * w)], -1).to(torch.complex128)
    total = 0.0
    for i, kind in enumerate(S.EQ_BAND_TYPES):
        b, a = biquad_coefficients(kind, freq_hz[..., i].double(), gain_db[..., i].double(), q[..., i].double(), _FS)
        hb = (b[..., None, :].to(torch.complex128) * z).sum(-1)
        ha = (a[..., None, :].to(torch.complex128) * z).sum(-1)
        total = total + 20 * torch.log10(hb.abs() / ha.abs())
    return total


def gain_reduction_db(
    level_db: torch.Tensor, threshold_db: torch.Tensor, ratio: torch.Tensor, knee_db: torch.Tensor
) -> torch.Tensor:
    """The spec's soft-knee static gain (dB, <= 0) at :data:`COMP_GRID_DB` above ``level_db``:
    ``(...)`` each -> ``(..., len(COMP_GRID_DB))``."""
    x = level_db[..., None] + torch.as_tensor(COMP_GRID_DB, dtype=level_db.dtype)
    return static_gain_db(x, threshold_db[..., None], ratio[..., None], knee_db[..., None])


def _cols(names) -> list[int]:
    return [S.TRACK_NAMES.index(n) for n in names]


def losses(model: Engineer, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each loss term (scalars) for a batch from :func:`_batch`."""
    dec, reverb = model.decisions(b["heard_rel"].float(), b["stereo"], b["mask"], b["roles"], b["style"])
    m = b["target"].float()

    def mean(x):  # over the tracks the engineer placed
        return (x * m).sum() / m.sum()

    phys = {name: lo + dec[..., i] * (hi - lo) for i, (name, lo, hi) in enumerate(DECISIONS)}
    tab = dec[..., len(DECISIONS) : len(DECISIONS) + len(TABLE_DECISIONS)].double()
    tab_phys = S.denormalize(tab, [S.TRACK_SPECS[i] for i in _cols(TABLE_DECISIONS)])
    v = b["values"]
    target_u = S.normalize(v, S.TRACK_SPECS)
    t = {n: j for j, n in enumerate(TABLE_DECISIONS)}
    col = S.TRACK.columns
    raw = b["raw"].double()
    on = v[..., col["compressor.ratio"]] > 1.0
    true_thr_rel = torch.where(on, v[..., col["compressor.threshold_db"]] - raw, torch.zeros_like(raw))
    true_gr = gain_reduction_db(
        torch.zeros_like(raw), true_thr_rel, v[..., col["compressor.ratio"]], v[..., col["compressor.knee_db"]]
    )
    pred_gr = gain_reduction_db(
        torch.zeros_like(raw),
        phys["threshold_rel_db"].double(),
        tab_phys[..., t["compressor.ratio"]],
        tab_phys[..., t["compressor.knee_db"]],
    )
    out = {"pan": mean((phys["abs_pan"] - v[..., col["pan"]].abs()).abs())}
    if model.recipe == 2:  # whether each switch is taken (cross-entropy), its settings where taken
        taken = taken_switches(v, raw)
        prob = dec[..., len(DECISIONS) + len(TABLE_DECISIONS) :].double().clamp(1e-6, 1 - 1e-6)
        for k, (name, y) in enumerate(taken.items()):
            out[f"{name}_taken"] = mean(
                torch.nn.functional.binary_cross_entropy(prob[..., k], y.double(), reduction="none")
            )
        where = {"highpass_hz": taken["highpass"], "reverb_send_db": taken["send"]}
        comp_on = taken["compressor"]
    else:  # recipe 1 learns each style's EQ (recipe 2 draws the engineers' own)
        eq = [[f"eq.{i}.{k}" for i in range(S.N_EQ_BANDS)] for k in ("freq_hz", "gain_db", "q")]
        pred_eq = eq_response_db(*(torch.stack([tab_phys[..., t[n]] for n in ks], -1) for ks in eq))
        true_eq = eq_response_db(*(v[..., [col[n] for n in ks]] for ks in eq))
        out["eq"] = mean((pred_eq - true_eq).abs().mean(-1) / 10)
        out["level"] = mean((phys["level_rel_db"] - b["level_rel"]).abs() / 10)
        out["makeup"] = mean((tab[..., t["compressor.makeup_db"]] - target_u[..., col["compressor.makeup_db"]]).abs())
        where = {"highpass_hz": None, "reverb_send_db": None}
        comp_on = on

    def mean_where(x, w):  # over the placed tracks where ``w`` (all placed tracks: None)
        if w is None:
            return mean(x)
        wf = w.double() * m
        return (x * wf).sum() / wf.sum().clamp(min=1)

    for name, w in where.items():
        out[name.split(".")[-1]] = mean_where((tab[..., t[name]] - target_u[..., col[name]]).abs(), w)
    out["compressor"] = mean_where((pred_gr - true_gr).abs().mean(-1) / 10, None if model.recipe == 1 else comp_on)
    for name in ("compressor.attack_ms", "compressor.release_ms"):
        out[name.split(".")[-1]] = mean_where((tab[..., t[name]] - target_u[..., col[name]]).abs(), comp_on)
    rev_specs = list(S.REVERB_MASTER_SPECS)
    out["reverb"] = (reverb.double() - S.normalize(b["reverb"], rev_specs)).abs().mean()
    return {k: x.float() for k, x in out.items()}


def engineer_rows(model: Engineer, st, draw: int = 0, heard=None) -> np.ndarray:
    """The decision network's settings for a song's tracks as MixologyDB describes them (names,
    stereo, raw loudness; no audio, or ``heard`` = (level relative to the others, stereo) per
    track as :func:`heard_levels` hears them), the style drawn as at mixing time: ``(N, P)``
    physical track values (``st``: :class:`mixdown.decisions.SongTracks`)."""
    n = len(st.keys)
    roles = torch.tensor(encode_names(st.names))[None]
    raw = torch.tensor(st.raw_lufs, dtype=torch.float32)[None]
    if heard is None:
        heard_rel, stereo = raw - 10 * torch.log10((10 ** (raw / 10)).sum(1, keepdim=True)), st.stereo
    else:
        heard_rel, stereo = torch.tensor(heard[0], dtype=torch.float32)[None], heard[1]
    mask = torch.ones(1, n, dtype=torch.bool)
    style = torch.tensor([model.pick_style(roles[0], draw)])
    stereo = torch.tensor(np.asarray([stereo]), dtype=torch.float32)  # (1, N): 1 where stereo
    with torch.no_grad():
        dec, reverb = model.decisions(heard_rel, stereo, mask, roles, style)
        track_u = S.normalize(_NEUTRAL, S.TRACK_SPECS).float().expand(1, n, -1)
        master_u = torch.zeros(1, S.N_MASTER_PARAMS)
        coins = model.coins(roles[0], draw)[None] if model.recipe == 2 else None
        track_u, _ = model.assemble(track_u, master_u, dec, reverb, raw, heard_rel, roles, mask, coins, stereo=stereo)
    return S.denormalize(track_u[0].double().numpy(), S.TRACK_SPECS)


def validation_errors(model: Engineer, db: MixologyDB, songs: tuple[str, ...], hear=None) -> dict[str, float]:
    """Mean error per group (:data:`mixdown.decisions.GROUPS`) of :func:`engineer_rows` against
    the median of each song's engineers, over ``songs``."""
    from mixdown import decisions as D

    errs: dict[str, list] = defaultdict(list)
    for song in songs:
        st = D.song_tracks(db, song)
        rows = engineer_rows(model, st, heard=None if hear is None else hear(st))
        res = D.system_errors(D.features(D.rows_of(rows), st.raw_lufs, st.sides), D.engineer_features(st))
        for g, e in res.items():
            errs[g].append(e)
    return {g: float(np.concatenate(v).mean()) for g, v in errs.items()}


def taken_switches(values, raw_lufs) -> dict:
    """Whether an engineer took each of recipe 2's switches (:data:`SWITCHES`;
    :func:`mixdown.data.mixology.decisions_taken`, the decision benchmark's definitions): physical
    track values ``(..., P)`` (torch or numpy) and each track's raw loudness ``(...)`` -> name ->
    bool ``(...)``."""
    col = S.TRACK.columns
    return decisions_taken({n: values[..., i] for n, i in col.items()}, raw_lufs + values[..., col["input_gain_db"]])


def fill_part_odds(model: Engineer, exs: list[dict]) -> None:
    """Recipe 2's ``part_odds`` (with ``switch_shrink``): per part, the share of the tracks of
    that part the engineers of ``exs`` placed on which they took each switch, and how many tracks
    that is (``part_tracks``)."""
    taken = np.zeros((len(PARTS), len(SWITCHES)))
    count = np.zeros(len(PARTS), dtype=np.int64)
    for e in exs:
        parts = np.asarray(e["roles"]) // (len(ROLES) * N_SIDES)
        t = taken_switches(np.asarray(e["values"]), np.asarray(e["raw_lufs"]))
        for i, (p, placed) in enumerate(zip(parts, e["target"])):
            if placed:
                count[p] += 1
                taken[p] += [bool(t[name][i]) for name in SWITCHES]
    model.part_odds.copy_(torch.as_tensor(taken / np.maximum(count, 1)[:, None], dtype=model.part_odds.dtype))
    model.part_tracks.copy_(torch.as_tensor(count))


def fill_eq_bank(model: Engineer, exs: list[dict], seed: int = 0) -> None:
    """Recipe 2's ``eq_bank``: per part, the EQs (:data:`EQ_DECISIONS`, physical) the
    engineers of ``exs`` set on the tracks of that part they placed (at most
    :data:`EQ_BANK_SIZE`, a seeded sample where there are more)."""
    cols = _cols(EQ_DECISIONS)
    by_part: dict[int, list] = defaultdict(list)
    for e in exs:
        parts = np.asarray(e["roles"]) // (len(ROLES) * N_SIDES)
        for p, placed, v in zip(parts, e["target"], e["values"]):
            if placed:
                by_part[int(p)].append(v[cols])
    rng = np.random.default_rng(seed)
    model.eq_bank.zero_()
    model.eq_bank_size.zero_()
    for p, rows in by_part.items():
        rows = np.asarray(rows)
        if len(rows) > EQ_BANK_SIZE:
            rows = rows[rng.choice(len(rows), EQ_BANK_SIZE, replace=False)]
        model.eq_bank[p, : len(rows)] = torch.as_tensor(rows, dtype=model.eq_bank.dtype)
        model.eq_bank_size[p] = len(rows)


def train_engineer(
    db: MixologyDB,
    base_checkpoint: Path,
    out: Path,
    *,
    steps: int = 1500,
    batch: int = 8,
    lr: float = 2e-3,
    seed: int = 0,
    d_model: int = 64,
    songs_out: tuple[str, ...] = TEST_SONGS,
    validate: tuple[str, ...] = (),
    every: int = 250,
    weights: dict[str, float] | None = None,
    standins: Path | None = None,
    recipe: int = 1,
    eq_scale: float = 1.0,
    mixing: dict | None = None,
) -> dict:
    """Train the decision network on the training songs' mixes, the master network taken from
    ``base_checkpoint`` (a Mixformer with roles, e.g. the shipped human-v3) and frozen; ``weights``
    scale the loss terms of :func:`losses` by name (default 1 each); with ``standins`` (a folder of
    stand-in sessions, :func:`mixdown.decisions.render_song`, rendered there when missing) the
    model learns from what it hears of them (:func:`heard_levels`), as at mixing time; write a
    self-describing checkpoint to ``out``. ``mixing``: recipe 2's options that act after the
    network (:data:`MIXING_OPTIONS`). Returns the final losses."""
    from tqdm import tqdm

    from mixdown.inference.checkpoint import load_model, read_checkpoint, save_checkpoint
    from mixdown.inference.contract import InputContract

    torch.manual_seed(seed)
    weights = dict(weights or {})
    base_state = read_checkpoint(base_checkpoint)
    contract = InputContract.from_checkpoint(base_state)
    hear = None
    if standins is not None:
        from mixdown import decisions as D

        listener = Engineer(sample_rate=int(base_state["sample_rate"]))
        listener.input_contract = contract

        heard: dict[str, tuple[np.ndarray, np.ndarray]] = {}

        def hear(st):
            if st.song not in heard:
                folder = Path(standins) / D._slug(st.song)
                if not (folder / "tracks").is_dir():
                    D.render_song(st, folder)
                heard[st.song] = heard_levels(listener, folder, st)
            return heard[st.song]

    exs, styles, ratings = examples(db, songs_out, hear)
    base_kwargs = dict(base_state["model"]["kwargs"])
    base = load_model(base_checkpoint)
    kwargs = {
        k: base_kwargs[k] for k in ("sample_rate", "dim", "layers", "heads", "hidden", "use_roles") if k in base_kwargs
    }
    kwargs.update(d_model=d_model, n_styles=len(styles), recipe=recipe, eq_scale=eq_scale, **_mixing(mixing))
    model = Engineer(**kwargs)
    model.base.load_state_dict(base.state_dict())
    model.style_weights.copy_(torch.tensor(ratings))
    if recipe == 2:
        fill_eq_bank(model, exs, seed)
        if model.switch_shrink > 0:
            fill_part_odds(model, exs)
    for p in model.base.parameters():
        p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    rng = np.random.default_rng(seed)
    model.train()
    last: dict[str, float] = {}
    history: list[dict] = []
    for step in tqdm(range(steps), desc="engineer decisions", unit="step"):
        b = _batch([exs[i] for i in rng.choice(len(exs), size=min(batch, len(exs)), replace=False)])
        terms = losses(model, b)
        loss = sum(weights.get(k, 1.0) * v for k, v in terms.items())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            last = {k: round(float(v.detach()), 4) for k, v in terms.items()}
            log.info("step %d: loss %.4f %s", step, float(loss.detach()), last)
        if validate and ((step + 1) % every == 0 or step == steps - 1):
            model.eval()
            val = validation_errors(model, db, validate, hear)
            history.append({"step": step + 1, **val})
            log.info("step %d: validation %s", step + 1, {k: round(v, 3) for k, v in val.items()})
            model.train()
    model.eval()
    for p in model.base.parameters():
        p.requires_grad_(True)
    save_checkpoint(
        out,
        model,
        kwargs,
        sample_rate=kwargs.get("sample_rate", 44100),
        input_contract=contract,
        config={
            "engineer": {
                "steps": steps,
                "batch": batch,
                "lr": lr,
                "seed": seed,
                "base": Path(base_checkpoint).name,
                "styles": styles,
                "songs_out": list(songs_out),
                "d_model": d_model,
                "recipe": recipe,
                "eq_scale": eq_scale,
                "mixing": _mixing(mixing),
                "loss_weights": weights,
                "heard": "stand-in sessions" if standins is not None else "raw loudness",
                "data": "MixologyDB (MIT), songs not in the decision benchmark's test split",
            }
        },
    )
    return {"train": last, "validation": history}


#: recipe 2's options that act after the decision network (no training needed to change them):
#: name -> what it does (:class:`mixdown.models.engineer.Engineer`)
MIXING_OPTIONS = {
    "wetness": "how the reverb return is set: 'bus' (the base's whole wetness) or 'sent' (each sent track as wet "
    "as the base made it)",
    "highpass_loss_db": "the most a taken high-pass may take off a track's power (dB; 0: no limit)",
    "keep_mix_tone": "the master EQ undoes what the strips' EQs together change in the mix's tone",
    "switch_shrink": "each switch's odds moved this far (0 to 1) towards the training engineers' share on the part",
    "stereo_centred": "a track heard as stereo keeps its balance (pan 0), as the training songs' engineers left theirs",
    "compressor_scale": "a taken compressor's gain reduction above its threshold (slope 1 - 1/ratio) times this "
    "(above 0, at most 1), at least 2:1's",
    "kit_low_end": "a high-pass on overheads (or a whole kit on one track) is taken only where the line-up has a "
    "kick track",
}


def _mixing(mixing: dict | None) -> dict:
    unknown = sorted(set(mixing or {}) - set(MIXING_OPTIONS))
    if unknown:
        raise ValueError(f"mixing options {unknown}: not among {sorted(MIXING_OPTIONS)}")
    return dict(mixing or {})


def with_mixing(src: Path, out: Path, mixing: dict, db: MixologyDB | None = None) -> str:
    """Write ``out``: the Engineer checkpoint ``src`` (recipe 2) with its mixing options
    (:data:`MIXING_OPTIONS`) set to ``mixing``, the networks untouched (they act after them; with
    ``switch_shrink`` the parts' odds are counted from the songs they were trained on, in ``db``,
    by default the vendored MixologyDB); the options are checked by building the model, and the
    checkpoint's config records the source (file, sha256) and the options. Returns the sha256 of
    ``out`` (first 12 hex digits)."""
    import hashlib

    from mixdown.fileio import atomic_write
    from mixdown.inference.checkpoint import check_model_kwargs, load_model, read_checkpoint

    state = read_checkpoint(src)
    if state["model"]["class"].rsplit(".", 1)[-1] != "Engineer" or state["model"]["kwargs"].get("recipe") != 2:
        raise ValueError(f"{src}: not an Engineer of recipe 2 (mixing options act on recipe 2's decisions)")
    state["model"]["kwargs"].update(_mixing(mixing))
    # the options checked before anything is written: as a checkpoint's kwargs are checked when it
    # loads (types: True is not a number), then by the model's own bounds
    check_model_kwargs(Path(src), Engineer, state["model"]["kwargs"])
    model = Engineer(**state["model"]["kwargs"])
    weights = state["state_dict"]
    for name in ("part_odds", "part_tracks"):
        weights.pop(name, None)
    if model.switch_shrink > 0:  # the parts' odds from the songs the networks were trained on
        from mixdown.data.mixology import read_mixologydb

        songs_out = tuple((state.get("config") or {}).get("engineer", {}).get("songs_out", TEST_SONGS))
        fill_part_odds(model, examples(read_mixologydb() if db is None else db, songs_out)[0])
        weights.update(part_odds=model.part_odds.clone(), part_tracks=model.part_tracks.clone())
    config = dict(state.get("config") or {})
    config["mixing"] = {"from": Path(src).name, "from_sha256": hashlib.sha256(Path(src).read_bytes()).hexdigest(),
                        **_mixing(mixing)}
    state["config"] = config
    atomic_write(Path(out), lambda tmp: torch.save(state, tmp))
    load_model(out)  # it loads as a checkpoint
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()[:12]
