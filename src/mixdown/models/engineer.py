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
depends on how loud the session was recorded. Every track gets the same input gain (0 dB before
the analysis windows' song gain, which the predictor adds back): the engineers' compressors see
the raw track, and the balance is all in the faders, shifted together so the bus reaches the
master at the level the base model set its master for.
"""

from __future__ import annotations

import zlib

import torch
from torch import nn

from mixdown.data.roles import PARTS, ROLES, part_of, role_indices, side_of
from mixdown.models.base import MixModel
from mixdown.models.mixformer import Mixformer
from mixdown.params import spec as S

#: what the decision head predicts, in order; ``level_rel_db`` and ``threshold_rel_db`` are its own
#: (level relative to the mix's power sum, threshold relative to the track's loudness), the rest
#: are rows of the parameter table (normalised as the table says)
DECISIONS = (("level_rel_db", -45.0, 5.0), ("abs_pan", 0.0, 1.0), ("threshold_rel_db", -40.0, 15.0))
TABLE_DECISIONS = (
    ("highpass_hz",)
    + tuple(f"eq.{i}.{k}" for i in range(S.N_EQ_BANDS) for k in ("freq_hz", "gain_db", "q"))
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


def encode_names(names) -> list[int]:
    """Each track's (part, side, role) from its name as one index (what ``roles`` carries)."""
    return [
        (PARTS.index(part_of(n)) * N_SIDES + side_of(n) + 1) * len(ROLES) + r
        for n, r in zip(names, role_indices(list(names)))
    ]


def k_weighted_db(x: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Integrated loudness as BS.1770-4 gates it, less its -0.691 dB offset (so LUFS = this -
    0.691): the K filter's magnitude applied in the frequency domain, 400 ms blocks with 75 %
    overlap, the absolute (-70 LUFS) and relative (-10 LU) gates. ``x`` ``(..., C, T)``, channels
    summed -> ``(...)`` (dB; -120 where every block is gated, a whole window under 400 ms is one
    block)."""
    from mixdown.measure.loudness import k_weighting_sos

    T = x.shape[-1]
    spec = torch.fft.rfft(x.double(), dim=-1)
    f = torch.fft.rfftfreq(T, 1.0 / sample_rate, dtype=torch.float64, device=x.device)
    w = torch.exp(-2j * torch.pi * f / sample_rate)
    h = torch.ones_like(w)
    for b0, b1, b2, _, a1, a2 in k_weighting_sos(sample_rate).tolist():
        h = h * (b0 + b1 * w + b2 * w * w) / (1 + a1 * w + a2 * w * w)
    y = torch.fft.irfft(spec * h, n=T, dim=-1)
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
    ):
        super().__init__(sample_rate)
        self.base = Mixformer(sample_rate, dim, layers, heads, hidden, use_roles=use_roles)
        self.part_embedding = nn.Embedding(len(PARTS) * N_SIDES, d_model)
        self.style_embedding = nn.Embedding(n_styles, d_model)
        self.register_buffer("style_weights", torch.ones(n_styles))
        self.features = nn.Linear(5, d_model)
        layer = nn.TransformerEncoderLayer(d_model, 4, 2 * d_model, dropout=0.0, batch_first=True, norm_first=True)
        self.decide = nn.TransformerEncoder(layer, decide_layers, enable_nested_tensor=False)
        n_out = len(DECISIONS) + len(TABLE_DECISIONS)
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
        and the master reverb ``(B, 6)`` (table-normalised). Inputs: ``level_rel_db``, ``stereo``
        ``(B, N)``, ``roles`` ``(B, N)`` (:func:`encode_names`), ``style`` ``(B,)``."""
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
        tok = (
            self.part_embedding(torch.div(roles.long(), len(ROLES), rounding_mode="floor"))
            + self.features(feats)
            + self.style_embedding(style.long())[:, None]
        )
        h = self.decide(tok, src_key_padding_mask=~mask)
        w = mask.to(h.dtype)[..., None]
        pooled = (h * w).sum(1) / w.sum(1).clamp(min=1.0)
        return torch.sigmoid(self.track_out(h)), torch.sigmoid(self.reverb_out(pooled))

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
        style = torch.tensor([self.pick_style(roles[b][mask[b]], self.draw) for b in range(B)], device=mask.device)
        dec, reverb = self.decisions(level_rel, stereo, mask, roles, style)
        return self.assemble(track_u, master_u, dec, reverb, heard, level_rel, roles, mask)

    def assemble(self, track_u, master_u, dec, reverb, heard_db, level_rel_db, roles, mask):
        """The decisions written into the whole table (normalised ``(B, N, P)``, ``(B, M)``)."""
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
        part = torch.div(roles.long(), len(ROLES) * N_SIDES, rounding_mode="floor").masked_fill(~mask, -1)
        same = (part[:, :, None] == part[:, None, :]) & mask[:, None, :]
        earlier = torch.tril(torch.ones(part.shape[1], part.shape[1], dtype=torch.bool, device=part.device), -1)
        return same.sum(-1), ~(same & earlier).any(-1)

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
