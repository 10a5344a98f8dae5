"""``sorabeat top``: a live terminal view of Sora nodes, polled by the Sora input's own
pollers (stats and channels), rendered by a pure function, painted with curses."""
