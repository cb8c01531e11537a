"""Notices: the one model, its v02 and v03 codecs, and the topic <-> path mapping. Pure, no I/O."""
