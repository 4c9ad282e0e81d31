"""Engineer: a Mixformer whose per-track decisions come from engineers' habits (MixologyDB).

Two networks in one model:

* ``base``, a :class:`~mixdown.models.mixformer.Mixformer` (started from the shipped human-v3):
  the master bus (EQ, compressor, output gain);
* ``decide``, a transformer across the session's tracks that sets each track's level, |pan|,
  high-pass, six-band EQ, compressor and reverb send, and the master reverb, from what it hears
  of each track (its loudness relative to the others, K-weighted, and whether it is stereo), what
  its name says (its part, :data:`mixdown.data.roles.PARTS`, and side) and the line-up, and
  from a **style**: one of the engineers it learnt from (a learned embedding each).

Mixing has many right answers (MEGAMI): a style is one engineer's way. Without ``style`` set, a
session gets a style drawn from the engineers in proportion to their listeners' ratings, the draw
a pure function of the session's track names (the same session always gets the same mix;
``model.style = k`` picks one). Pans: a name that says left or right gets that side; other
tracks of one part alternate sides in track order, the first to the left; ``|pan|`` is learnt.

Thresholds are learnt relative to each track's loudness, levels relative to the mix, so neither
depends on how loud the session was recorded.

Two recipes (``recipe``, in the checkpoint):

* **1** (engineer-v1): every decision from the style, as that engineer would. Every track gets
  the same input gain (0 dB before the analysis windows' song gain, which the predictor adds
  back): the engineers' compressors see the raw track, and the balance is all in the faders,
  shifted together so the bus reaches the master at the level the base model set its master for.
* **2**: what engineers agree on, drawn as they disagree. The balance (input gains and faders)
  is the base model's, learnt from human-mixed songs. |pan|, and each setting of a high-pass, a
  compressor and a send *when taken*, are what the engineers' median would be (L1 on the tracks
  where they took it); whether each is taken is a coin with the engineers' odds for that track
  (:data:`SWITCHES`, a learnt probability; the coin seeded by the line-up and the draw, like the
  style). Engineers agree least on EQ (their median is nearly flat, and each one's moves are
  their own): the EQ is one engineer's EQ on a track of the same part, drawn by another coin
  from the training songs' mixes (``eq_bank``), its gains scaled by ``eq_scale``. No style.
  A compressor's make-up gives back its gain reduction at the track's loudness + 3 dB. What the
  strips change, the base's strips did not: each fader moves to keep its track as loud as the
  base's strip left it (:meth:`Engineer.keep_loudness`), the reverb return keeps the base's
  wetness (:meth:`Engineer.keep_wetness`), and the EQ the base gave every strip alike moves onto
  the master (:meth:`Engineer.keep_tone`).

Recipe 2's mixing options act after the networks (set on a trained checkpoint by
``scripts/train_engineer.py --from``; the default has them all): ``wetness``
("sent": each sent track as wet as the base made it), ``highpass_loss_db`` (a taken high-pass
takes at most this off the track's power: :meth:`Engineer.spare_content`), ``keep_mix_tone`` (the
master EQ undoes the strips' EQs' change to the mix's tone: :meth:`Engineer.eq_tone_change_db`),
``switch_shrink`` (each switch's odds moved towards the training engineers' share on the part),
``stereo_centred`` (a track heard as stereo keeps its balance: pan 0; the training songs'
engineers left every part's stereo tracks at a median |pan| of 0) and ``compressor_scale`` (a
taken compressor's gain reduction above its threshold, the slope ``1 - 1/ratio``, times this, at
least 2:1's: a compressor is taken with the engineers' odds, so often where most of them left the
track alone, and the curve nearest their median over all of them is gentler than the median of
those who compressed) and ``kit_low_end`` (a high-pass on overheads is taken only where the
line-up has a kick: the engineers high-pass overheads because a kick microphone carries the kit's
low end; every MixologyDB session has one, and a whole kit on one track, or overheads without a
kick, hold the kick themselves).
"""

from __future__ import annotations

import zlib

import torch
from torch import nn

from mixdown.data.mixology import COMPRESSOR_ON_MAX_THRESHOLD_REL_DB, COMPRESSOR_ON_RATIO, HIGHPASS_ON_HZ, SEND_ON_DB
from mixdown.data.roles import PARTS, ROLES, part_of, role_indices, side_of
from mixdown.dsp.strip import static_gain_db
from mixdown.models.base import MixModel
from mixdown.models.mixformer import Mixformer
from mixdown.params import spec as S

