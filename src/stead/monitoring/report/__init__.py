"""The monitoring report: one self-contained HTML file, and the one-line headline of
each signal that ``stead monitor show`` prints too."""
