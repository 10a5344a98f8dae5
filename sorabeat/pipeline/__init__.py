"""The composition root: the settings tree of every part, and input -> spool -> output."""