#: what the decision head predicts, in order; ``level_rel_db`` and ``threshold_rel_db`` are its own
#: (level relative to the mix's power sum, threshold relative to the track's loudness), the rest
#: are rows of the parameter table (normalised as the table says)
DECISIONS = (("level_rel_db", -45.0, 5.0), ("abs_pan", 0.0, 1.0), ("threshold_rel_db", -40.0, 15.0))
#: the six bands' settings, band by band (freq, gain, q)
EQ_DECISIONS = tuple(f"eq.{i}.{k}" for i in range(S.N_EQ_BANDS) for k in ("freq_hz", "gain_db", "q"))
TABLE_DECISIONS = (
    ("highpass_hz",)
    + EQ_DECISIONS
    + (
        "compressor.ratio",
        "compressor.attack_ms",
        "compressor.release_ms",
        "compressor.knee_db",
        "compressor.makeup_db",
        "reverb_send_db",
    )
)
N_SIDES = 3
#: recipe 2's decisions taken or not per track, each by a coin with a learnt probability (what
#: "taken" means: :data:`mixdown.data.mixology.HIGHPASS_ON_HZ` and its neighbours; recipe 2 holds a
#: taken decision inside those bounds):
#: name -> (the table rows it sets, their value when not taken (physical))
SWITCHES = {
    "highpass": {"highpass_hz": 20.0},
    "compressor": {"compressor.ratio": 1.0, "compressor.makeup_db": 0.0},
    "send": {"reverb_send_db": S.SEND_OFF_DB},
}
#: how recipe 2 sets the reverb return (:meth:`Engineer.keep_wetness`): ``"bus"``, the reverb
#: gets the base's whole send power (engineer-v2); ``"sent"``, each track the engineers send is as
#: wet as the base made it (the tracks left dry add nothing)
WETNESS = ("bus", "sent")
#: recipe 2's ``switch_shrink``: each switch's probability is (1 - w) x the network's + w x the
#: share of the training songs' tracks of that part whose engineers took it (``part_odds``)
#: recipe 2 keeps at most this many engineers' EQs per part to draw from
EQ_BANK_SIZE = 512
#: a taken compressor's make-up: its static gain reduction at the track's loudness + this (dB)
MAKEUP_AT_DB = 3.0


def encode_names(names) -> list[int]:
    """Each track's (part, side, role) from its name as one index (what ``roles`` carries)."""
    return [
        (PARTS.index(part_of(n)) * N_SIDES + side_of(n) + 1) * len(ROLES) + r
        for n, r in zip(names, role_indices(list(names)))
    ]


def parts_of(roles: torch.Tensor) -> torch.Tensor:
    """Each track's part (an index into :data:`PARTS`) from its :func:`encode_names` code: same shape."""
    return torch.div(roles.long(), len(ROLES) * N_SIDES, rounding_mode="floor")


def k_response(n_fft: int, sample_rate: float, device=None) -> torch.Tensor:
    """BS.1770's K filter (:func:`mixdown.measure.loudness.k_weighting_sos`) at the ``n_fft``
    rfft bins: ``(n_fft // 2 + 1,)`` complex128."""
    from mixdown.measure.loudness import k_weighting_sos

    f = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate, dtype=torch.float64, device=device)
    w = torch.exp(-2j * torch.pi * f / sample_rate)
    h = torch.ones_like(w)
    for b0, b1, b2, _, a1, a2 in k_weighting_sos(sample_rate).tolist():
        h = h * (b0 + b1 * w + b2 * w * w) / (1 + a1 * w + a2 * w * w)
    return h


