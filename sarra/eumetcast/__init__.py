"""The EUMETCast data exchange: move_it_server, move_it_client and move_it_mirror.

Reception stations announce the files they receive over ZeroMQ in posttroll's message format;
clients ask for a push of the files they need, and the first announcement of a file wins.
Configs and wire format are those of pytroll's trollmoves, so stations can switch one by one.
"""
