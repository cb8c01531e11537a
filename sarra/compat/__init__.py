"""The established plugin interfaces: v2's parent and parent.msg, its plugin files and the
modules they import under their historic names; adapters onto the flow."""
