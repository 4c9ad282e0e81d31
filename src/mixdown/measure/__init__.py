"""Measurements of audio and settings: loudness (BS.1770, EBU R128), levels where a track plays, and mix metrics."""
