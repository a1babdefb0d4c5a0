"""Independent reference decoders of published formats, used only by the tests."""
