// Entry point of the spec library: implemented with the YAML layer, lowering and validation.
