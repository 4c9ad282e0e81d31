"""Measurements of audio and settings: loudness (BS.1770, EBU R128) and mix metrics."""