def k_weighted_db(x: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Integrated loudness as BS.1770-4 gates it, less its -0.691 dB offset (so LUFS = this -
    0.691): the K filter's magnitude applied in the frequency domain, 400 ms blocks with 75 %
    overlap, the absolute (-70 LUFS) and relative (-10 LU) gates. ``x`` ``(..., C, T)``, channels
    summed -> ``(...)`` (dB; -120 where every block is gated, a whole window under 400 ms is one
    block)."""
    T = x.shape[-1]
    spec = torch.fft.rfft(x.double(), dim=-1)
    y = torch.fft.irfft(spec * k_response(T, sample_rate, x.device), n=T, dim=-1)
    block = int(round(0.4 * sample_rate))
    sq = y.pow(2)
    blocks = sq.unfold(-1, block, block // 4).mean(-1) if T >= block else sq.mean(-1, keepdim=True)
    p = blocks.sum(-2)  # (..., n_blocks), channels summed
    lufs = -0.691 + 10 * torch.log10(p + 1e-30)
    keep = lufs > -70.0
    mean1 = (p * keep).sum(-1) / keep.sum(-1).clamp(min=1)
    keep = keep & (lufs > (-0.691 + 10 * torch.log10(mean1 + 1e-30) - 10.0)[..., None])
    mean2 = (p * keep).sum(-1) / keep.sum(-1).clamp(min=1)
    return torch.where(keep.any(-1), 10 * torch.log10(mean2 + 1e-30), torch.full_like(mean2, -120.0)).to(x.dtype)


class Engineer(MixModel):
    """Args: as :class:`Mixformer` for ``base`` (sample_rate, dim, layers, heads, hidden,
    use_roles), ``d_model`` / ``decide_layers`` (the decision transformer), ``n_styles`` (engineers
    learnt from). ``forward(tracks (B, N, 2, T), mask (B, N), reference=None, roles=None)``;
    ``roles`` from :func:`encode_names` (without it every track is an unnamed "other")."""

    uses_roles = True
    #: what ``roles`` carries: :func:`encode_names` (part, side and role of each name)
    encode_names = staticmethod(encode_names)

    def __init__(
        self,
        sample_rate: int = 44100,
        dim: int = 128,
        layers: int = 3,
        heads: int = 4,
        hidden: int = 256,
        use_roles: bool = True,
        d_model: int = 64,
        decide_layers: int = 2,
        n_styles: int = 1,
        recipe: int = 1,
        eq_scale: float = 1.0,
        wetness: str = "bus",
        highpass_loss_db: float = 0.0,
        keep_mix_tone: bool = False,
        switch_shrink: float = 0.0,
        stereo_centred: bool = False,
        compressor_scale: float = 1.0,
        kit_low_end: bool = False,
    ):
        super().__init__(sample_rate)
        flags = {"keep_mix_tone": keep_mix_tone, "stereo_centred": stereo_centred, "kit_low_end": kit_low_end}
        for name, flag in flags.items():  # a checkpoint's "no" must not read as True
            if not isinstance(flag, bool):
                raise ValueError(f"Engineer {name} {flag!r}: true or false")
        if recipe not in (1, 2):
            raise ValueError(f"Engineer recipe {recipe!r}: 1 or 2")
        if not 0.0 <= eq_scale <= 1.0:  # NaN fails too
            raise ValueError(f"Engineer eq_scale {eq_scale!r}: the share of the engineers' EQ moves, 0 to 1")
        if wetness not in WETNESS:
            raise ValueError(f"Engineer wetness {wetness!r}: one of {', '.join(WETNESS)}")
        if not 0.0 <= highpass_loss_db <= 24.0:  # NaN fails too
            raise ValueError(f"Engineer highpass_loss_db {highpass_loss_db!r}: 0 (no limit) to 24 dB")
        self.recipe, self.eq_scale, self.wetness = int(recipe), float(eq_scale), str(wetness)
        if not 0.0 <= switch_shrink <= 1.0:  # NaN fails too
            raise ValueError(f"Engineer switch_shrink {switch_shrink!r}: the weight of the parts' odds, 0 to 1")
        self.highpass_loss_db, self.keep_mix_tone = float(highpass_loss_db), bool(keep_mix_tone)
        self.switch_shrink, self.stereo_centred = float(switch_shrink), bool(stereo_centred)
        if not 0.0 < compressor_scale <= 1.0:  # NaN fails too
            raise ValueError(
                f"Engineer compressor_scale {compressor_scale!r}: the share of a taken compressor's gain "
                "reduction kept, above 0 and at most 1"
            )
        self.compressor_scale = float(compressor_scale)
        self.kit_low_end = bool(kit_low_end)
        self.base = Mixformer(sample_rate, dim, layers, heads, hidden, use_roles=use_roles)
        self.part_embedding = nn.Embedding(len(PARTS) * N_SIDES, d_model)
        self.style_embedding = nn.Embedding(n_styles, d_model)
        self.register_buffer("style_weights", torch.ones(n_styles))
        self.features = nn.Linear(5, d_model)
        layer = nn.TransformerEncoderLayer(d_model, 4, 2 * d_model, dropout=0.0, batch_first=True, norm_first=True)
        self.decide = nn.TransformerEncoder(layer, decide_layers, enable_nested_tensor=False)
        n_out = len(DECISIONS) + len(TABLE_DECISIONS)
        if recipe == 2:  # the switches' probabilities; the EQ drawn from the engineers' moves on each part
            n_out += len(SWITCHES)
            self.register_buffer("eq_bank", torch.zeros(len(PARTS), EQ_BANK_SIZE, len(EQ_DECISIONS)))
            self.register_buffer("eq_bank_size", torch.zeros(len(PARTS), dtype=torch.long))
            if switch_shrink > 0:  # the training engineers' odds per part (and how many tracks they rest on)
                self.register_buffer("part_odds", torch.zeros(len(PARTS), len(SWITCHES)))
                self.register_buffer("part_tracks", torch.zeros(len(PARTS), dtype=torch.long))
        self.track_out = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, n_out))
        self.reverb_out = nn.Sequential(
            nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, len(S.REVERB_MASTER_NAMES))
        )
        #: the engineer to mix like (None: drawn per session, :meth:`pick_style`); ``draw``: which
        #: of several draws for one session (the decision benchmark scores a distribution of mixes)
        self.style: int | None = None
        self.draw = 0

    def pick_style(self, roles: torch.Tensor, draw: int = 0) -> int:
        """The style a session gets: :attr:`style`, else a rating-weighted draw seeded by the
        session's line-up (the parts and sides of ``roles`` ``(N,)``) and ``draw`` (the k-th of
        several mixes of one session)."""
        if self.style is not None:
            return int(self.style)
        codes = torch.div(roles.long(), len(ROLES), rounding_mode="floor")  # parts and sides: the line-up
        key = ",".join(map(str, codes.tolist())) + ("" if draw == 0 else f"/{draw}")
        g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
        return int(torch.multinomial(self.style_weights.float().cpu(), 1, generator=g))

    def decisions(
        self,
        level_rel_db: torch.Tensor,
        stereo: torch.Tensor,
        mask: torch.Tensor,
        roles: torch.Tensor,
        style: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw decision outputs in [0, 1]: tracks ``(B, N, len(DECISIONS) + len(TABLE_DECISIONS))``
        (recipe 2: then the probability of each of :data:`SWITCHES`) and the master reverb
        ``(B, 6)`` (table-normalised). Inputs: ``level_rel_db``, ``stereo`` ``(B, N)``, ``roles``
        ``(B, N)`` (:func:`encode_names`), ``style`` ``(B,)``."""
        n = mask.sum(1, keepdim=True).to(level_rel_db.dtype)
        same, first = self.line_up(roles, mask)
        feats = torch.stack(
            [
                level_rel_db / 20.0,
                stereo.to(level_rel_db.dtype),
                (n / 30.0).expand_as(level_rel_db),
                same.to(level_rel_db.dtype) / 4.0,
                first.to(level_rel_db.dtype),
            ],
            -1,
        )
        tok = self.part_embedding(torch.div(roles.long(), len(ROLES), rounding_mode="floor")) + self.features(feats)
        if self.recipe == 1:
            tok = tok + self.style_embedding(style.long())[:, None]
        h = self.decide(tok, src_key_padding_mask=~mask)
        w = mask.to(h.dtype)[..., None]
        pooled = (h * w).sum(1) / w.sum(1).clamp(min=1.0)
        dec = torch.sigmoid(self.track_out(h))
        return dec, torch.sigmoid(self.reverb_out(pooled))

    def coins(self, roles: torch.Tensor, draw: int = 0) -> torch.Tensor:
        """Recipe 2's coins, uniform in [0, 1): ``(N, len(SWITCHES) + 1)`` for one session's
        ``roles`` ``(N,)`` (one per switch, the last picks the EQ), seeded like
        :meth:`pick_style` (the same session and draw: the same coins)."""
        codes = torch.div(roles.long(), len(ROLES), rounding_mode="floor")
        key = "coins:" + ",".join(map(str, codes.tolist())) + ("" if draw == 0 else f"/{draw}")
        g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
        return torch.rand(len(roles), len(SWITCHES) + 1, generator=g, dtype=torch.float64)

    def hear(self, tracks: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What the decisions hear of each track: its K-weighted level (dB), that level relative to
        the power sum of the session's tracks, and whether it is stereo. ``tracks`` ``(B, N, 2, T)``,
        ``mask`` ``(B, N)`` -> three ``(B, N)``."""
        heard = k_weighted_db(tracks, self.sample_rate).masked_fill(~mask, -120.0)
        total = 10 * torch.log10((10 ** (heard / 10)).masked_fill(~mask, 0).sum(1, keepdim=True) + 1e-12)
        side = (tracks[..., 0, :] - tracks[..., 1, :]).pow(2).mean(-1)
        mid = (tracks[..., 0, :] + tracks[..., 1, :]).pow(2).mean(-1).clamp(min=1e-12)
        return heard, heard - total, side / mid > 1e-6

    def forward(
        self,
        tracks: torch.Tensor,
        mask: torch.Tensor,
        reference: torch.Tensor | None = None,
        roles: torch.Tensor | None = None,
    ):
        B, N = mask.shape
        if roles is None:
            roles = torch.full((B, N), encode_names(["track"])[0], dtype=torch.long, device=mask.device)
        base_roles = roles.long() % len(ROLES)
        track_u, master_u = self.base(tracks, mask, reference, roles=base_roles)
        heard, level_rel, stereo = self.hear(tracks, mask)
        if self.recipe == 1:
            style = torch.tensor([self.pick_style(roles[b][mask[b]], self.draw) for b in range(B)], device=mask.device)
        else:  # recipe 2 has no style (its draws are the coins)
            style = torch.zeros(B, dtype=torch.long, device=mask.device)
        dec, reverb = self.decisions(level_rel, stereo, mask, roles, style)
        coins = None
        if self.recipe == 2:
            coins = torch.full((B, N, len(SWITCHES) + 1), 0.5, dtype=torch.float64, device=mask.device)
            for b in range(B):
                coins[b, mask[b]] = self.coins(roles[b][mask[b]], self.draw).to(mask.device)
        new_u, new_master = self.assemble(
            track_u, master_u, dec, reverb, heard, level_rel, roles, mask, coins, stereo=stereo
        )
        if self.recipe == 2:
            power = self.power_spectrum(tracks)  # one FFT for the three steps that read the spectrum
            if self.highpass_loss_db > 0:
                new_u = self.spare_content(tracks, new_u, power=power)
            new_u, level_db = self.keep_loudness(tracks, heard, track_u, new_u, power=power)
            new_master = self.keep_wetness(level_db, mask, track_u, master_u, new_u, new_master)
            tone_db = None
            if self.keep_mix_tone:
                tone_db = self.eq_tone_change_db(tracks, heard, mask, track_u, new_u, power=power)
            new_master = self.keep_tone(mask, track_u, master_u, new_master, tone_db)
        return new_u, new_master

    @staticmethod
    def power_spectrum(tracks: torch.Tensor) -> torch.Tensor:
        """Each track's power spectrum, its channels added: ``(B, N, 2, T)`` -> ``(B, N, T // 2 + 1)``
        float64 (what :meth:`spare_content`, :meth:`keep_loudness` and :meth:`eq_tone_change_db`
        read; given to them, it is computed once)."""
        return (torch.fft.rfft(tracks.double(), dim=-1).abs() ** 2).sum(-2)

    def spare_content(self, tracks: torch.Tensor, track_u: torch.Tensor, power=None) -> torch.Tensor:
        """Recipe 2's taken high-passes lowered where they would cut into the instrument: each
        corner at most where it takes :attr:`highpass_loss_db` off the track's power (unweighted:
        the low end is what a high-pass thins). The engineers' corners were set on recorded
        tracks, below the instrument and above the rumble; a whole drum kit on one track keeps
        its kick. A lowered corner stays a taken high-pass (above :data:`HIGHPASS_ON_HZ`). The
        loss is the track's spectrum through the Butterworth's magnitude ``f^4 / (f^4 + fc^4)``
        (power), searched on a 1/24-octave grid up to 8 octaves above it. ``tracks``
        ``(B, N, 2, T)``, ``track_u`` ``(B, N, P)`` normalised (``power``:
        :meth:`power_spectrum`, computed when not given) -> ``track_u``."""
        T = tracks.shape[-1]
        col = S.TRACK.columns["highpass_hz"]
        spec = S.TRACK_SPECS[col]
        power = self.power_spectrum(tracks) if power is None else power
        # the spectrum in 1/24-octave bins from 10 Hz (below: one bin), a few hundred whatever T is
        dev = tracks.device
        freq = torch.fft.rfftfreq(T, 1.0 / self.sample_rate, dtype=torch.float64, device=dev)
        edges = 10.0 * 2.0 ** (torch.arange(0, 24 * 12, dtype=torch.float64, device=dev) / 24)
        centre = torch.cat([edges[:1] / 2, (edges[:-1] * edges[1:]).sqrt(), edges[-1:] * 2])
        idx = torch.bucketize(freq, edges).expand_as(power)
        power = torch.zeros(*power.shape[:-1], len(centre), dtype=power.dtype, device=dev).scatter_add_(-1, idx, power)
        corner = S.denormalize(track_u[..., col].double(), [spec])
        lo = HIGHPASS_ON_HZ * 1.01
        grid = lo * 2.0 ** (torch.arange(0, 24 * 8, dtype=torch.float64, device=dev) / 24)  # 8 octaves
        keep = centre**4 / (centre**4 + grid[:, None] ** 4)  # (G, bins)
        loss_db = -10 * torch.log10((power @ keep.T) / power.sum(-1, keepdim=True).clamp(min=1e-30) + 1e-30)
        # the loss grows with the corner: the highest corner within the limit (none: the lowest)
        ceiling = torch.where(loss_db <= self.highpass_loss_db, grid, torch.full_like(grid, lo)).amax(-1)
        taken = corner > HIGHPASS_ON_HZ
        lowered = torch.where(taken, torch.minimum(corner, ceiling), corner)
        out = track_u.clone()
        out[..., col] = S.normalize(lowered, [spec]).clamp(0, 1).to(out.dtype)
        return out

    def eq_tone_change_db(self, tracks, heard_db, mask, base_u, new_u, power=None) -> torch.Tensor:
        """How the new strips' EQs change the mix's tone against the base's: the power spectrum
        of the sum of the tracks (each through its strip's six EQ bands, at its strip's gain: input
        gain, compressor at its loudness, fader), new over base, in dB on
        :data:`mixdown.data.mixology.EQ_GRID_HZ` (1/3-octave averages). High-passes are left out:
        what they take off stays off. ``tracks`` ``(B, N, 2, T)``, ``heard_db``, ``mask``
        ``(B, N)``, ``base_u``, ``new_u`` ``(B, N, P)`` normalised (``power``:
        :meth:`power_spectrum`) -> ``(B, 96)``."""
        from mixdown.data.mixology import EQ_GRID_HZ
        from mixdown.dsp.filters import cascade_response
        from mixdown.dsp.strip import strip_coefficients

        B, N, _, T = tracks.shape
        dev = tracks.device
        eq_cols = [S.TRACK.columns[n] for n in EQ_DECISIONS]
        power = (self.power_spectrum(tracks) if power is None else power).masked_fill(~mask[..., None], 0.0)
        freq = torch.fft.rfftfreq(T, 1.0 / self.sample_rate, dtype=torch.float64, device=dev)
        grid = torch.as_tensor(EQ_GRID_HZ, dtype=torch.float64, device=dev)
        bands = ((freq[None] >= grid[:, None] * 2 ** (-1 / 6)) & (freq[None] < grid[:, None] * 2 ** (1 / 6))).double()
        mix = []
        for u in (base_u, new_u):
            v = S.denormalize(u.double(), S.TRACK_SPECS, self.sample_rate)
            eq_values = v[..., eq_cols].reshape(B * N, -1).detach().cpu().numpy()  # the shapes: constants
            b, a = strip_coefficients(eq_values, EQ_DECISIONS, self.sample_rate)
            h = cascade_response(torch.from_numpy(b), torch.from_numpy(a), T).reshape(B, N, -1).to(dev)
            gain_db = v[..., S.TRACK.columns["input_gain_db"]] + self.compressor_gain_db(heard_db, v)
            gain_db = gain_db + v[..., S.TRACK.columns["fader_db"]]
            spectrum = (power * h.abs().double() ** 2 * 10 ** (gain_db[..., None] / 10)).sum(1)  # (B, F)
            mix.append(spectrum @ bands.T / bands.sum(-1).clamp(min=1.0))  # (B, 96)
        return 10 * torch.log10((mix[1] + 1e-30) / (mix[0] + 1e-30))

    def compressor_gain_db(self, heard_db: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Each strip's compressor gain at its track's loudness (``heard_db`` plus its input gain),
        make-up included (0 when off): physical track values ``v`` ``(B, N, P)`` -> ``(B, N)``."""
        col = S.TRACK.columns
        level = heard_db.double() + v[..., col["input_gain_db"]]
        on = v[..., col["compressor.ratio"]] > 1.0
        threshold, ratio, knee = (v[..., col[f"compressor.{k}"]] for k in ("threshold_db", "ratio", "knee_db"))
        gr = static_gain_db(level, threshold, ratio, knee)
        return torch.where(on, gr, torch.zeros_like(gr)) + v[..., col["compressor.makeup_db"]]

    def keep_tone(self, mask, base_u, base_master_u, new_master_u, tone_db=None):
        """Recipe 2's master EQ: the base's master EQ followed by the tone the base gave every
        track alike (the median of its track EQs' settings: the same on every strip, it acts as
        one EQ on the bus), fitted as one six-band EQ (:func:`mixdown.data.mixology.fit_eqs`).
        The strips' EQs are then the engineers'; the mix keeps the base's overall tone (it learnt
        it from human-mixed songs). With ``tone_db`` ``(B, 96)`` (:meth:`eq_tone_change_db`,
        :attr:`keep_mix_tone`): the base's master EQ less the whole change the new strips' EQs
        make to the mix's spectrum (the shared EQ's removal, and the engineers' moves as they add
        up over the tracks, at most 12 dB): each strip keeps its EQ relative to the others, the
        mix the base's tone. ``mask`` ``(B, N)``, ``base_u`` ``(B, N, P)``, master values
        ``(B, M)``, normalised -> the new master values."""
        from mixdown.data.mixology import fit_eqs

        names = EQ_DECISIONS
        tcols = [S.TRACK.columns[n] for n in names]
        mcols = [S.MASTER.columns[n] for n in names]
        mspecs = [S.MASTER_SPECS[c] for c in mcols]
        starts, bands = [], []
        kinds = list(S.EQ_BAND_TYPES)
        for b in range(mask.shape[0]):
            tracks = S.denormalize(base_u[b][mask[b]].double(), S.TRACK_SPECS, self.sample_rate)[:, tcols]
            shared = tracks.median(0).values.reshape(S.N_EQ_BANDS, 3)
            master = S.denormalize(base_master_u[b].double(), S.MASTER_SPECS, self.sample_rate)[mcols]
            master = master.reshape(S.N_EQ_BANDS, 3)
            # with the mix's tone change measured (it holds the shared EQ's removal): the master's own
            eqs = (master, shared) if tone_db is None else (master,)
            bands.append([(k, *map(float, band)) for eq in eqs for k, band in zip(kinds, eq.detach())])
            start = master.clone()
            start[:, 1] = (master[:, 1] + shared[:, 1]).clamp(-15.0, 15.0)
            starts.append(dict(zip(names, map(float, start.detach().reshape(-1)))))
        out = new_master_u.clone()
        extra = None if tone_db is None else (-tone_db).clamp(-12.0, 12.0).detach().cpu().numpy()
        for b, (vals, _) in enumerate(fit_eqs(starts, bands, steps=200, extra_db=extra)):  # one fit for the batch
            fitted = torch.tensor([vals[n] for n in names], dtype=torch.float64)
            out[b, mcols] = S.normalize(fitted, mspecs).clamp(0, 1).to(out.dtype)
        return out

    def keep_wetness(self, level_db, mask, base_u, base_master_u, new_u, new_master_u):
        """Recipe 2's reverb return set so the reverb gets as much signal as the base model's did
        (the sum over tracks of each one's power after its strip, times its send gain): which
        tracks are sent, and how much relative to each other, is the engineers'; how wet, the
        base's. :attr:`wetness` ``"bus"``: summed over all tracks (the mix as wet as the base's,
        its whole reverb on the few tracks the engineers send); ``"sent"``: over the tracks the
        engineers send (each as wet as the base made it; the ones they leave dry stay dry).
        MixologyDB records sends but not the returns (all 0 dB), so the absolute wetness cannot
        be learnt from it; the reverb's impulse response has unit energy, so its
        settings do not change it. ``level_db`` (each strip's output, the same for both:
        :meth:`keep_loudness`), ``mask`` ``(B, N)``, track values ``(B, N, P)``, master values
        ``(B, M)``, normalised -> the new master values."""
        col, mcol = S.TRACK.columns, S.MASTER.columns
        base = S.denormalize(base_u.double(), S.TRACK_SPECS, self.sample_rate)
        new = S.denormalize(new_u.double(), S.TRACK_SPECS, self.sample_rate)
        counted = mask if self.wetness == "bus" else mask & (new[..., col["reverb_send_db"]] > SEND_ON_DB)

        def bus_db(v):
            p = (10 ** ((level_db + v[..., col["reverb_send_db"]]) / 10)).masked_fill(~counted, 0.0)
            return 10 * torch.log10(p.sum(-1) + 1e-30)

        spec = S.MASTER_SPECS[mcol["reverb.return_db"]]
        base_return = S.denormalize(base_master_u[..., mcol["reverb.return_db"]].double(), [spec])
        ret = (base_return + bus_db(base) - bus_db(new)).clamp(spec.lo, spec.hi)
        ret = torch.where(counted.any(-1), ret, base_return)  # nothing sent: the base's return
        out = new_master_u.clone()
        out[..., mcol["reverb.return_db"]] = S.normalize(ret, [spec]).to(out.dtype)
        return out

    def keep_loudness(self, tracks, heard_db, base_u, new_u, power=None):
        """Recipe 2's faders moved so each strip leaves its track as loud (K-weighted) as the base
        model's strip did: the base's balance as heard, not just its fader values. The filters'
        change from the track's spectrum through both strips' high-pass and EQ, the compressor's
        from both static curves (and make-ups) at the track's loudness. ``tracks`` ``(B, N, 2, T)``,
        ``heard_db`` ``(B, N)``, ``base_u``, ``new_u`` ``(B, N, P)`` normalised -> ``new_u``
        with its faders moved, and each strip's output level (dB, K-weighted, up to one constant)
        ``(B, N)`` (``power``: :meth:`power_spectrum`, computed when not given)."""
        from mixdown.dsp.filters import cascade_response
        from mixdown.dsp.strip import strip_coefficients

        B, N, _, T = tracks.shape
        col = S.TRACK.columns
        power = self.power_spectrum(tracks) if power is None else power
        power = power * k_response(T, self.sample_rate, tracks.device).abs() ** 2
        energy = []
        phys = []
        for u in (base_u, new_u):
            v = S.denormalize(u.double(), S.TRACK_SPECS, self.sample_rate)
            phys.append(v)
            b, a = strip_coefficients(v.reshape(B * N, -1).detach().cpu().numpy(), S.TRACK_NAMES, self.sample_rate)
            h = cascade_response(torch.from_numpy(b), torch.from_numpy(a), T).reshape(B, N, -1).to(tracks.device)
            energy.append((power * h.abs().double() ** 2).sum(-1).clamp(min=1e-30))
        filters_db = 10 * torch.log10(energy[1] / energy[0])

        base, new = phys
        base_comp_db = self.compressor_gain_db(heard_db, base)
        shift = filters_db + self.compressor_gain_db(heard_db, new) - base_comp_db
        spec = S.TRACK_SPECS[col["fader_db"]]
        fader = (new[..., col["fader_db"]] - shift).clamp(spec.lo, spec.hi)
        out = new_u.clone()
        out[..., col["fader_db"]] = S.normalize(fader, [spec]).to(out.dtype)
        level_db = 10 * torch.log10(energy[0]) + base[..., col["input_gain_db"]] + base_comp_db
        return out, level_db + base[..., col["fader_db"]]

    def assemble(self, track_u, master_u, dec, reverb, heard_db, level_rel_db, roles, mask, coins=None, stereo=None):
        """The decisions written into the whole table (normalised ``(B, N, P)``, ``(B, M)``);
        recipe 2 takes each switch where its coin ``(B, N, len(SWITCHES) + 1)`` falls below its
        probability and draws the EQ by the last coin (no coins: the switches whose probability
        is above one half, each part's first EQ)."""
        if self.recipe == 2:
            return self._assemble_2(track_u, master_u, dec, reverb, heard_db, roles, mask, coins, stereo)
        track_u, master_u = track_u.clone(), master_u.clone()
        phys = {name: lo + dec[..., i] * (hi - lo) for i, (name, lo, hi) in enumerate(DECISIONS)}
        col = S.TRACK.columns
        for j, name in enumerate(TABLE_DECISIONS):
            track_u[..., col[name]] = dec[..., len(DECISIONS) + j]

        def put(name, value_db):
            spec = S.TRACK_SPECS[col[name]]
            track_u[..., col[name]] = ((value_db - spec.lo) / (spec.hi - spec.lo)).clamp(0, 1)

        # the bus at the level the master was set for: the engineer's balance, shifted so the tracks'
        # power sum (before processing) equals the base's (its input gains and faders)
        def phys_of(name):
            spec = S.TRACK_SPECS[col[name]]
            return spec.lo + track_u[..., col[name]] * (spec.hi - spec.lo)

        def power_sum(level_db):
            return 10 * torch.log10((10 ** (level_db / 10)).masked_fill(~mask, 0).sum(1, keepdim=True) + 1e-30)

        fader = phys["level_rel_db"] - level_rel_db
        base_level = heard_db + phys_of("input_gain_db") + phys_of("fader_db")
        fader = fader + power_sum(base_level) - power_sum(heard_db + fader)
        put("input_gain_db", torch.zeros_like(heard_db))
        put("fader_db", fader)
        put("compressor.threshold_db", heard_db + phys["threshold_rel_db"])
        put("pan", phys["abs_pan"] * self.pan_signs(roles, mask).to(heard_db.dtype))
        mcol = S.MASTER.columns
        for j, name in enumerate(S.REVERB_MASTER_NAMES):
            master_u[..., mcol[name]] = reverb[..., j]
        return track_u, master_u

    @staticmethod
    def line_up(roles: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """How many tracks of the session share each track's part, and whether it is the first of
        them (a lone lead vocal is not a double): ``(B, N)`` each."""
        part = parts_of(roles).masked_fill(~mask, -1)
        same = (part[:, :, None] == part[:, None, :]) & mask[:, None, :]
        earlier = torch.tril(torch.ones(part.shape[1], part.shape[1], dtype=torch.bool, device=part.device), -1)
        return same.sum(-1), ~(same & earlier).any(-1)

    @staticmethod
    def kit_without_kick(roles: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Which tracks are overheads (a name like "OH L", or a whole kit: "drums") in a session
        with no kick track: ``(B, N)`` bool."""
        part = parts_of(roles)
        kick = ((part == PARTS.index("kick")) & mask).any(-1, keepdim=True)
        return (part == PARTS.index("overheads")) & mask & ~kick

    @staticmethod
    def pan_signs(roles: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """+-1 per track: the side a name says; else alternating within each part, the parts'
        first tracks alternating too, in order of appearance (the first guitar left, the first
        keys right, the second guitar right ...)."""
        code = torch.div(roles.long(), len(ROLES), rounding_mode="floor")
        part, side = torch.div(code, N_SIDES, rounding_mode="floor"), code % N_SIDES - 1
        signs = torch.ones_like(side, dtype=torch.float32)
        for b in range(roles.shape[0]):
            seen: dict[int, int] = {}
            order: dict[int, int] = {}
            for i in range(roles.shape[1]):
                if not mask[b, i]:
                    continue
                if side[b, i] != 0:
                    signs[b, i] = float(side[b, i])
                    continue
                p = int(part[b, i])
                order.setdefault(p, len(order))
                k = seen.get(p, 0)
                seen[p] = k + 1
                signs[b, i] = -1.0 if (k + order[p]) % 2 == 0 else 1.0
        return signs

    def _assemble_2(self, track_u, master_u, dec, reverb, heard_db, roles, mask, coins, stereo=None):
        """Recipe 2 (see the module): the base's balance, the engineers' median settings, each
        switch taken where its coin falls below its probability, an engineer's EQ on the part
        scaled by ``eq_scale``."""
        track_u, master_u = track_u.clone(), master_u.clone()
        col = S.TRACK.columns
        specs = {n: S.TRACK_SPECS[col[n]] for n in S.TRACK_NAMES}
        n_fixed = len(DECISIONS) + len(TABLE_DECISIONS)
        rel = {name: lo + dec[..., i].double() * (hi - lo) for i, (name, lo, hi) in enumerate(DECISIONS)}
        v = {n: S.denormalize(dec[..., len(DECISIONS) + j].double(), [specs[n]]) for j, n in enumerate(TABLE_DECISIONS)}
        prob = dec[..., n_fixed:].double()
        part = parts_of(roles)
        if self.switch_shrink > 0:  # shrunk towards the part's odds where the training songs have the part
            known = (self.part_tracks[part] > 0)[..., None]
            odds = self.part_odds[part].double()
            prob = torch.where(known, (1 - self.switch_shrink) * prob + self.switch_shrink * odds, prob)
        if coins is None:
            coins = torch.cat([torch.full_like(prob, 0.5), torch.zeros_like(prob[..., :1])], -1)
        coins = coins.to(prob.device)
        taken = prob > coins[..., : len(SWITCHES)]
        if self.kit_low_end:  # overheads with no kick beside them hold the kit's low end: no high-pass
            hp = list(SWITCHES).index("highpass")
            taken[..., hp] = taken[..., hp] & ~self.kit_without_kick(roles, mask).to(taken.device)
        # the EQ: one of the engineers' EQs on this part (its gains scaled by eq_scale)
        size = self.eq_bank_size[part]
        pick = (coins[..., -1] * size).long().clamp(max=(size - 1).clamp(min=0))
        eq = self.eq_bank[part, pick].double()
        neutral = S.neutral_track_values(self.sample_rate)
        for j, name in enumerate(EQ_DECISIONS):
            v[name] = torch.where(size > 0, eq[..., j], torch.full_like(eq[..., j], neutral[name]))
        # the track's level at its compressor: the analysis window's, after the base's input gain
        at_comp = heard_db.double() + S.denormalize(
            track_u[..., col["input_gain_db"]].double(), [specs["input_gain_db"]]
        )
        for i in range(S.N_EQ_BANDS):
            v[f"eq.{i}.gain_db"] = v[f"eq.{i}.gain_db"] * self.eq_scale
        v["highpass_hz"] = v["highpass_hz"].clamp(min=HIGHPASS_ON_HZ * 1.01)
        v["reverb_send_db"] = v["reverb_send_db"].clamp(min=SEND_ON_DB + 1.0)
        if self.compressor_scale < 1.0:  # the gain reduction above the threshold (slope 1 - 1/ratio) scaled
            slope = self.compressor_scale * (1.0 - 1.0 / v["compressor.ratio"].clamp(min=1.0))
            v["compressor.ratio"] = 1.0 / (1.0 - slope)
        # just inside what counts as taken (the table's float32 round trip must not fall below it)
        v["compressor.ratio"] = v["compressor.ratio"].clamp(min=COMPRESSOR_ON_RATIO * 1.01)
        v["compressor.threshold_db"] = at_comp + rel["threshold_rel_db"].clamp(
            max=COMPRESSOR_ON_MAX_THRESHOLD_REL_DB - 1
        )
        v["compressor.makeup_db"] = -static_gain_db(
            at_comp + MAKEUP_AT_DB, v["compressor.threshold_db"], v["compressor.ratio"], v["compressor.knee_db"]
        )
        for k, off in enumerate(SWITCHES.values()):
            for name, value in off.items():
                v[name] = torch.where(taken[..., k], v[name], torch.full_like(v[name], value))
        v["pan"] = rel["abs_pan"] * self.pan_signs(roles, mask).double()
        if self.stereo_centred and stereo is not None:  # a stereo track's pan is its balance: left alone
            v["pan"] = torch.where(stereo.to(v["pan"].device).bool(), torch.zeros_like(v["pan"]), v["pan"])
        for name, value in v.items():
            track_u[..., col[name]] = S.normalize(value, [specs[name]]).clamp(0, 1).to(track_u.dtype)
        mcol = S.MASTER.columns
        for j, name in enumerate(S.REVERB_MASTER_NAMES):
            master_u[..., mcol[name]] = reverb[..., j]
        return track_u, master_u

