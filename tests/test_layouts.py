"""Unit tests of `hf_rmt.core.layouts`: the row formats of a segment step."""

from __future__ import annotations

import torch
from torch import nn

from hf_rmt.core.layouts import DecoderLayout, EncoderLayout, Seq2SeqLayout, get_layout
from hf_rmt.core.segments import SegmentStep


HIDDEN, M = 4, 2


def step_of(lengths, max_length):
    lengths = torch.tensor(lengths)
    uniform = bool((lengths == max_length).all())
    return SegmentStep(None, torch.zeros_like(lengths), lengths, max_length, uniform, torch.zeros_like(lengths).bool())


def filled(batch, length, value):
    return torch.full((batch, length, HIDDEN), float(value))


def test_row_lengths_and_the_largest_segment():
    assert EncoderLayout(M).row_length(5) == 5 + M + 3 and EncoderLayout(M).largest_segment(64) == 64 - M - 3
    assert DecoderLayout(M).row_length(5) == 5 + 2 * M and DecoderLayout(M).largest_segment(64) == 64 - 2 * M
    assert (
        isinstance(get_layout("encoder", M, 1, 2), EncoderLayout)
        and get_layout("encoder", M, 1, 2).content_offset == M + 2
    )
    assert isinstance(get_layout("decoder", M), DecoderLayout) and get_layout("decoder", M).content_offset == M


def test_encoder_rows_put_special_tokens_around_memory_and_segment():
    layout = EncoderLayout(M, 1, 2)
    embeddings = nn.Embedding(5, HIDDEN)
    specials = layout.special_embeddings(embeddings, filled(1, 1, 0))
    assert torch.equal(specials, embeddings(torch.tensor([1, 2])))
    embeds, mask, positions = layout.build(filled(2, M, 7), filled(2, 3, 9), step_of([3, 3], 3), specials)
    assert embeds.shape == (2, layout.row_length(3), HIDDEN) and mask is None and positions is None
    assert torch.equal(embeds[:, 0], specials[0].expand(2, -1)) and torch.equal(
        embeds[:, -1], specials[1].expand(2, -1)
    )
    assert torch.equal(layout.read_memory(embeds), filled(2, M, 7))
    assert torch.equal(layout.read_content(embeds, 3), filled(2, 3, 9))


def test_encoder_padding_goes_after_the_closing_separator():
    layout = EncoderLayout(M, 1, 2)
    specials = torch.stack([torch.full((HIDDEN,), 1.0), torch.full((HIDDEN,), 2.0)])
    embeds, mask, _ = layout.build(filled(2, M, 7), filled(2, 3, 9), step_of([3, 1], 3), specials)
    assert mask.tolist() == [[1] * 8, [1] * 6 + [0, 0]]
    assert torch.equal(embeds[1, M + 3], specials[1])  # [SEP] right after the one real token


def test_decoder_padding_sits_between_read_memory_and_segment_and_positions_skip_it():
    layout = DecoderLayout(M)
    content = torch.cat([filled(2, 1, 0), filled(2, 2, 9)], dim=1)  # row 1 is left-padded by one
    embeds, mask, positions = layout.build(filled(2, M, 7), content, step_of([3, 2], 3), None)
    assert mask.tolist() == [[1, 1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 1, 1, 1]]
    assert positions.tolist() == [[0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 2, 3, 4, 5]]
    assert torch.equal(layout.read_memory(embeds), filled(2, M, 7))  # write memory: always the last m positions
    assert layout.content_positions(3, torch.device("cpu")).tolist() == [2, 3, 4]


def test_generation_prompt_moves_padding_in_front_of_memory():
    layout = DecoderLayout(M)
    content = torch.cat([filled(1, 1, 0), filled(1, 2, 9)], dim=1)
    rows, mask = layout.generation_prompt(filled(1, M, 7), content, torch.tensor([[False, True, True]]))
    assert mask.tolist() == [[0, 1, 1, 1, 1]]
    assert rows[0, :, 0].tolist() == [0.0, 7.0, 7.0, 9.0, 9.0]


def test_seq2seq_rows_open_with_bos_only_when_the_backbone_has_one():
    embeddings = nn.Embedding(5, HIDDEN)
    bart, t5 = get_layout("seq2seq", M, 0, 2), get_layout("seq2seq", M, None, 1)
    assert isinstance(bart, Seq2SeqLayout) and (bart.row_length(5), t5.row_length(5)) == (5 + M + 2, 5 + M + 1)
    assert (bart.content_offset, t5.content_offset) == (M + 1, M) and bart.largest_segment(64) == 64 - M - 2
    for layout, ids in ((bart, [0, 2]), (t5, [1])):
        specials = layout.special_embeddings(embeddings, filled(1, 1, 0))
        assert torch.equal(specials, embeddings(torch.tensor(ids)))
        embeds, mask, positions = layout.build(filled(2, M, 7), filled(2, 3, 9), step_of([3, 3], 3), specials)
        assert embeds.shape == (2, layout.row_length(3), HIDDEN) and mask is None and positions is None
        first = specials[0].expand(2, -1) if layout is bart else filled(2, M, 7)[:, 0]  # BART's BOS; T5's memory
        assert torch.equal(embeds[:, 0], first)
        assert torch.equal(embeds[:, -1], specials[-1].expand(2, -1))  # EOS closes the segment
        assert torch.equal(layout.read_memory(embeds), filled(2, M, 7))
        assert torch.equal(layout.read_content(embeds, 3), filled(2, 3, 9))
    assert t5.row_description == "memory + segment + [EOS]" and "[BOS]" in bart.row_description


def test_seq2seq_padding_goes_after_the_closing_eos():
    layout = get_layout("seq2seq", M, None, 1)
    specials = torch.full((1, HIDDEN), 1.0)
    embeds, mask, _ = layout.build(filled(2, M, 7), filled(2, 3, 9), step_of([3, 1], 3), specials)
    assert mask.tolist() == [[1] * 6, [1] * 4 + [0, 0]]
    assert torch.equal(embeds[1, M + 1], specials[0])  # EOS right after the one real token; the rest is masked
    assert torch.equal(layout.row_mask(step_of([3, 1], 3), 6), mask) and layout.row_mask(step_of([3, 3], 3), 6) is None
